package afterhours

import (
	"fmt"
	"slices"
	"time"

	"github.com/afterhours-go/afterhours/internal/wallclock"
)

// Resource is something tasks use that can be down: a database, a file
// server, the operating system of the machine. Tasks name it in their Uses.
type Resource struct {
	Name string `json:"name"`
	// Downtimes are the resource's downtime calendars.
	Downtimes []*DowntimeSchedule `json:"downtimes,omitempty"`
}

// The actions a downtime takes on the steps and slot tasks that use its
// resource, unless they ignore downtimes; timers and commands are never
// affected. A schedule's Action is one of them.
const (
	// ActionSuppress (the default): not run in a cycle whose window the
	// downtime touches.
	ActionSuppress = "suppress"
	// ActionSkip: not run if its projected run would overlap the downtime;
	// the sequence goes on.
	ActionSkip = "skip"
	// ActionPostpone: run after the downtime; when that no longer fits, the
	// work carries over to the next cycle.
	ActionPostpone = "postpone"
	// ActionAnticipate: finish before the downtime, moving ahead within its
	// phase: a step that cannot finish in time where the declared order
	// puts it goes before as few of the steps of its phase placed before it
	// as lets it, and those follow it in their order (never at the cost of
	// one of them no longer fitting). When the downtime covers the next
	// cycle's whole window, the work runs in this cycle instead.
	ActionAnticipate = "anticipate"
	// ActionHold: the whole sequence waits until the downtime ends.
	ActionHold = "hold"
	// ActionStop: planned like suppress; at run time a step still running
	// when the downtime begins is stopped.
	ActionStop = "stop"
)

var downtimeActions = []string{ActionSuppress, ActionSkip, ActionPostpone, ActionAnticipate, ActionHold, ActionStop}

// DowntimeSchedule is one downtime calendar of a resource: the dates or
// weekdays it is down on, from and to which local times (the whole day when
// both are omitted; to before from crosses midnight, into the next day), and
// the action taken on the work that uses the resource.
type DowntimeSchedule struct {
	// Dates are site-local dates "2006-01-02".
	Dates []string `json:"dates,omitempty"`
	// Days are weekdays "mon" to "sun", every week.
	Days []string `json:"days,omitempty"`
	// From and To are site-local "HH:MM" (To may be "24:00").
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Action is one of the Action constants; "suppress" by default.
	Action string `json:"action,omitempty"`
	// Once applies the action to the schedule's first occurrence only (its
	// earliest date); later ones get suppress. It needs Dates and no Days: a
	// weekly calendar has no first occurrence.
	Once bool `json:"once,omitempty"`
	// Ended is an RFC 3339 instant: the occurrence that contains it ended
	// early, then. From then on the occurrence no longer exists, whatever
	// its action. Work a suppress or stop occurrence kept out of the cycle
	// is planned again for the rest of the window: from the end on, without
	// holding back the steps after it (as postpone does); a slot task runs
	// in the slots that start after it. Work that had to finish before an
	// anticipate occurrence may run after its end too; skip, postpone and
	// hold keep out of the occurrence up to its end.
	Ended string `json:"ended,omitempty"`

	resource string
	dates    map[Date]bool
	first    Date // the earliest of dates
	days     uint8
	from, to int // minutes of the day; both -1 for the whole day
	ended    time.Time
}

// Downtime is one occurrence of a resource's downtime, as a plan lists it.
type Downtime struct {
	Resource string
	Interval
	// Action is the action that applies to this occurrence: a once action
	// applies to its first occurrence, suppress to the later ones.
	Action string
	// Ended says the occurrence was ended early: End is when, and nothing
	// is kept out after it (see [DowntimeSchedule.Ended]).
	Ended bool
}

func (p *Profile) compileResources(ps *problems) {
	seen := map[string]bool{}
	for i, r := range p.Resources {
		rp := fmt.Sprintf("resources[%d]", i)
		if r == nil {
			ps.add(rp, "null resource")
			continue
		}
		uniqueName(ps, rp+".name", "resource", r.Name, seen)
		for j, d := range r.Downtimes {
			dp := fmt.Sprintf("%s.downtimes[%d]", rp, j)
			if d == nil {
				ps.add(dp, "null downtime")
				continue
			}
			d.compile(ps, dp, r.Name)
		}
	}
}

func (d *DowntimeSchedule) compile(ps *problems, dp, resource string) {
	d.resource = resource
	d.dates = make(map[Date]bool, len(d.Dates))
	d.first = Date{}
	for i, s := range d.Dates {
		v, err := ParseDate(s)
		if err != nil {
			ps.add(fmt.Sprintf("%s.dates[%d]", dp, i), "%v", err)
			continue
		}
		d.dates[v] = true
		if d.first == (Date{}) || v.Compare(d.first) < 0 {
			d.first = v
		}
	}
	d.days = 0
	for i, s := range d.Days {
		k := slices.Index(weekdayKeys[:], s)
		if k < 0 {
			ps.add(fmt.Sprintf("%s.days[%d]", dp, i), "unknown day %q: want one of mon, tue, wed, thu, fri, sat, sun", s)
			continue
		}
		d.days |= 1 << k
	}
	if len(d.Dates) == 0 && len(d.Days) == 0 {
		ps.add(dp, "a downtime needs dates or days")
	}
	d.from, d.to = -1, -1
	switch {
	case d.From == "" && d.To == "":
	case d.From == "" || d.To == "":
		ps.add(dp, "give both from and to, or neither for the whole day")
	default:
		from, err1 := parseClock(d.From, false)
		if err1 != nil {
			ps.add(dp+".from", "%v", err1)
		}
		to, err2 := parseClock(d.To, true)
		if err2 != nil {
			ps.add(dp+".to", "%v", err2)
		}
		if err1 == nil && err2 == nil {
			if from == to%1440 {
				ps.add(dp+".to", "equals from: a downtime of no time or of exactly a day; omit both for the whole day")
			}
			d.from, d.to = from, to
		}
	}
	if d.Action != "" && !slices.Contains(downtimeActions, d.Action) {
		ps.add(dp+".action", "unknown action %q: want suppress, skip, postpone, anticipate, hold or stop", d.Action)
	}
	if d.Once && (len(d.Dates) == 0 || len(d.Days) > 0) {
		ps.add(dp+".once", "once needs dates and no days: a weekly downtime has no first occurrence")
	}
	d.ended = time.Time{}
	if d.Ended != "" {
		t, err := time.Parse(time.RFC3339, d.Ended)
		if err != nil {
			ps.add(dp+".ended", "invalid instant %q: want RFC 3339 such as 2026-11-24T02:10:00Z", d.Ended)
		}
		d.ended = t
	}
}

// action returns the action of the schedule for an occurrence on date d.
func (d *DowntimeSchedule) action(on Date) string {
	a := d.Action
	if a == "" {
		a = ActionSuppress
	}
	if d.Once && on != d.first {
		return ActionSuppress
	}
	return a
}

func (d *DowntimeSchedule) onDate(day Date) bool {
	return d.dates[day] || d.days&(1<<uint(day.Weekday())) != 0
}

// occurrence returns the schedule's downtime starting on local date day.
func (d *DowntimeSchedule) occurrence(day Date, loc *time.Location) Downtime {
	var iv Interval
	if d.from < 0 {
		iv = Interval{Start: wallclock.Earliest(day.Year, day.Month, day.Day, 0, 0, 0, loc)}
		next := day.AddDays(1)
		iv.End = wallclock.Resolve(next.Year, next.Month, next.Day, 0, 0, 0, loc)
	} else {
		iv.Start = wallclock.Earliest(day.Year, day.Month, day.Day, d.from/60, d.from%60, 0, loc)
		endDay := day
		if d.to <= d.from {
			endDay = day.AddDays(1) // crosses midnight
		}
		iv.End = wallclock.Resolve(endDay.Year, endDay.Month, endDay.Day, d.to/60, d.to%60, 0, loc)
	}
	dt := Downtime{Resource: d.resource, Interval: iv, Action: d.action(day)}
	if !d.ended.IsZero() && iv.Contains(d.ended) {
		dt.End, dt.Ended = d.ended.In(loc), true
	}
	return dt
}

// downtimesIn returns the downtime occurrences of every resource that
// intersect iv, in order of start, then of the profile.
func (p *Profile) downtimesIn(iv Interval) []Downtime {
	if len(p.Resources) == 0 || iv.Empty() {
		return nil
	}
	loc := p.Site.loc
	var out []Downtime
	first := DateOf(iv.Start.In(loc)).AddDays(-1) // one crossing midnight
	last := DateOf(iv.End.In(loc))
	for _, r := range p.Resources {
		for _, d := range r.Downtimes {
			for day := first; day.Compare(last) <= 0; day = day.AddDays(1) {
				if !d.onDate(day) {
					continue
				}
				if o := d.occurrence(day, loc); o.Overlaps(iv) {
					out = append(out, o)
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Downtime) int { return a.Start.Compare(b.Start) })
	return out
}

// ReasonDowntime returns the deferral reason for a downtime of resource:
// "downtime:<resource>".
func ReasonDowntime(resource string) string { return "downtime:" + resource }

// linkDowntimes records, for every task downtimes apply to, the resources
// with downtimes it uses: its own uses and, for a slot task, its token and
// the token's uses. A task that ignores downtimes gets none, and so do
// timers, which downtimes never affect.
func (p *Profile) linkDowntimes() {
	down := map[string]bool{}
	for _, r := range p.Resources {
		if r != nil && len(r.Downtimes) > 0 {
			down[r.Name] = true
		}
	}
	link := func(t *Task, extra []string) {
		if t == nil {
			return
		}
		t.down = nil
		if t.IgnoreDowntimes || len(down) == 0 {
			return
		}
		for _, u := range append(slices.Clone(t.Uses), extra...) {
			if down[u] && !slices.Contains(t.down, u) {
				t.down = append(t.down, u)
			}
		}
	}
	for _, tok := range p.Sharing {
		if tok == nil {
			continue
		}
		for _, t := range tok.Tasks {
			link(t, append([]string{tok.Token}, tok.Uses...))
		}
	}
	for _, list := range [][]*Task{p.Housekeeping, p.Updates} {
		for _, t := range list {
			link(t, nil)
		}
	}
	link(p.SelfUpdate, nil)
}
