package afterhours

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours/internal/wallclock"
)

// Site is where a client runs: its time zone, business hours, closed dates,
// tags and grace. It owns the cycle arithmetic, exported so that the fleet
// side computes windows with the very same code as the client.
//
// # Business time
//
// BusinessHours maps a weekday ("mon" to "sun") to intervals of local wall
// time "HH:MM-HH:MM", several a day, "24:00" allowed as an end. Intervals of
// a day that touch are merged; intervals that overlap are an error. A weekday
// missing from the map is closed, and so is every date of Closed. Business
// time is the union of the intervals, with an interval ending at 24:00 and the
// next day's interval starting at 00:00 merged into one period. A site with no
// business hours at all (an unattended kiosk) is after hours every day. Business
// hours must leave some weekday an after-hours window once the grace is
// applied, closed dates aside: a site open around the clock every day, or
// one whose grace swallows every day's after hours, is refused at
// "business_hours", since every plan for it would fail with [ErrNoWindow].
//
// # Cycles
//
// The cycle of site-local date D starts at its anchor: the end of the merged
// business period containing D's last business interval, plus Grace; D 00:00
// when D has no business hours (no grace then); and never earlier than the
// anchor of D-1. Its span runs to the anchor of D+1, so spans partition time.
// Its window runs from the anchor to the first business instant at or after
// it, but never past the span's end; it is empty when the anchor lies in
// business time.
//
// # Wall clock and DST
//
// Local times become instants by one rule: a time that does not exist (DST
// gap) means the instant the gap moves it to (01:30 becomes 02:30 BST on
// Europe/London's spring-forward day); a time that occurs twice means its
// first occurrence. The start of a business interval is the exception: it is
// the first instant whose wall clock reads at or after it (the jump itself),
// so that business time is never shortened by a gap.
//
// A Site must be validated (by [Profile.Validate], [ParseProfile] or
// [Site.Validate]) before its methods are used; after that it is read-only
// and safe for concurrent use.
type Site struct {
	Name          string              `json:"name,omitempty"`
	Timezone      string              `json:"timezone"`
	Tags          []string            `json:"tags,omitempty"`
	BusinessHours map[string][]string `json:"business_hours,omitempty"`
	Closed        []string            `json:"closed,omitempty"`
	Grace         Duration            `json:"grace,omitempty"`

	loc       *time.Location
	week      [7][]span // merged business intervals per weekday, minutes of the day
	closed    map[Date]struct{}
	open      bool // some weekday has business hours
	validated bool
}

// span is an interval of minutes of a day, end up to 1440 (24:00).
type span struct{ start, end int }

// MaxGrace is the longest grace a site may have.
const MaxGrace = 12 * time.Hour

// maxChain bounds the days a merged business period is followed across
// midnight (a site open 24 hours a day, every day, has no after hours).
const maxChain = 400

var weekdayKeys = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Validated reports whether the site passed validation and may be used.
// A Site decoded with encoding/json or built in Go is not usable until
// [Site.Validate] (or [Profile.Validate] of its profile) succeeds; code that
// receives a Site from elsewhere checks this first, as package fleet does.
func (s *Site) Validated() bool { return s != nil && s.validated }

// Location returns the site's time zone.
func (s *Site) Location() *time.Location { return s.loc }

// Validate checks the site and compiles it for use; problems are returned
// as a *ValidationError with paths relative to the site ("timezone").
func (s *Site) Validate() error {
	var ps problems
	checkNUL(&ps, "", reflect.ValueOf(s).Elem())
	s.compile(&ps, "")
	return ps.err()
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

func (s *Site) compile(ps *problems, prefix string) {
	n := len(ps.list)
	s.validated = false
	switch {
	case s.Timezone == "":
		ps.add(join(prefix, "timezone"), "required: an IANA zone such as \"Europe/London\"")
	case s.Timezone == "Local":
		ps.add(join(prefix, "timezone"), "\"Local\" depends on the machine: name the zone, such as \"Europe/London\"")
	default:
		loc, err := time.LoadLocation(s.Timezone)
		if err != nil {
			ps.add(join(prefix, "timezone"), "unknown time zone %q", s.Timezone)
		}
		s.loc = loc
	}
	checkNames(ps, join(prefix, "tags"), s.Tags, "tag", func(t string) string {
		if strings.HasPrefix(t, "!") {
			return "a site tag cannot start with '!'"
		}
		return ""
	})

	s.week = [7][]span{}
	s.open = false
	for key := range s.BusinessHours {
		if !slices.Contains(weekdayKeys[:], key) {
			ps.add(join(prefix, "business_hours."+key), "unknown weekday: want one of mon, tue, wed, thu, fri, sat, sun")
		}
	}
	for wd, key := range weekdayKeys {
		list, ok := s.BusinessHours[key]
		if !ok {
			continue
		}
		path := join(prefix, "business_hours."+key)
		var spans []span
		for i, iv := range list {
			sp, err := parseSpan(iv)
			if err != nil {
				ps.add(fmt.Sprintf("%s[%d]", path, i), "%v", err)
				continue
			}
			spans = append(spans, sp)
		}
		slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
		var merged []span
		for _, sp := range spans {
			if k := len(merged) - 1; k >= 0 && sp.start <= merged[k].end {
				if sp.start < merged[k].end {
					ps.add(path, "intervals %s and %s overlap", merged[k], sp)
				}
				merged[k].end = max(merged[k].end, sp.end)
				continue
			}
			merged = append(merged, sp)
		}
		s.week[wd] = merged
		s.open = s.open || len(merged) > 0
	}

	s.closed = make(map[Date]struct{}, len(s.Closed))
	for i, c := range s.Closed {
		d, err := ParseDate(c)
		path := fmt.Sprintf("%s[%d]", join(prefix, "closed"), i)
		if err != nil {
			ps.add(path, "%v", err)
			continue
		}
		if _, dup := s.closed[d]; dup {
			ps.add(path, "date %s repeated", c)
		}
		s.closed[d] = struct{}{}
	}
	if s.Grace < 0 || time.Duration(s.Grace) > MaxGrace {
		ps.add(join(prefix, "grace"), "%v out of range: want 0 to 12h", time.Duration(s.Grace))
	}
	if len(ps.list) == n {
		s.checkWindow(ps, join(prefix, "business_hours"))
	}
	s.validated = len(ps.list) == n
}

// windowCheckDay is the first of the seven days [Site.checkWindow] looks
// at: any date would do, a fixed one keeps validation deterministic.
var windowCheckDay = Date{2001, time.January, 1}

// checkWindow reports business hours that leave no weekday an after-hours
// window once the grace is applied, closed dates ignored: on such a site
// every plan would fail with [ErrNoWindow].
//
// It asks the planner's own cycle code (the same anchors, merging across
// midnight and grace) for the cycles of seven consecutive days of an
// ordinary week: the site's business hours and grace in a zone without DST
// transitions (UTC) and without closed dates. Every week of the site that
// no DST transition touches is that week moved in time, since within one
// offset period wall clock and instants differ by a constant, so the check
// is exact for them: a site that passes has a window in every such week,
// and so within the 400 days planning searches; a site that fails has none
// in any. A window that only a transition opens (a fall-back night
// lengthening a gap to just past the grace) does not count: maintenance
// that could run one night a year is a mistake in the business hours, not
// a schedule. It costs seven cycles (eleven anchors); a site open all week
// is refused before any, since its anchors would follow business time 400
// days ahead.
func (s *Site) checkWindow(ps *problems, path string) {
	if !s.open {
		return // after hours every day
	}
	whole := true
	for _, day := range s.week {
		whole = whole && len(day) == 1 && day[0] == span{0, 24 * 60}
	}
	if whole {
		ps.add(path, "no after-hours window on any weekday: business hours cover the whole week")
		return
	}
	week := Site{week: s.week, Grace: s.Grace, open: true, loc: time.UTC, validated: true}
	d := windowCheckDay
	var raw [anchorLookback + 2]time.Time // raw anchors of d-lookback .. d+1
	for i := range raw {
		raw[i] = week.rawAnchor(d.AddDays(i - anchorLookback))
	}
	for range 7 {
		if c := week.cycleOf(d, raw[:]); !c.Window.Empty() {
			return
		}
		d = d.AddDays(1)
		copy(raw[:], raw[1:])
		raw[len(raw)-1] = week.rawAnchor(d.AddDays(1))
	}
	ps.add(path, "no after-hours window on any weekday once the grace of %s is applied: no day's after hours last longer than the grace",
		shortDuration(time.Duration(s.Grace)))
}

func (sp span) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", sp.start/60, sp.start%60, sp.end/60, sp.end%60)
}

// parseClock parses "HH:MM" into minutes of the day; 24:00 only when allow24.
func parseClock(s string, allow24 bool) (int, error) {
	bad := fmt.Errorf("invalid time %q: want HH:MM from 00:00 to 23:59", s)
	if allow24 {
		bad = fmt.Errorf("invalid time %q: want HH:MM from 00:00 to 24:00", s)
	}
	if len(s) != 5 || s[2] != ':' {
		return 0, bad
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if m > 59 || h > 24 || (h == 24 && (m != 0 || !allow24)) {
		return 0, bad
	}
	return h*60 + m, nil
}

func parseSpan(s string) (span, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return span{}, fmt.Errorf("invalid interval %q: want HH:MM-HH:MM", s)
	}
	start, err := parseClock(a, false)
	if err != nil {
		return span{}, err
	}
	end, err := parseClock(b, true)
	if err != nil {
		return span{}, err
	}
	if end <= start {
		return span{}, fmt.Errorf("interval %q ends before it starts (an interval across midnight is two: \"22:00-24:00\" and the next day's \"00:00-02:00\")", s)
	}
	return span{start, end}, nil
}

// spansOn returns the business intervals of local date d, nil when closed.
func (s *Site) spansOn(d Date) []span {
	sp := s.week[d.Weekday()]
	if len(sp) == 0 {
		return nil
	}
	if _, closed := s.closed[d]; closed {
		return nil
	}
	return sp
}

// at returns the instant of minute m of local date d under the wall-clock
// rule; m may be 1440 (24:00, the next midnight).
func (s *Site) at(d Date, m int) time.Time {
	return wallclock.Resolve(d.Year, d.Month, d.Day, m/60, m%60, 0, s.loc)
}

// businessInterval returns the instants of a business interval of date d.
func (s *Site) businessInterval(d Date, sp span) Interval {
	start := wallclock.Earliest(d.Year, d.Month, d.Day, sp.start/60, sp.start%60, 0, s.loc)
	return Interval{Start: start, End: s.at(d, sp.end)}
}

// midnight returns the instant local date d begins, under the wall-clock rule.
func (s *Site) midnight(d Date) time.Time { return s.at(d, 0) }

// rawAnchor is the anchor of d before the never-backwards rule: the end of
// the business period holding d's last interval, plus grace. The period is
// followed across days by instants, not wall times, so that an interval
// ending at 24:00 merges with the next day's 00:00 and so that a date a zone
// skips (Pacific/Apia's 2011-12-30), whose intervals resolve onto the next
// day's, merges with what it overlaps.
func (s *Site) rawAnchor(d Date) time.Time {
	spans := s.spansOn(d)
	if len(spans) == 0 {
		return s.midnight(d)
	}
	end, day := s.at(d, spans[len(spans)-1].end), d
	for range maxChain {
		next := day.AddDays(1)
		spans := s.spansOn(next)
		connected := 0
		for _, sp := range spans {
			iv := s.businessInterval(next, sp)
			if iv.Start.After(end) {
				break
			}
			end = laterOf(end, iv.End)
			connected++
		}
		if connected == 0 || connected < len(spans) {
			break
		}
		day = next
	}
	return end.Add(time.Duration(s.Grace))
}

// anchorLookback is how many days back the never-backwards rule looks. An
// earlier day's period reaches past the day before's only by holding that
// day's last interval, and then they share it; one day back would do, but a
// date a zone skips breaks that, so three.
const anchorLookback = 3

// anchor returns the start of the cycle of local date d: the latest of the
// raw anchors of d and the days before it (anchors never go backwards).
func (s *Site) anchor(d Date) time.Time {
	a := s.rawAnchor(d)
	for k := 1; k <= anchorLookback; k++ {
		a = laterOf(a, s.rawAnchor(d.AddDays(-k)))
	}
	return a
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Cycle is one site-local date's share of time: its span, from its anchor to
// the next day's, and its after-hours window at the span's start.
type Cycle struct {
	Day    Date
	Span   Interval
	Window Interval
}

// Cycle returns the cycle of local date d: when its window opens and
// closes, and the span it owns, DST days with their real length. A status
// page uses it to say when a site's next window opens, a test to check that
// a run lay in its window; the planner and package fleet use the same.
func (s *Site) Cycle(d Date) Cycle {
	var raw [anchorLookback + 2]time.Time // raw anchors of d-lookback .. d+1
	for i := range raw {
		raw[i] = s.rawAnchor(d.AddDays(i - anchorLookback))
	}
	return s.cycleOf(d, raw[:])
}

// cycleOf builds the cycle of d from the raw anchors of d-anchorLookback to
// d+1.
func (s *Site) cycleOf(d Date, raw []time.Time) Cycle {
	start := raw[0]
	for _, a := range raw[1 : len(raw)-1] {
		start = laterOf(start, a)
	}
	return s.cycleFrom(d, start, laterOf(raw[len(raw)-1], start))
}

func (s *Site) cycleFrom(d Date, start, end time.Time) Cycle {
	c := Cycle{Day: d, Span: Interval{start, end}}
	if !end.After(start) {
		c.Window = Interval{start, start}
		return c
	}
	c.Window = Interval{Start: start, End: s.nextBusiness(start, end)}
	return c
}

// CycleAt returns the cycle whose span contains t: the cycle an executor
// started at t works in, whose window may already be over (then the next
// cycle's window is the next to open).
func (s *Site) CycleAt(t time.Time) Cycle {
	d := DateOf(t.In(s.loc))
	var raw [anchorLookback + 2]time.Time
	for i := range raw {
		raw[i] = s.rawAnchor(d.AddDays(i - anchorLookback))
	}
	for range maxChain + 2 {
		c := s.cycleOf(d, raw[:])
		if !c.Span.Start.After(t) {
			return c
		}
		// Step a day back: shift the raw anchors by one.
		d = d.AddDays(-1)
		copy(raw[1:], raw[:len(raw)-1])
		raw[0] = s.rawAnchor(d.AddDays(-anchorLookback))
	}
	return s.Cycle(d)
}

// InBusiness reports whether t lies in business time.
func (s *Site) InBusiness(t time.Time) bool {
	return s.nextBusiness(t, t.Add(time.Nanosecond)).Equal(t)
}

// NextBusiness returns the first business instant at or after t (t itself
// when t is in business time), searching at most 400 days ahead; ok is false
// when there is none.
func (s *Site) NextBusiness(t time.Time) (next time.Time, ok bool) {
	limit := t.AddDate(0, 0, maxChain)
	next = s.nextBusiness(t, limit)
	return next, next.Before(limit)
}

// nextBusiness returns the first business instant at or after t, or limit
// when there is none before limit.
func (s *Site) nextBusiness(t, limit time.Time) time.Time {
	if !s.open || !t.Before(limit) {
		return limit
	}
	last := DateOf(limit.In(s.loc)).AddDays(1)
	for d := DateOf(t.In(s.loc)).AddDays(-1); d.Compare(last) <= 0; d = d.AddDays(1) {
		for _, sp := range s.spansOn(d) {
			iv := s.businessInterval(d, sp)
			if !iv.End.After(t) {
				continue
			}
			if iv.Empty() {
				continue
			}
			if iv.Start.After(t) {
				if iv.Start.Before(limit) {
					return iv.Start
				}
				return limit
			}
			return t
		}
	}
	return limit
}

// overlapsBusiness reports whether iv intersects business time.
func (s *Site) overlapsBusiness(iv Interval) bool {
	if iv.Empty() {
		return false
	}
	return s.nextBusiness(iv.Start, iv.End).Before(iv.End)
}

// checkNames reports empty and repeated names in a list of names, and what
// extra returns for each.
func checkNames(ps *problems, path string, names []string, what string, extra func(string) string) {
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case n == "":
			ps.add(p, "empty %s", what)
		case seen[n]:
			ps.add(p, "%s %q repeated", what, n)
		}
		if msg := extra(n); msg != "" && n != "" {
			ps.add(p, "%s", msg)
		}
		seen[n] = true
	}
}
