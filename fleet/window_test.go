package fleet_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

func site(t *testing.T, js string) *afterhours.Site {
	t.Helper()
	var s afterhours.Site
	require.NoError(t, json.Unmarshal([]byte(js), &s))
	require.NoError(t, s.Validate())
	return &s
}

// Targets with a site start only in its after-hours window, when their
// phases' estimates fit before it ends; the others go on meanwhile. On
// Monday 23 November 2026 at 12:00 UTC: a target without a site starts at
// once; one in Kathmandu (+05:45, open until 18:00) waits until 12:15 UTC;
// one in London (open until 18:00) until 18:00 UTC; one in London whose
// phases take 15h cannot fit the 14h night and waits for Friday's window,
// which lasts the weekend.
func TestRolloutWindows(t *testing.T) {
	weekdays := `"business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
	  "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]}`
	london := site(t, `{"name": "leeds", "timezone": "Europe/London", `+weekdays+`}`)
	kathmandu := site(t, `{"name": "patan", "timezone": "Asia/Kathmandu", `+weekdays+`}`)
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))

	run := func(targets []fleet.Target, estimate time.Duration) (map[string]time.Time, map[string]time.Time) {
		return runWindows(t, clk, targets, estimate)
	}

	started, until := run([]fleet.Target{
		{ID: "london", Site: london}, {ID: "nowhere"}, {ID: "kathmandu", Site: kathmandu},
	}, 30*time.Minute)
	require.Equal(t, map[string]time.Time{
		"nowhere":   time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC),
		"kathmandu": time.Date(2026, 11, 23, 12, 15, 0, 0, time.UTC),
		"london":    time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC),
	}, utcAll(started))
	require.Len(t, until, 2)

	// 15 hours of phases do not fit a weeknight (18:00 to 08:00): Friday
	// evening's window, to Monday 08:00, has room.
	started, _ = run([]fleet.Target{{ID: "long", Site: london}}, 15*time.Hour)
	require.Equal(t, time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC), started["long"].UTC())
}

func utcAll(m map[string]time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for k, v := range m {
		out[k] = v.UTC()
	}
	return out
}

// A target whose phases fit no window of its site never starts: it stays
// pending with the reason, and the rollout ends.
func TestRolloutNoWindowFits(t *testing.T) {
	london := site(t, `{"name": "leeds", "timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"],
	  "wed": ["08:00-18:00"], "thu": ["08:00-18:00"], "fri": ["08:00-18:00"], "sat": ["08:00-18:00"], "sun": ["08:00-18:00"]}}`)
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	phases := []fleet.Phase{{Name: "patch", Estimate: 20 * time.Hour, Run: func(context.Context, fleet.Target) error { return nil }}}
	r, err := fleet.NewRollout([]fleet.Target{{ID: "a", Site: london}}, phases, fleet.WithClock(clk))
	require.NoError(t, err)
	require.NoError(t, r.Run(context.Background()))
	rec := r.Report().Targets[0]
	require.Equal(t, fleet.Pending, rec.Outcome)
	require.Contains(t, rec.Error, "no window of its site in 400 days has room for 20h0m0s")

	_, err = fleet.NewRollout([]fleet.Target{{ID: "b", Site: &afterhours.Site{}}}, phases)
	require.ErrorIs(t, err, fleet.ErrInvalidTarget)
}

// runWindows runs a rollout of one phase of the estimate over targets,
// moving clk to each waiting target's start once every target has started
// or waits; it returns when each started, and when the waiting ones were
// told they would.
func runWindows(t *testing.T, clk *clock.Mock, targets []fleet.Target, estimate time.Duration) (map[string]time.Time, map[string]time.Time) {
	phases := []fleet.Phase{{Name: "patch", Estimate: estimate, Run: func(context.Context, fleet.Target) error { return nil }}}
	r, err := fleet.NewRollout(targets, phases, fleet.WithClock(clk), fleet.WithConcurrency(fleet.Count(10)))
	require.NoError(t, err)
	events, unsubscribe := r.Subscribe()
	defer unsubscribe()
	done := make(chan error)
	go func() { done <- r.Run(context.Background()) }()
	until := map[string]time.Time{}
	started := map[string]time.Time{}
	for ev := range events {
		switch ev.Kind {
		case fleet.EventWaiting:
			until[ev.Target] = ev.Until
			// The report says when it will start.
			for _, rec := range r.Report().Targets {
				if rec.ID == ev.Target {
					require.Equal(t, ev.Until, rec.NextStart)
					require.Equal(t, fleet.Pending, rec.Outcome)
				}
			}
		case fleet.EventStarted:
			started[ev.Target] = ev.At
		}
		if len(started)+len(until) >= len(targets) && len(started) < len(targets) {
			// Every target started or waits: move to the next start.
			var next time.Time
			for id, at := range until {
				if _, ok := started[id]; !ok && (next.IsZero() || at.Before(next)) {
					next = at
				}
			}
			if !next.IsZero() && next.After(clk.Now()) {
				go clk.Set(next)
			}
		}
	}
	require.NoError(t, <-done)
	return started, until
}

// The stretch of after-hours time holds the DST change: from Friday 27
// March 2026 18:00 GMT to Monday 30 March 08:00 BST is 61 hours, not 62.
// 61 hours of phases fit that weekend; 61h30m wait for the next.
func TestRolloutWindowsDST(t *testing.T) {
	london := site(t, `{"name": "leeds", "timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"],
	  "wed": ["08:00-18:00"], "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]}}`)
	for _, tc := range []struct {
		estimate time.Duration
		want     time.Time
	}{
		{61 * time.Hour, time.Date(2026, 3, 27, 18, 0, 0, 0, time.UTC)},
		{61*time.Hour + 30*time.Minute, time.Date(2026, 4, 3, 17, 0, 0, 0, time.UTC)},
	} {
		clk := clock.NewMock()
		clk.Set(time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC))
		started, _ := runWindows(t, clk, []fleet.Target{{ID: "till", Site: london}}, tc.estimate)
		require.Equal(t, tc.want, started["till"].UTC(), "%v", tc.estimate)
	}
}

// The killswitch ends a rollout whose targets wait for their window: they
// stay pending, with when they would have started.
func TestRolloutKilledWhileWaiting(t *testing.T) {
	london := site(t, `{"name": "leeds", "timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"]}}`)
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	phases := []fleet.Phase{{Name: "patch", Run: func(context.Context, fleet.Target) error { return nil }}}
	r, err := fleet.NewRollout([]fleet.Target{{ID: "a", Site: london}}, phases, fleet.WithClock(clk))
	require.NoError(t, err)
	events, unsubscribe := r.Subscribe()
	defer unsubscribe()
	done := make(chan error)
	go func() { done <- r.Run(context.Background()) }()
	for ev := range events {
		if ev.Kind == fleet.EventWaiting {
			break
		}
	}
	r.Kill("freeze")
	require.ErrorIs(t, <-done, fleet.ErrKilled)
	rec := r.Report().Targets[0]
	require.Equal(t, fleet.Pending, rec.Outcome)
	require.Equal(t, time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC), rec.NextStart.UTC())
}

// jumpingClock is a mock clock that reaches the instant a timer is asked
// for just before the timer is made, as a test's clock set from another
// goroutine may: the timer the mock then makes is set a whole delay late.
type jumpingClock struct{ *clock.Mock }

func (c jumpingClock) After(d time.Duration) <-chan time.Time {
	if d > 0 {
		c.Mock.Add(d)
	}
	return c.Mock.After(d)
}

// A target waiting for its window starts when the clock reaches the
// window, even when the clock gets there while the rollout makes its
// timer.
func TestRolloutWindowClockMovedMeanwhile(t *testing.T) {
	kathmandu := site(t, `{"name": "patan", "timezone": "Asia/Kathmandu", "business_hours": {"mon": ["08:00-18:00"]}}`)
	mock := clock.NewMock()
	mock.Set(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	phases := []fleet.Phase{{Name: "patch", Estimate: time.Minute, Run: func(context.Context, fleet.Target) error { return nil }}}
	r, err := fleet.NewRollout([]fleet.Target{{ID: "k", Site: kathmandu}}, phases, fleet.WithClock(jumpingClock{mock}))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second): // a failure guard: it takes microseconds
		t.Fatal("the target still waits for a window the clock has reached")
	}
	rec := r.Report().Targets[0]
	require.Equal(t, fleet.Succeeded, rec.Outcome)
	require.Equal(t, time.Date(2026, 11, 23, 12, 15, 0, 0, time.UTC), rec.Start.UTC())
}
