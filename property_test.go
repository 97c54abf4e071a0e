package afterhours

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hashHistory is a random but pure history: what it says of a task and a
// day depends only on its seed, the task and the day.
type hashHistory struct{ seed string }

func (h hashHistory) roll(parts ...string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(h.seed))
	for _, p := range parts {
		f.Write([]byte{0})
		f.Write([]byte(p))
	}
	return f.Sum64()
}

func (h hashHistory) Settled(task, day string) bool {
	return h.roll("settled", task, day)%5 == 0 || h.roll("one-off", task)%7 == 0
}

func (h hashHistory) Failed(task, day string) bool { return h.roll("failed", task, day)%9 == 0 }

func (h hashHistory) Durations(task string) []time.Duration {
	r := h.roll("durations", task)
	n := int(r % 5)
	ds := make([]time.Duration, n)
	for i := range ds {
		r = r*6364136223846793005 + 1442695040888963407
		ds[i] = time.Duration(r>>40%240) * time.Minute // 0 to 4h, 0 included
	}
	return ds
}

func propDate(t testing.TB, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	require.NoError(t, err)
	return d
}

// TestPlanProperties plans every profile at every hour (and a few odd
// minutes) of the fortnights around its zone's transitions, with and without
// a random history, and checks every invariant of each plan.
func TestPlanProperties(t *testing.T) {
	offsets := []time.Duration{0, 17 * time.Minute, 59*time.Minute + 59*time.Second}
	step := time.Hour
	days := 7
	if testing.Short() {
		offsets, step, days = []time.Duration{0, 17 * time.Minute}, 3*time.Hour, 3
	}
	for _, pp := range propProfiles {
		t.Run(pp.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(pp.json))
			require.NoError(t, err)
			histories := []History{nil, hashHistory{"a"}, hashHistory{"b"}}
			plans := 0
			for _, centre := range pp.weeks {
				c := propDate(t, centre)
				from := p.Site.midnight(c.AddDays(-days))
				to := p.Site.midnight(c.AddDays(days))
				for at := from; at.Before(to); at = at.Add(step) {
					for i, off := range offsets {
						now := at.Add(off)
						h := histories[(i+int(now.Unix()/3600))%len(histories)]
						plan, err := PlanAt(p, now, WithHistory(h))
						require.NoError(t, err, "at %s", now)
						checkPlan(t, p, now, h, plan)
						plans++
						if t.Failed() {
							t.Fatalf("stopped at the first failing instant, %s (history %v)", now.UTC().Format(time.RFC3339), h)
						}
					}
				}
			}
			t.Logf("%d plans", plans)
		})
	}
}

// TestPlanPropertiesYear plans each profile at three instants of every day
// of 2026 and checks every invariant.
func TestPlanPropertiesYear(t *testing.T) {
	hours := []time.Duration{3*time.Hour + 7*time.Minute, 13*time.Hour + 31*time.Minute, 20*time.Hour + 45*time.Minute}
	every := 1
	if testing.Short() {
		every = 5
	}
	for _, pp := range propProfiles {
		t.Run(pp.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(pp.json))
			require.NoError(t, err)
			h := hashHistory{"year"}
			for d := propDate(t, "2026-01-01"); d.Year == 2026; d = d.AddDays(every) {
				for i, off := range hours {
					now := p.Site.midnight(d).Add(off)
					var hist History
					if i%2 == 1 {
						hist = h
					}
					plan, err := PlanAt(p, now, WithHistory(hist))
					require.NoError(t, err, "at %s", now)
					checkPlan(t, p, now, hist, plan)
					if t.Failed() {
						t.Fatalf("stopped at the first failing instant, %s", now.UTC().Format(time.RFC3339))
					}
				}
			}
		})
	}
}

// TestCycleProperties checks the cycle arithmetic over the days of 2026 and
// 2027 for every property profile and every golden profile: anchors never
// go backwards, spans partition time, CycleAt finds the cycle whose span
// holds an instant, windows hold no business time and end at business time
// or at the span's end, and the anchor is where the rule puts it.
func TestCycleProperties(t *testing.T) {
	profiles := map[string]*Profile{}
	for _, pp := range propProfiles {
		p, err := ParseProfile([]byte(pp.json))
		require.NoError(t, err)
		profiles[pp.name] = p
	}
	for name := range goldenCases {
		p, err := LoadProfile("testdata/" + name + ".profile.json")
		require.NoError(t, err)
		profiles["golden/"+name] = p
	}
	names := make([]string, 0, len(profiles))
	for n := range profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	last := 730
	if testing.Short() {
		last = 120
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s := &profiles[name].Site
			first := propDate(t, "2026-01-01")
			prev := s.Cycle(first.AddDays(-1))
			for i := 0; i < last; i++ {
				d := first.AddDays(i)
				c := s.Cycle(d)
				propCheckCycle(t, s, d, prev, c)
				if t.Failed() {
					t.Fatalf("stopped at the first failing day, %s", d)
				}
				prev = c
			}
		})
	}
}

func propCheckCycle(t *testing.T, s *Site, d Date, prev, c Cycle) {
	t.Helper()
	if c.Day != d {
		t.Errorf("Cycle(%s).Day = %s", d, c.Day)
	}
	a := s.anchor(d)
	if !c.Span.Start.Equal(a) {
		t.Errorf("Cycle(%s) starts at %s, Anchor(%s) = %s", d, invT(c.Span.Start), d, invT(a))
	}
	if a.Before(s.anchor(d.AddDays(-1))) {
		t.Errorf("Anchor(%s) = %s goes back before Anchor(%s) = %s", d, invT(a), d.AddDays(-1), invT(s.anchor(d.AddDays(-1))))
	}
	if !prev.Span.End.Equal(c.Span.Start) {
		t.Errorf("spans do not partition time: Cycle(%s) ends at %s, Cycle(%s) starts at %s", prev.Day, invT(prev.Span.End), d, invT(c.Span.Start))
	}
	if c.Span.End.Before(c.Span.Start) {
		t.Errorf("Cycle(%s) span %s is inverted", d, invIv(c.Span))
	}
	// CycleAt at the span's first and last instants and in its middle.
	if !c.Span.Empty() {
		for _, at := range []time.Time{c.Span.Start, c.Span.Start.Add(c.Span.Duration() / 2), c.Span.End.Add(-time.Nanosecond)} {
			got := s.CycleAt(at)
			if got.Day != d || !invSameInterval(got.Span, c.Span) || !invSameInterval(got.Window, c.Window) {
				t.Errorf("CycleAt(%s) = cycle %s span %s, want cycle %s span %s", invT(at), got.Day, invIv(got.Span), d, invIv(c.Span))
			}
		}
	}
	// The window starts at the anchor, holds no business time and ends at
	// the first business instant or at the span's end.
	w := c.Window
	if !w.Start.Equal(c.Span.Start) || w.End.After(c.Span.End) || w.End.Before(w.Start) {
		t.Errorf("Cycle(%s) window %s does not start the span %s", d, invIv(w), invIv(c.Span))
	}
	next, ok := s.NextBusiness(c.Span.Start)
	switch {
	case !ok || !next.Before(c.Span.End):
		if !w.End.Equal(c.Span.End) {
			t.Errorf("Cycle(%s): no business in the span %s, but the window %s stops short", d, invIv(c.Span), invIv(w))
		}
	case !w.End.Equal(next):
		t.Errorf("Cycle(%s): window %s, want it to end at the first business instant %s", d, invIv(w), invT(next))
	}
	if s.InBusiness(c.Span.Start) != (w.Empty() && !c.Span.Empty()) && !c.Span.Empty() {
		t.Errorf("Cycle(%s): anchor %s in business %v, window %s", d, invT(c.Span.Start), s.InBusiness(c.Span.Start), invIv(w))
	}
	// Where the rule puts the anchor: at D's midnight when D is closed (or
	// later when D-1's anchor is later); otherwise grace after the end of
	// business that contains D's last interval, or D-1's anchor.
	grace := time.Duration(s.Grace)
	if !propOpen(s, d) {
		want := laterOf(s.midnight(d), s.anchor(d.AddDays(-1)))
		if !a.Equal(want) {
			t.Errorf("Anchor(%s) of a closed day = %s, want %s", d, invT(a), invT(want))
		}
		return
	}
	if a.Equal(s.anchor(d.AddDays(-1))) && !a.Equal(s.midnight(d)) {
		return // D-1's anchor, later than D's own
	}
	end := a.Add(-grace)
	if s.InBusiness(end) {
		t.Errorf("Anchor(%s) = %s: %s before it, at %s, is business time", d, invT(a), grace, invT(end))
	}
	if !s.InBusiness(end.Add(-time.Second)) {
		t.Errorf("Anchor(%s) = %s: %s before it, at %s, is not the end of business time", d, invT(a), grace, invT(end))
	}
	if end.Before(s.midnight(d)) {
		t.Errorf("Anchor(%s) = %s: the business it follows ended at %s, before the day began", d, invT(a), invT(end))
	}
}

// propOpen reports whether local date d has business hours.
func propOpen(s *Site, d Date) bool {
	if slices.Contains(s.Closed, d.String()) {
		return false
	}
	key := strings.ToLower(d.Weekday().String()[:3])
	return len(s.BusinessHours[key]) > 0
}

// TestBusinessTimeModel compares InBusiness with a naive reading of the
// business hours (the wall clock of an instant in one of its day's
// intervals), every 10 minutes of 2026, away from the days around a zone
// transition where the naive reading is not the rule.
func TestBusinessTimeModel(t *testing.T) {
	step := 10 * time.Minute
	if testing.Short() {
		step = 37 * time.Minute
	}
	for _, pp := range propProfiles {
		t.Run(pp.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(pp.json))
			require.NoError(t, err)
			s := &p.Site
			skip := map[Date]bool{}
			for _, c := range pp.nearDST {
				for i := -1; i <= 1; i++ {
					skip[propDate(t, c).AddDays(i)] = true
				}
			}
			loc := s.Location()
			for at := time.Date(2026, 1, 1, 0, 0, 0, 0, loc); at.Year() == 2026; at = at.Add(step) {
				local := at.In(loc)
				d := DateOf(local)
				if skip[d] {
					continue
				}
				if got, want := s.InBusiness(at), propNaiveBusiness(s, local); got != want {
					t.Fatalf("InBusiness(%s) = %v, the business hours say %v", invT(at), got, want)
				}
			}
		})
	}
}

func propNaiveBusiness(s *Site, local time.Time) bool {
	d := DateOf(local)
	if !propOpen(s, d) {
		return false
	}
	m := local.Hour()*60 + local.Minute()
	for _, iv := range s.BusinessHours[strings.ToLower(d.Weekday().String()[:3])] {
		a, b, _ := strings.Cut(iv, "-")
		if propMinutes(a) <= m && m < propMinutes(b) {
			return true
		}
	}
	return false
}

// propMinutes reads "HH:MM" as minutes of the day.
func propMinutes(hhmm string) int {
	h, _ := strconv.Atoi(hhmm[:2])
	m, _ := strconv.Atoi(hhmm[3:])
	return h*60 + m
}

// propClock is a Clock stopped at one instant.
type propClock time.Time

func (c propClock) Now() time.Time                       { return time.Time(c) }
func (c propClock) After(time.Duration) <-chan time.Time { return nil }

// TestForecastProperties checks Forecast against PlanAt: the first plan is
// the plan of now, the cycles follow day by day, and a one-off is placed at
// most once.
func TestForecastProperties(t *testing.T) {
	for _, pp := range propProfiles {
		t.Run(pp.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(pp.json))
			require.NoError(t, err)
			for _, centre := range pp.weeks {
				now := p.Site.midnight(propDate(t, centre)).Add(-13 * time.Hour)
				for _, h := range []History{nil, hashHistory{"forecast"}} {
					plans, err := Forecast(p, propClock(now), 10, WithHistory(h))
					require.NoError(t, err)
					require.Len(t, plans, 10)
					first, err := PlanAt(p, now, WithHistory(h))
					require.NoError(t, err)
					a, err := first.MarshalJSON()
					require.NoError(t, err)
					b, err := plans[0].MarshalJSON()
					require.NoError(t, err)
					require.Equal(t, string(a), string(b), "the forecast's first plan is PlanAt's")
					placed := map[string]string{}
					for i, plan := range plans {
						if i > 0 {
							require.Equal(t, propDate(t, plans[i-1].Day).AddDays(1).String(), plan.Day)
							require.True(t, plans[i-1].Span.End.Equal(plan.Span.Start), "spans follow each other")
						}
						for _, s := range plan.Steps {
							if k := s.Task.Kind(); k == Update || k == SelfUpdate {
								require.NotContains(t, placed, s.Task.Name, "%s placed in %s and again in %s", s.Task.Name, placed[s.Task.Name], plan.Day)
								placed[s.Task.Name] = plan.Day
							}
						}
					}
				}
			}
		})
	}
}

// propZones are zones with every kind of transition: DST both ways, 30- and
// 45-minute offsets, Lord Howe's 30-minute DST, negative DST (Dublin),
// Troll's 2-hour DST, Casablanca's Ramadan changes, Apia's skipped day.
var propZones = []string{
	"Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Europe/Dublin",
	"Antarctica/Troll", "Africa/Casablanca", "Pacific/Chatham", "America/St_Johns", "America/Santiago",
	"Pacific/Apia", "UTC", "Asia/Tehran", "America/Havana",
}

// propRandomProfile builds a random valid profile: random business hours
// (with touching intervals and 24:00 chains), closed dates, grace, tokens in
// UTC and in the site's zone, tasks with random uses, tags and estimates.
func propRandomProfile(r *rand.Rand, year int) *Profile {
	pick := func(list ...string) string { return list[r.IntN(len(list))] }
	clock := func(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
	resources := []string{"disk", "db", "lan", "network", "nas"}
	uses := func() []string {
		var u []string
		for _, res := range resources {
			if r.IntN(4) == 0 {
				u = append(u, res)
			}
		}
		return u
	}
	tags := func() []string {
		var t []string
		for _, tag := range []string{"uk", "retail", "kiosk"} {
			switch r.IntN(6) {
			case 0:
				t = append(t, tag)
			case 1:
				t = append(t, "!"+tag)
			}
		}
		return t
	}
	p := &Profile{Client: "random", Parallel: r.IntN(5)}
	p.Site = Site{Timezone: pick(propZones...), Tags: []string{"uk", "retail"}, Grace: Duration(time.Duration(r.IntN(13*4)) * 15 * time.Minute)}
	if p.Site.Grace > Duration(MaxGrace) {
		p.Site.Grace = Duration(MaxGrace)
	}
	if r.IntN(8) > 0 {
		p.Site.BusinessHours = map[string][]string{}
		for _, day := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
			if r.IntN(6) == 0 {
				continue // closed weekday
			}
			var list []string
			m := 0
			if r.IntN(4) > 0 {
				m = 30 * (r.IntN(24) + 1)
			}
			for n := 0; n < 1+r.IntN(3) && m < 1440; n++ {
				end := min(1440, m+30*(1+r.IntN(28)))
				if r.IntN(4) == 0 {
					end = 1440
				}
				list = append(list, clock(m)+"-"+clock(end))
				m = end
				if r.IntN(2) == 0 {
					m += 30 * r.IntN(8) // touching when 0
				}
			}
			if len(list) > 0 {
				p.Site.BusinessHours[day] = list
			}
		}
		for n := r.IntN(4); n > 0; n-- {
			d := Date{year, time.Month(1 + r.IntN(12)), 1 + r.IntN(28)}
			if !slices.Contains(p.Site.Closed, d.String()) {
				p.Site.Closed = append(p.Site.Closed, d.String())
			}
		}
	}
	task := func(name string) *Task {
		t := &Task{Name: name, Run: []string{"/bin/" + name}, Uses: uses(), Tags: tags()}
		switch r.IntN(4) {
		case 0:
			t.Estimate = Duration(time.Duration(1+r.IntN(180)) * time.Minute)
		case 1:
			t.Timeout = Duration(time.Duration(1+r.IntN(600)) * time.Minute)
		case 2:
			t.Estimate = Duration(time.Duration(1+r.IntN(20)) * time.Hour)
		}
		if r.IntN(10) == 0 {
			off := false
			t.Enabled = &off
		}
		if r.IntN(6) == 0 {
			t.OnFailure = "stop"
		}
		return t
	}
	for i := r.IntN(4); i > 0; i-- {
		tok := &Token{
			Token:    fmt.Sprintf("tok%d", i),
			Base:     clock(r.IntN(1440)),
			Zone:     pick("UTC", "site", ""),
			Duration: Duration(time.Duration(1+r.IntN(120)) * time.Minute),
			Buffer:   Duration(time.Duration(r.IntN(4)) * 15 * time.Minute),
			Uses:     uses(),
			Anytime:  r.IntN(5) == 0,
		}
		for j := r.IntN(3); j > 0; j-- {
			tok.Tasks = append(tok.Tasks, task(fmt.Sprintf("slot%d-%d", i, j)))
		}
		p.Sharing = append(p.Sharing, tok)
	}
	for i := r.IntN(8); i > 0; i-- {
		p.Housekeeping = append(p.Housekeeping, task(fmt.Sprintf("hk%d", i)))
	}
	for i := r.IntN(4); i > 0; i-- {
		p.Updates = append(p.Updates, task(fmt.Sprintf("up%d", i)))
	}
	if r.IntN(4) > 0 {
		p.SelfUpdate = task("self")
	}
	return p
}

// TestPlanRandomProfiles plans random profiles at random instants of 2026
// and checks every invariant; each profile also makes a round trip through
// JSON and ParseProfile.
func TestPlanRandomProfiles(t *testing.T) {
	profiles, instants := 400, 40
	if testing.Short() {
		profiles, instants = 60, 10
	}
	r := rand.New(rand.NewPCG(2026, 11))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < profiles; i++ {
		p := propRandomProfile(r, 2026)
		data, err := json.Marshal(p)
		require.NoError(t, err)
		if err := p.Validate(); isNoWindowProblem(err) {
			// Business hours that leave no weekday a window are refused
			// (TestBusinessHoursLeaveAWindow); a valid profile always plans.
			continue
		}
		require.NoError(t, p.Validate(), "%s", data)
		parsed, err := ParseProfile(data)
		require.NoError(t, err, "%s", data)
		h := History(hashHistory{strconv.Itoa(i)})
		if i%3 == 0 {
			h = nil
		}
		for j := 0; j < instants; j++ {
			now := start.Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour))))
			if j%4 == 0 {
				// Next to a transition of the zone.
				_, end := now.In(p.Site.Location()).ZoneBounds()
				if !end.IsZero() {
					now = end.Add(time.Duration(r.IntN(6*60)-3*60) * time.Minute)
				}
			}
			for _, q := range []*Profile{p, parsed} {
				plan, err := PlanAt(q, now, WithHistory(h))
				require.NoError(t, err, "a valid profile plans")
				checkPlan(t, q, now, h, plan)
			}
			if t.Failed() {
				t.Fatalf("profile %d at %s (history %v):\n%s", i, now.UTC().Format(time.RFC3339), h, data)
			}
		}
	}
}

// TestCyclesAcrossSkippedDay checks the cycle rules on the one kind of day
// DST never makes: a day the zone skips entirely. Pacific/Apia went from
// -10 to +14 at the end of Thursday 29 December 2011, so Friday 30 never
// happened there. Under the wall-clock rule Friday's business hours fall on
// Saturday's instants (a skipped 21:00 is read with the offset before the
// gap: Saturday 21:00 +14), and a period can then reach further than one day
// on.
func TestCyclesAcrossSkippedDay(t *testing.T) {
	apia := func(t *testing.T, hours map[string][]string, grace time.Duration) *Site {
		t.Helper()
		s := &Site{Timezone: "Pacific/Apia", BusinessHours: hours, Grace: Duration(grace)}
		require.NoError(t, s.Validate())
		return s
	}
	t.Run("anchors never go backwards, spans partition time", func(t *testing.T) {
		// Friday's phantom 07:00-21:00 ends at Saturday 21:00 +14, so its
		// anchor (12h grace) is Sunday 09:00 +14, and Saturday's anchor is
		// never earlier. Sunday is closed: its own anchor, 00:00, and
		// Saturday's own, 01:00, are both earlier than Saturday's anchor.
		s := apia(t, map[string][]string{"thu": {"07:00-21:00"}, "fri": {"07:00-21:00"}, "sat": {"07:00-13:00"}}, 12*time.Hour)
		for d := propDate(t, "2011-12-27"); d.Compare(propDate(t, "2012-01-04")) < 0; d = d.AddDays(1) {
			a, b := s.anchor(d), s.anchor(d.AddDays(1))
			if b.Before(a) {
				t.Errorf("Anchor(%s) = %s, before Anchor(%s) = %s", d.AddDays(1), invT(b), d, invT(a))
			}
			c, next := s.Cycle(d), s.Cycle(d.AddDays(1))
			if c.Span.End.Before(c.Span.Start) || !c.Span.End.Equal(next.Span.Start) {
				t.Errorf("Cycle(%s) span %s, Cycle(%s) span %s: spans must partition time", d, invIv(c.Span), d.AddDays(1), invIv(next.Span))
			}
		}
	})
	t.Run("the anchor ends the merged business period", func(t *testing.T) {
		// Thursday 16:00-24:00 -10 runs into Friday's phantom 00:00-02:00,
		// which overlaps Saturday's 00:00-03:00 +14: one period from
		// Thursday 16:00 -10 to Saturday 03:00 +14 (13:00Z). With 45m of
		// grace the night of Saturday starts at 03:45 +14 and runs to
		// Saturday's 12:00 opening.
		s := apia(t, map[string][]string{"thu": {"16:00-24:00"}, "fri": {"00:00-02:00"}, "sat": {"00:00-03:00", "12:00-20:00"}}, 45*time.Minute)
		want := time.Date(2011, 12, 30, 13, 45, 0, 0, time.UTC)
		if a := s.anchor(propDate(t, "2011-12-29")); !a.Equal(want) || s.InBusiness(a) {
			t.Errorf("Anchor(2011-12-29) = %s (in business time: %v), want %s", invT(a), s.InBusiness(a), invT(want))
		}
		night := time.Date(2011, 12, 30, 16, 0, 0, 0, time.UTC) // Saturday 06:00 +14
		require.False(t, s.InBusiness(night))
		if c := s.CycleAt(night); !c.Window.Contains(night) {
			t.Errorf("Saturday 06:00 +14 is after hours, but its cycle %s (span %s) has the window %s", c.Day, invIv(c.Span), invIv(c.Window))
		}
	})
}
