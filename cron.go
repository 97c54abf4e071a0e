package afterhours

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours/internal/wallclock"
	"github.com/robfig/cron/v3"
)

// cronSpec is a compiled 5-field cron spec, or a wall-clock repeat in the
// same form: the sets of minutes, hours, days of month, months and days of
// week it fires on, evaluated in the site's zone under the wall-clock rule.
//
// Bit i of a field is set when value i matches; each field is as wide as
// its values need, so that a profile of many distinct specs holds 24 bytes
// for each.
type cronSpec struct {
	minute           uint64 // 0-59
	hour             uint32 // 0-23
	dom              uint32 // 1-31
	month            uint16 // 1-12
	dow              uint8  // 0-6, Sunday 0
	domStar, dowStar bool   // the field was * (cron's AND/OR rule)
	second           uint8  // second of the minute (wall-clock repeats)
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

const cronStar = 1 << 63 // robfig's mark of a field given as * or ?

// parseCron parses a standard 5-field cron spec or a descriptor (@yearly,
// @annually, @monthly, @weekly, @daily, @midnight, @hourly) with
// robfig/cron, after rejecting what it would accept but we must not (time
// zone prefixes, @every) and mapping day of week 7 to Sunday. A spec that can
// never fire is an error.
func parseCron(spec string) (c cronSpec, err error) {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "":
		return c, fmt.Errorf("empty schedule")
	case strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ="):
		return c, fmt.Errorf("time zone prefixes are not allowed: schedules run in the site's zone")
	case strings.HasPrefix(spec, "@every"):
		return c, fmt.Errorf("@every is not allowed: it depends on when it is asked; use repeat with a start")
	case !strings.HasPrefix(spec, "@"):
		fields := strings.Fields(spec)
		if len(fields) != 5 {
			return c, fmt.Errorf("expected 5 fields (minute hour day-of-month month day-of-week), found %d", len(fields))
		}
		dow, err := normalizeDow(fields[4])
		if err != nil {
			return c, err
		}
		fields[4] = dow
		spec = strings.Join(fields, " ")
	}
	defer func() {
		// robfig/cron has panicked on some inputs; a panic is a bad spec.
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid schedule %q", spec)
		}
	}()
	s, err := cronParser.Parse(spec)
	if err != nil {
		return c, fmt.Errorf("invalid schedule: %v", err)
	}
	ss, ok := s.(*cron.SpecSchedule)
	if !ok {
		return c, fmt.Errorf("invalid schedule %q", spec)
	}
	c = cronSpec{
		minute: ss.Minute &^ cronStar, hour: uint32(ss.Hour &^ cronStar),
		dom: uint32(ss.Dom &^ cronStar), month: uint16(ss.Month &^ cronStar), dow: uint8(ss.Dow &^ cronStar),
		domStar: ss.Dom&cronStar != 0, dowStar: ss.Dow&cronStar != 0,
	}
	if !c.canFire() {
		return c, fmt.Errorf("schedule %q can never fire: no month has those days", spec)
	}
	return c, nil
}

var dowNames = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}

// normalizeDow rewrites a day-of-week field so that 7 means Sunday, as 0
// does: robfig/cron accepts only 0-6. Steps from * or from a single day run
// to Saturday (6), as in robfig/cron; only an explicit 7 is Sunday.
func normalizeDow(field string) (string, error) {
	var set uint64
	star := false
	for _, expr := range strings.Split(field, ",") {
		rng, stepText, hasStep := strings.Cut(expr, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n <= 0 {
				return "", fmt.Errorf("invalid day-of-week step in %q", expr)
			}
			step = n
		}
		lo, hi := 0, 6
		if rng == "*" || rng == "?" {
			star = star || step == 1
		} else {
			a, b, isRange := strings.Cut(rng, "-")
			var err error
			if lo, err = dowValue(a); err != nil {
				return "", err
			}
			hi = lo
			switch {
			case isRange:
				if hi, err = dowValue(b); err != nil {
					return "", err
				}
			case hasStep:
				hi = 6
			}
			if lo > hi {
				return "", fmt.Errorf("day-of-week range %q runs backwards", rng)
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << (v % 7)
		}
	}
	if star {
		return "*", nil
	}
	var parts []string
	for v := range 7 {
		if set&(1<<v) != 0 {
			parts = append(parts, strconv.Itoa(v))
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("empty day-of-week field %q", field)
	}
	return strings.Join(parts, ","), nil
}

func dowValue(s string) (int, error) {
	if v, ok := dowNames[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > 7 {
		return 0, fmt.Errorf("invalid day of week %q: want 0-7 (0 and 7 are Sunday) or sun-sat", s)
	}
	return v, nil
}

// daysIn is the most days each month can have (February in a leap year).
var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// canFire reports whether some date matches the spec.
func (c *cronSpec) canFire() bool {
	if c.minute == 0 || c.hour == 0 || c.month == 0 {
		return false
	}
	if !c.domStar && !c.dowStar {
		return c.dow != 0 || c.someDom() // either matches (cron's OR rule)
	}
	return c.dow != 0 && c.someDom()
}

func (c *cronSpec) someDom() bool {
	for m := 1; m <= 12; m++ {
		if c.month&(1<<m) != 0 && uint64(c.dom)&(1<<(daysIn[m]+1)-2) != 0 {
			return true
		}
	}
	return false
}

// matchesDate reports whether the spec fires on date d, by cron's rule: when
// day of month and day of week are both restricted, either may match.
func (c *cronSpec) matchesDate(d Date) bool { return c.matches(d, d.Weekday()) }

// matches is matchesDate with the day of the week known.
func (c *cronSpec) matches(d Date, wd time.Weekday) bool {
	if c.month&(1<<uint(d.Month)) == 0 {
		return false
	}
	domMatch := c.dom&(1<<uint(d.Day)) != 0
	dowMatch := c.dow&(1<<uint(wd)) != 0
	if c.domStar || c.dowStar {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}

// skipDays returns how many days from d (a wd) can be skipped for sure: to
// the next month of the spec, or, when only one of the day fields
// restricts, to its next match. 0 means d itself may match.
func (c *cronSpec) skipDays(d Date, wd time.Weekday) int {
	left := daysInMonth(d.Year, d.Month) - d.Day + 1 // days to the 1st of the next month
	switch {
	case c.month&(1<<uint(d.Month)) == 0:
		return left
	case c.domStar && !c.dowStar: // the day of the week alone
		if b := c.dow >> uint(wd); b != 0 {
			return min(bits.TrailingZeros8(b), left)
		}
		return min(7-int(wd)+bits.TrailingZeros8(c.dow), left)
	case c.dowStar && !c.domStar: // the day of the month alone
		b := c.dom >> uint(d.Day)
		if b == 0 {
			return left
		}
		return min(bits.TrailingZeros32(b), left)
	}
	return 0
}

// firstClock returns the first (hour, minute) of the spec at or after
// h:m, and false when there is none on the day.
func (c *cronSpec) firstClock(h, m int) (int, int, bool) {
	for h < 24 {
		hb := c.hour >> uint(h)
		if hb == 0 {
			return 0, 0, false
		}
		if skip := bits.TrailingZeros32(hb); skip > 0 {
			h, m = h+skip, 0
			continue
		}
		if mb := c.minute >> uint(m); m < 60 && mb != 0 {
			return h, m + bits.TrailingZeros64(mb), true
		}
		h, m = h+1, 0
	}
	return 0, 0, false
}

// dayClock says how the wall clock of one date maps to instants.
type dayClock struct {
	date     Date
	midnight time.Time // 00:00 of the date, when plain
	plain    bool      // no offset change near the date: wall time is midnight plus elapsed time
	// On other dates: each hour's start under the wall-clock rule (24 is
	// the next midnight), and which hours are plain (their minutes follow
	// their start); the minutes of other hours go through the rule.
	hours      *[25]time.Time
	plainHours uint32
	times      map[*cronSpec][]time.Time // sorted times of a spec, on dates that are not plain
}

// clockOf describes date d in loc. A date is plain when no offset change
// falls within it or within three hours of it, so that every wall time of
// the date exists once, at midnight plus the time of day.
func clockOf(d Date, loc *time.Location) dayClock {
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
	start, end := t.ZoneBounds()
	dc := dayClock{date: d, midnight: t}
	dc.plain = t.Hour() == 0 && t.Minute() == 0 &&
		(start.IsZero() || !start.After(t.Add(-3*time.Hour))) &&
		(end.IsZero() || !end.Before(t.Add(27*time.Hour)))
	if dc.plain {
		return dc
	}
	dc.hours = new([25]time.Time)
	for h := range 25 {
		dc.hours[h] = wallclock.Resolve(d.Year, d.Month, d.Day, h, 0, 0, loc)
	}
	for h := range 24 {
		if dc.hours[h].Add(time.Hour).Equal(dc.hours[h+1]) {
			dc.plainHours |= 1 << uint(h)
		}
	}
	return dc
}

// at returns the instant of wall time h:m:s on the date.
func (dc *dayClock) at(h, m, s int, loc *time.Location) time.Time {
	off := time.Duration(m)*time.Minute + time.Duration(s)*time.Second
	switch {
	case dc.plain:
		return dc.midnight.Add(time.Duration(h)*time.Hour + off)
	case dc.plainHours&(1<<uint(h)) != 0:
		return dc.hours[h].Add(off)
	}
	return wallclock.Resolve(dc.date.Year, dc.date.Month, dc.date.Day, h, m, s, loc)
}
