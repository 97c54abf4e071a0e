package afterhours

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/wallclock"
	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// repeatOracle lists the occurrences of a repeat in [from, to) straight from
// the definition of rule 9, independently of the compiled recurrence.
func repeatOracle(repeat string, start time.Time, loc *time.Location, from, to time.Time) []time.Time {
	var out []time.Time
	add := func(t time.Time) {
		if !t.Before(start) && !t.Before(from) && t.Before(to) {
			out = append(out, t)
		}
	}
	steps := map[string]time.Duration{RepeatMinute: time.Minute, RepeatQuarterHourly: 15 * time.Minute, RepeatHourly: time.Hour}
	switch repeat {
	case RepeatNone:
		add(start)
	case RepeatMinute, RepeatQuarterHourly, RepeatHourly:
		for t := start; t.Before(to); t = t.Add(steps[repeat]) {
			add(t)
		}
	default:
		local := start.In(loc)
		h, m, s := local.Clock()
		hours := []int{h}
		if repeat == RepeatQuarterDaily {
			hours = []int{h, (h + 6) % 24, (h + 12) % 24, (h + 18) % 24}
		}
		for d := DateOf(from.In(loc)).AddDays(-2); d.Compare(DateOf(to.In(loc)).AddDays(1)) <= 0; d = d.AddDays(1) {
			if repeat == RepeatWeekly && d.Weekday() != local.Weekday() || repeat == RepeatMonthly && d.Day != local.Day() {
				continue
			}
			for _, hh := range hours {
				add(wallclock.Resolve(d.Year, d.Month, d.Day, hh, m, s, loc))
			}
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

var repeatWords = []string{RepeatNone, RepeatMinute, RepeatQuarterHourly, RepeatHourly, RepeatQuarterDaily, RepeatDaily, RepeatWeekly, RepeatMonthly}

// TestForecastHoldsEachOccurrenceOnce: for random repeats and starts in
// zones with DST changes, a 60-day forecast lists each timer occurrence in
// exactly one cycle, and recurring housekeeping is due exactly in the cycles
// whose span holds an occurrence.
func TestForecastHoldsEachOccurrenceOnce(t *testing.T) {
	zones := []string{"Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "UTC"}
	r := rand.New(rand.NewPCG(7, 11))
	rounds := 40
	if testing.Short() {
		rounds = 8
	}
	for round := range rounds {
		zone := zones[round%len(zones)]
		loc := mustLoc(t, zone)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(300 * 24 * time.Hour))))
		type task struct {
			Name   string   `json:"name"`
			Run    []string `json:"run"`
			Repeat string   `json:"repeat"`
			Start  string   `json:"start"`
		}
		var timers, hk []task
		for i := range 4 {
			word := repeatWords[r.IntN(len(repeatWords))]
			if word == RepeatMinute && r.IntN(3) > 0 {
				word = RepeatHourly // keep the plans small
			}
			start := base.Add(time.Duration(r.Int64N(int64(40*24*time.Hour)) - int64(10*24*time.Hour))).Truncate(time.Minute)
			if r.IntN(4) == 0 {
				start = start.Add(time.Duration(r.IntN(60)) * time.Second)
			}
			// Starts on the DST days' small hours, now and then.
			if r.IntN(3) == 0 {
				start = time.Date(2026, 3, 29, r.IntN(4), 15*r.IntN(4), 0, 0, loc)
			}
			timers = append(timers, task{fmt.Sprintf("timer-%d", i), []string{"/bin/true"}, word, start.Format(time.RFC3339)})
			hk = append(hk, task{fmt.Sprintf("hk-%d", i), []string{"/bin/true"}, word, start.Format(time.RFC3339)})
		}
		doc, err := json.Marshal(map[string]any{
			"client":       "prop",
			"site":         map[string]any{"timezone": zone, "grace": "1h", "business_hours": map[string][]string{"mon": {"08:00-18:00"}, "tue": {"00:00-03:00", "09:00-17:00"}, "fri": {"20:00-24:00"}, "sat": {"00:00-02:00"}}},
			"timers":       timers,
			"housekeeping": hk,
		})
		require.NoError(t, err)
		p, err := ParseProfile(doc)
		require.NoError(t, err)

		plans, err := Forecast(p, fakeclock.Fixed(base), 60)
		require.NoError(t, err)
		require.Len(t, plans, 60)
		first, last := plans[0].Span.Start, plans[len(plans)-1].Span.End
		for i, tk := range timers {
			st, _ := time.Parse(time.RFC3339, tk.Start)
			want := repeatOracle(tk.Repeat, st, loc, first, last)
			var got []time.Time
			for _, plan := range plans {
				for _, run := range plan.Timers {
					if run.Task.Name == tk.Name {
						require.True(t, plan.Span.Contains(run.At), "%s at %s outside its cycle %s", tk.Name, run.At, plan.Day)
						got = append(got, run.At)
					}
				}
			}
			require.Equal(t, len(want), len(got), "round %d %s %s %s start %s", round, zone, tk.Name, tk.Repeat, tk.Start)
			for j := range want {
				require.True(t, want[j].Equal(got[j]), "round %d %s %s: occurrence %d: want %s got %s", round, zone, tk.Repeat, j, want[j], got[j])
			}

			name := hk[i].Name
			for _, plan := range plans {
				due := len(repeatOracle(tk.Repeat, st, loc, plan.Span.Start, plan.Span.End)) > 0
				notDue := false
				for _, d := range plan.Deferred {
					if d.Task.Name == name && d.Reason == ReasonNotDue {
						notDue = true
					}
				}
				require.Equal(t, !due, notDue, "round %d %s %s %s in cycle %s", round, zone, name, tk.Repeat, plan.Day)
			}
		}
	}
}

func TestRecurrenceValidation(t *testing.T) {
	tests := []struct {
		task string // the housekeeping or timer entry
		path string
	}{
		{`{"name":"a","run":["/x"],"schedule":"0 3 * *"}`, "housekeeping[0].schedule"},
		{`{"name":"a","run":["/x"],"schedule":"0 0 30 2 *"}`, "housekeeping[0].schedule"},
		{`{"name":"a","run":["/x"],"schedule":"TZ=UTC 0 3 * * *"}`, "housekeeping[0].schedule"},
		{`{"name":"a","run":["/x"],"schedule":"@every 5m"}`, "housekeeping[0].schedule"},
		{`{"name":"a","run":["/x"],"repeat":"fortnightly","start":"2026-11-01T00:00:00Z"}`, "housekeeping[0].repeat"},
		{`{"name":"a","run":["/x"],"repeat":"daily"}`, "housekeeping[0].start"},
		{`{"name":"a","run":["/x"],"repeat":"daily","start":"2026-11-01 00:00"}`, "housekeeping[0].start"},
		{`{"name":"a","run":["/x"],"repeat":"daily","start":"2026-11-01T00:00:00Z","schedule":"@daily"}`, "housekeeping[0].repeat"},
		{`{"name":"a","run":["/x"],"start":"2026-11-01T00:00:00Z"}`, "housekeeping[0].start"},
	}
	for _, tt := range tests {
		_, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"UTC"},"housekeeping":[` + tt.task + `]}`))
		var verr *ValidationError
		require.True(t, errors.As(err, &verr), "%s: %v", tt.task, err)
		require.Len(t, verr.Problems, 1, "%s: %v", tt.task, err)
		require.Equal(t, tt.path, verr.Problems[0].Path, tt.task)
	}
	_, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"UTC"},"timers":[{"name":"t","run":["/x"]}],
		"updates":[{"name":"u","run":["/x"],"schedule":"@daily"}]}`))
	var verr *ValidationError
	require.True(t, errors.As(err, &verr))
	require.Equal(t, []Problem{
		{Path: "updates[0].schedule", Message: "only housekeeping and timers recur"},
		{Path: "timers[0].schedule", Message: "required: a timer needs a schedule, or a repeat with a start"},
	}, verr.Problems)
}

func TestNotDueSaysWhenNext(t *testing.T) {
	p, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"Europe/London","business_hours":{"mon":["08:00-18:00"],"tue":["08:00-18:00"]}},
		"housekeeping":[{"name":"vacuum","run":["/x"],"schedule":"0 3 * * 0"},{"name":"rotate","run":["/x"]}]}`))
	require.NoError(t, err)
	plan, err := PlanAt(p, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)) // Monday
	require.NoError(t, err)
	require.Equal(t, []Deferral{{Task: p.Task("vacuum"), Reason: ReasonNotDue, Detail: "next due 2026-11-29 03:00 GMT"}}, plan.Deferred)
	require.Len(t, plan.Steps, 1)
}
