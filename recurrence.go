package afterhours

import (
	"fmt"
	"slices"
	"time"
)

// Repeat words of a task's "repeat" field.
const (
	RepeatNone          = "none"           // once, at start
	RepeatMinute        = "minute"         // every minute from start, by elapsed time
	RepeatQuarterHourly = "quarter-hourly" // every 15 minutes from start, by elapsed time
	RepeatHourly        = "hourly"         // every hour from start, by elapsed time
	RepeatQuarterDaily  = "quarter-daily"  // at start's wall time and every 6 hours of wall time after it, daily
	RepeatDaily         = "daily"          // at start's wall time every day
	RepeatWeekly        = "weekly"         // at start's wall time on start's day of the week
	RepeatMonthly       = "monthly"        // at start's wall time on start's day of the month, skipped where missing
)

// recurrence is when a recurring task is due: a cron spec or a repeat,
// never before start.
type recurrence struct {
	start  time.Time // no occurrence before it; zero when none given
	cron   cronSpec  // for schedules and wall-clock repeats
	loc    *time.Location
	id     int32      // index among the profile's distinct recurrences
	repeat repeatWord // 0 for a cron schedule
}

// once reports whether the recurrence is a single occurrence, at start
// (repeat none).
func (r *recurrence) once() bool { return r.repeat == repeatNone }

// repeatWord is a task's repeat, as one byte: a profile of many distinct
// schedules holds one recurrence for each.
type repeatWord uint8

// The repeat words, in the order of repeatNames.
const (
	repeatCron repeatWord = iota // a cron schedule
	repeatNone
	repeatMinute
	repeatQuarterHourly
	repeatHourly
)

var repeatNames = [...]string{"", RepeatNone, RepeatMinute, RepeatQuarterHourly, RepeatHourly,
	RepeatQuarterDaily, RepeatDaily, RepeatWeekly, RepeatMonthly}

// String returns the repeat as the profile wrote it, "" for none.
func (w repeatWord) String() string { return repeatNames[w] }

// repeatWordOf returns the word s is, 0 when it is none of them.
func repeatWordOf(s string) repeatWord {
	for i, w := range repeatNames {
		if i > 0 && w == s {
			return repeatWord(i)
		}
	}
	return 0
}

// maxSearch bounds how far ahead a next occurrence is looked for: a leap-day
// spec that must also fall on a given weekday fires within 28 years, but
// nothing a maintenance schedule needs lies that far.
const maxSearch = 5 * 366 * 24 * time.Hour

// step returns the step of an elapsed-time repeat, 0 for other
// recurrences.
func (r *recurrence) step() time.Duration {
	switch r.repeat {
	case repeatMinute:
		return time.Minute
	case repeatQuarterHourly:
		return 15 * time.Minute
	case repeatHourly:
		return time.Hour
	}
	return 0
}

func (r *recurrence) elapsed() bool { return r.step() > 0 }

// compileRecurrence builds the recurrence of a task from its schedule,
// repeat and start fields, in the site's zone.
func compileRecurrence(ps *problems, tp string, t *Task, loc *time.Location) *recurrence {
	if t.Schedule == "" && t.Repeat == "" {
		if t.Start != "" {
			ps.add(tp+".start", "a start needs a schedule or a repeat")
		}
		return nil
	}
	r := &recurrence{loc: loc}
	if t.Start != "" {
		st, err := time.Parse(time.RFC3339, t.Start)
		if err != nil {
			ps.add(tp+".start", "invalid start %q: want an RFC 3339 instant such as 2026-11-01T00:05:00Z", t.Start)
			return nil
		}
		r.start = st
	}
	if t.Schedule != "" {
		if t.Repeat != "" {
			ps.add(tp+".repeat", "a task has a schedule or a repeat, not both")
			return nil
		}
		c, err := parseCron(t.Schedule)
		if err != nil {
			ps.add(tp+".schedule", "%v", err)
			return nil
		}
		r.cron = c
		return r
	}
	if t.Start == "" {
		ps.add(tp+".start", "required with repeat: the absolute instant of the first occurrence")
		return nil
	}
	r.repeat = repeatWordOf(t.Repeat)
	if loc == nil {
		return r // the site's zone is broken; reported there
	}
	local := r.start.In(loc)
	h, m, s := local.Clock()
	one := func(v int) uint64 { return 1 << uint(v) }
	r.cron = cronSpec{minute: one(m), hour: uint32(one(h)), dom: ^uint32(0) &^ 1, month: ^uint16(0) &^ 1,
		dow: 0x7f, domStar: true, dowStar: true, second: uint8(s)}
	switch t.Repeat {
	case RepeatNone:
		// Once: see next.
	case RepeatMinute, RepeatQuarterHourly, RepeatHourly:
		// By elapsed time: see step.
	case RepeatQuarterDaily:
		r.cron.hour = uint32(one(h) | one((h+6)%24) | one((h+12)%24) | one((h+18)%24))
	case RepeatDaily:
	case RepeatWeekly:
		r.cron.dow, r.cron.dowStar = uint8(one(int(local.Weekday()))), false
	case RepeatMonthly:
		r.cron.dom, r.cron.domStar = uint32(one(local.Day())), false
	default:
		ps.add(tp+".repeat", "unknown repeat %q: want none, minute, quarter-hourly, hourly, quarter-daily, daily, weekly or monthly", t.Repeat)
		return nil
	}
	return r
}

// next returns the first occurrence at or after from and before limit.
func (r *recurrence) next(from, limit time.Time, days *dayCache) (time.Time, bool) {
	if from.Before(r.start) {
		from = r.start
	}
	if !from.Before(limit) {
		return time.Time{}, false
	}
	switch {
	case r.once():
		if from.Equal(r.start) {
			return r.start, true
		}
		return time.Time{}, false
	case r.elapsed():
		step := r.step()
		k := (from.Sub(r.start) + step - 1) / step
		t := r.start.Add(k * step)
		return t, t.Before(limit)
	}
	first, last := days.dayOf(from, r.loc), days.dayOf(limit, r.loc)
	if !days.get(first-1, r.loc).plain {
		first-- // a time of the day before in a gap may move onto this one
	}
	c := &r.cron
	for z := first; z <= last; {
		d, wd := dateOfDay(z), weekdayOf(z)
		if skip := c.skipDays(d, wd); skip > 0 {
			z += int64(skip)
			continue
		}
		if c.matches(d, wd) {
			if t, ok := c.firstOn(days.get(z, r.loc), from, r.loc); ok {
				return t, t.Before(limit)
			}
		}
		z++
	}
	return time.Time{}, false
}

// each calls fn for every occurrence in [from, limit), in order. Each
// instant comes once, even where two wall times resolve to one instant:
// every call of next starts just after the last instant.
func (r *recurrence) each(from, limit time.Time, days *dayCache, fn func(time.Time)) {
	for {
		t, ok := r.next(from, limit, days)
		if !ok {
			return
		}
		fn(t)
		from = t.Add(time.Nanosecond)
	}
}

// firstOn returns the first occurrence of the spec on a matching date at or
// after from.
func (c *cronSpec) firstOn(dc *dayClock, from time.Time, loc *time.Location) (time.Time, bool) {
	if dc.plain {
		h, m := 0, 0
		if from.After(dc.midnight) {
			off := from.Sub(dc.midnight)
			if off >= 24*time.Hour {
				return time.Time{}, false
			}
			secs := int((off + time.Second - 1) / time.Second)
			mins := max(0, (secs-int(c.second)+59)/60)
			h, m = mins/60, mins%60
		}
		h, m, ok := c.firstClock(h, m)
		if !ok {
			return time.Time{}, false
		}
		return dc.midnight.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(c.second)*time.Second), true
	}
	// Near an offset change wall time is not monotonic (a time in a gap
	// moves past the times just after it): every time of the day, resolved
	// and sorted once per date and spec, then the first at or after from.
	times := dc.sortedTimes(c, loc)
	i, _ := slices.BinarySearchFunc(times, from, func(t, from time.Time) int { return t.Compare(from) })
	if i == len(times) {
		return time.Time{}, false
	}
	return times[i], true
}

// sortedTimes returns every time of spec c on the date, resolved by the
// wall-clock rule, sorted, each instant once; kept with the date for the
// next call with the same spec.
func (dc *dayClock) sortedTimes(c *cronSpec, loc *time.Location) []time.Time {
	if times, ok := dc.times[c]; ok {
		return times
	}
	var times []time.Time
	for h := range 24 {
		if c.hour&(1<<uint(h)) == 0 {
			continue
		}
		for m := range 60 {
			if c.minute&(1<<uint(m)) != 0 {
				times = append(times, dc.at(h, m, int(c.second), loc))
			}
		}
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	times = slices.CompactFunc(times, func(a, b time.Time) bool { return a.Equal(b) })
	if dc.times == nil {
		dc.times = map[*cronSpec][]time.Time{}
	}
	dc.times[c] = times
	return times
}

// dayCache keeps the dayClocks of the dates one plan looks at, and the
// local dates of the instants it asks about, so that the recurrences of many
// tasks share them. A nil *dayCache computes everything afresh.
type dayCache struct {
	loc   *time.Location
	base  int64       // day number of byDay[0]
	byDay []*dayClock // the dates from base on, as far as asked, up to a year
	asked [4]struct {
		t time.Time
		z int64
	}
	n int
}

func (dc *dayCache) get(z int64, loc *time.Location) *dayClock {
	if dc == nil || loc != dc.loc {
		c := clockOf(dateOfDay(z), loc)
		return &c
	}
	if dc.byDay == nil {
		dc.base = z - 2
	}
	i := z - dc.base
	if i < 0 || i >= 400 {
		c := clockOf(dateOfDay(z), loc)
		return &c
	}
	for int64(len(dc.byDay)) <= i {
		dc.byDay = append(dc.byDay, nil)
	}
	if dc.byDay[i] == nil {
		c := clockOf(dateOfDay(z), loc)
		dc.byDay[i] = &c
	}
	return dc.byDay[i]
}

// dayOf returns the day number of t's date in loc.
func (dc *dayCache) dayOf(t time.Time, loc *time.Location) int64 {
	if dc == nil || loc != dc.loc {
		return DateOf(t.In(loc)).dayNumber()
	}
	for i := range dc.asked {
		if dc.asked[i].t.Equal(t) && !t.IsZero() {
			return dc.asked[i].z
		}
	}
	z := DateOf(t.In(loc)).dayNumber()
	dc.asked[dc.n%len(dc.asked)].t, dc.asked[dc.n%len(dc.asked)].z = t, z
	dc.n++
	return z
}

// Occurrences returns the next n occurrence times of a recurring task
// (housekeeping with a schedule or repeat, or a timer) at or after from, in
// the site's zone; fewer when the recurrence ends (repeat none) or has none
// within five years.
func (p *Profile) Occurrences(task string, from time.Time, n int) ([]time.Time, error) {
	if !p.validated {
		return nil, ErrNotValidated
	}
	t := p.Task(task)
	if t == nil {
		return nil, fmt.Errorf("afterhours: no task %q", task)
	}
	if t.recur == nil {
		return nil, fmt.Errorf("afterhours: task %q does not recur", task)
	}
	out := make([]time.Time, 0, min(n, 1024))
	days := &dayCache{loc: t.recur.loc}
	limit := from.Add(maxSearch)
	for len(out) < n {
		o, ok := t.recur.next(from, limit, days)
		if !ok {
			break
		}
		out = append(out, o.In(p.Site.loc))
		from = o.Add(time.Nanosecond)
	}
	return slices.Clip(out), nil
}
