package afterhours

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// forecastCases are the golden forecasts of testdata/forecast: a profile,
// an instant, a number of days, and what was worked out by hand.
var forecastCases = map[string]struct {
	now   string
	days  int
	check func(t *testing.T, plans []*Plan)
}{
	"london-spring": {now: "2026-03-26T12:00:00Z", days: 7, check: func(t *testing.T, plans []*Plan) {
		require.Equal(t, []string{"2026-03-29"}, dueDays(plans, "vacuum-db"), "Sunday 03:00 lies in the span of Sunday's cycle")
		require.Equal(t, []string{"2026-03-31"}, dueDays(plans, "month-end"), "31 March 22:00 BST lies in Tuesday's span")
		// 01:30 every day, 02:30 BST on the 29th; Saturday's cycle runs from
		// 13:30 to Sunday's midnight and holds none, Sunday's holds two.
		require.Equal(t, []string{"2026-03-26", "2026-03-27", "2026-03-29", "2026-03-30", "2026-03-31", "2026-04-01"}, dueDays(plans, "nightly-0130"))
		require.Equal(t, 1, runsAt(plans, "inventory", "2026-03-29T02:30:00+01:00"), "01:30 in the gap means 02:30 BST, once")
		hb := runTimes(plans, "heartbeat")
		for i := 1; i < len(hb); i++ {
			require.Equal(t, time.Hour, hb[i].Sub(hb[i-1]), "hourly by elapsed time, through the change")
		}
	}},
	"newyork-fall": {now: "2026-10-30T16:00:00Z", days: 6, check: func(t *testing.T, plans []*Plan) {
		require.Equal(t, 1, runsAt(plans, "fall-back-0130", "2026-11-01T01:30:00-04:00"), "01:30 occurs twice and means its first")
		require.Equal(t, 0, runsAt(plans, "fall-back-0130", "2026-11-01T01:30:00-05:00"))
		require.Equal(t, []string{"2026-11-03T12:00:00-05:00"}, rfc(runTimes(plans, "once")))
	}},
	"lordhowe-spring": {now: "2026-10-02T01:30:00Z", days: 5, check: func(t *testing.T, plans []*Plan) {
		require.Equal(t, 1, runsAt(plans, "quarter-daily", "2026-10-04T02:45:00+11:00"), "02:15 in the 30-minute gap means 02:45")
		require.Len(t, dueDays(plans, "weekly"), 1)
	}},
}

// oneOffsDone is the history a forecast assumes: the one-offs it placed
// are complete.
type oneOffsDone map[string]bool

func (h oneOffsDone) Settled(task, _ string) bool      { return h[task] }
func (h oneOffsDone) Durations(string) []time.Duration { return nil }

// dueDays lists the cycles in which a housekeeping task is not deferred as
// not due.
func dueDays(plans []*Plan, task string) []string {
	var days []string
	for _, p := range plans {
		due := true
		for _, d := range p.Deferred {
			if d.Task.Name == task && d.Reason == ReasonNotDue {
				due = false
			}
		}
		if due {
			days = append(days, p.Day)
		}
	}
	return days
}

func runTimes(plans []*Plan, task string) []time.Time {
	var out []time.Time
	for _, p := range plans {
		for _, r := range p.Timers {
			if r.Task.Name == task {
				out = append(out, r.At)
			}
		}
	}
	return out
}

func runsAt(plans []*Plan, task, at string) int {
	n := 0
	for _, r := range runTimes(plans, task) {
		if r.Format(time.RFC3339) == at {
			n++
		}
	}
	return n
}

func rfc(ts []time.Time) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Format(time.RFC3339))
	}
	return out
}

func TestForecastGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "forecast", "*.profile.json"))
	require.NoError(t, err)
	require.Len(t, files, len(forecastCases))
	for _, f := range files {
		name := filepath.Base(f[:len(f)-len(".profile.json")])
		t.Run(name, func(t *testing.T) {
			fc, ok := forecastCases[name]
			require.True(t, ok, "no case for %s", f)
			p, err := LoadProfile(f)
			require.NoError(t, err)
			now, err := time.Parse(time.RFC3339, fc.now)
			require.NoError(t, err)
			plans, err := Forecast(p, fakeclock.Fixed(now), fc.days)
			require.NoError(t, err)
			require.Len(t, plans, fc.days)
			// The forecast assumes planned one-offs complete: check each plan
			// with a history that says so.
			done := oneOffsDone{}
			for i, plan := range plans {
				if i > 0 {
					require.True(t, plans[i-1].Span.End.Equal(plan.Span.Start), "cycles are consecutive")
				}
				checkPlan(t, p, laterOf(now, plan.Window.Start), done, plan)
				for _, s := range plan.Steps {
					if k := s.Task.Kind(); k == Update || k == SelfUpdate {
						done[s.Task.Name] = true
					}
				}
			}
			fc.check(t, plans)

			var b bytes.Buffer
			require.NoError(t, WriteForecast(&b, plans))
			js, err := json.MarshalIndent(plans, "", "  ")
			require.NoError(t, err)
			b.WriteString("\n")
			b.Write(js)
			b.WriteString("\n")
			path := filepath.Join("testdata", "forecast", name+".forecast.golden")
			if *update {
				require.NoError(t, os.WriteFile(path, b.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -run TestForecastGolden -update")
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs (go test -run TestForecastGolden -update rewrites it):\n%s", path, goldenDiff(want, b.Bytes()))
			}
		})
	}
}
