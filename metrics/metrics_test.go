package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
	"github.com/afterhours-go/afterhours/metrics"
	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// night runs one known night of an executor on a mock clock: rotate-logs
// completes in 2 minutes, backup fails after 1, old is disabled, the
// update completes in 5, and a command completes at once. It returns the
// executor once the update has finished, its Run still running, and a
// function that stops Run.
func night(t *testing.T) (*afterhours.Executor, *clock.Mock, func()) {
	t.Helper()
	var p afterhours.Profile
	require.NoError(t, json.Unmarshal([]byte(`{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"]}},
	  "housekeeping": [{"name": "rotate-logs", "estimate": "2m"}, {"name": "backup", "estimate": "1m"},
	    {"name": "old", "estimate": "1m", "enabled": false}],
	  "updates": [{"name": "openssl-3.0.15", "estimate": "5m"}]
	}`), &p))
	clk := clock.NewMock()
	takes := func(d time.Duration, err error) afterhours.Action {
		return afterhours.ActionFunc(func(context.Context) error {
			clk.Add(d)
			return err
		})
	}
	p.Housekeeping[0].Action = takes(2*time.Minute, nil)
	p.Housekeeping[1].Action = takes(time.Minute, errors.New("exit status 2"))
	p.Housekeeping[2].Action = takes(0, nil)
	p.Updates[0].Action = takes(5*time.Minute, nil)
	require.NoError(t, p.Validate())
	// Monday 23 November 2026, 19:00 in London: in the night's window.
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	e, err := afterhours.NewExecutor(&p, afterhours.WithClock(clk))
	require.NoError(t, err)
	events, unsubscribe := e.Subscribe()
	defer unsubscribe()
	require.NoError(t, e.Submit(afterhours.Command{ID: "c-1", Name: "fix-disk", Action: takes(0, nil)}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	for ev := range events {
		if ev.Kind == afterhours.EventFinished && ev.TaskKind == afterhours.Update {
			break
		}
	}
	return e, clk, func() { cancel(); <-done }
}

const runsHelp = `
# HELP afterhours_executor_runs_total Runs that ended, by kind and outcome (completed, failed, interrupted).
# TYPE afterhours_executor_runs_total counter
afterhours_executor_runs_total{client="shop-0042",kind="command",outcome="completed"} 1
afterhours_executor_runs_total{client="shop-0042",kind="housekeeping",outcome="completed"} 1
afterhours_executor_runs_total{client="shop-0042",kind="housekeeping",outcome="failed"} 1
afterhours_executor_runs_total{client="shop-0042",kind="update",outcome="completed"} 1
# HELP afterhours_executor_deferrals_total Tasks deferred, by kind and reason.
# TYPE afterhours_executor_deferrals_total counter
afterhours_executor_deferrals_total{client="shop-0042",kind="housekeeping",reason="disabled"} 1
`

// After a known night, the counters say what ran, failed and was
// deferred, and a second scrape counts nothing twice.
func TestExecutorAfterANight(t *testing.T) {
	e, _, stop := night(t)
	c := metrics.NewExecutor(e, map[string]string{"client": "shop-0042"})
	for range 2 {
		require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(runsHelp),
			"afterhours_executor_runs_total", "afterhours_executor_deferrals_total"))
	}
	const gauges = `
# HELP afterhours_executor_killed 1 while the killswitch is on.
# TYPE afterhours_executor_killed gauge
afterhours_executor_killed{client="shop-0042"} 0
# HELP afterhours_executor_running 1 while the executor's Run runs.
# TYPE afterhours_executor_running gauge
afterhours_executor_running{client="shop-0042"} 1
# HELP afterhours_executor_queue_length Commands accepted and not started yet.
# TYPE afterhours_executor_queue_length gauge
afterhours_executor_queue_length{client="shop-0042"} 0
# HELP afterhours_executor_cycle_progress Share of the current cycle's steps behind it, from 0 to 1.
# TYPE afterhours_executor_cycle_progress gauge
afterhours_executor_cycle_progress{client="shop-0042"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(gauges),
		"afterhours_executor_killed", "afterhours_executor_running", "afterhours_executor_queue_length",
		"afterhours_executor_cycle_progress"))

	// The durations: rotate-logs 2 minutes, backup 1, the update 5, the
	// command none.
	const durations = `
# HELP afterhours_executor_run_duration_seconds How long runs that ended took, by kind.
# TYPE afterhours_executor_run_duration_seconds histogram
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="1"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="5"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="15"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="30"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="60"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="120"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="300"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="600"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="1800"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="3600"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="7200"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="14400"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="28800"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="command",le="+Inf"} 1
afterhours_executor_run_duration_seconds_sum{client="shop-0042",kind="command"} 0
afterhours_executor_run_duration_seconds_count{client="shop-0042",kind="command"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="1"} 0
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="5"} 0
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="15"} 0
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="30"} 0
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="60"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="120"} 2
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="300"} 2
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="600"} 2
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="1800"} 2
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="3600"} 2
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="7200"} 2
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="14400"} 2
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="28800"} 2
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="housekeeping",le="+Inf"} 2
afterhours_executor_run_duration_seconds_sum{client="shop-0042",kind="housekeeping"} 180
afterhours_executor_run_duration_seconds_count{client="shop-0042",kind="housekeeping"} 2
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="1"} 0
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="5"} 0
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="15"} 0
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="30"} 0
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="60"} 0
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="120"} 0
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="300"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="600"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="1800"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="3600"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="7200"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="14400"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="28800"} 1
afterhours_executor_run_duration_seconds_bucket{client="shop-0042",kind="update",le="+Inf"} 1
afterhours_executor_run_duration_seconds_sum{client="shop-0042",kind="update"} 300
afterhours_executor_run_duration_seconds_count{client="shop-0042",kind="update"} 1
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(durations), "afterhours_executor_run_duration_seconds"))

	// The killswitch: killed is 1 while it is on.
	e.Kill("incident 42")
	require.Equal(t, 1.0, gauge(t, c, "afterhours_executor_killed"))
	e.Resume()
	require.Equal(t, 0.0, gauge(t, c, "afterhours_executor_killed"))
	stop()
	require.Equal(t, 0.0, gauge(t, c, "afterhours_executor_running"))
	// Every kind has an active_runs series, 0 with nothing running.
	require.Equal(t, 6, testutil.CollectAndCount(c, "afterhours_executor_active_runs"))
}

// A command accepted while another runs waits in the queue, which the
// gauge shows; a run running shows in active_runs.
func TestExecutorQueueAndActive(t *testing.T) {
	var p afterhours.Profile
	require.NoError(t, json.Unmarshal([]byte(`{"client": "c", "site": {"timezone": "UTC"}}`), &p))
	require.NoError(t, p.Validate())
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	e, err := afterhours.NewExecutor(&p, afterhours.WithClock(clk))
	require.NoError(t, err)
	started, release := make(chan struct{}), make(chan struct{})
	blocking := afterhours.ActionFunc(func(ctx context.Context) error {
		close(started)
		<-release
		return nil
	})
	require.NoError(t, e.Submit(afterhours.Command{ID: "c-1", Name: "first", Action: blocking}))
	require.NoError(t, e.Submit(afterhours.Command{ID: "c-2", Name: "second", Action: afterhours.ActionFunc(func(context.Context) error { return nil })}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	<-started
	c := metrics.NewExecutor(e, nil)
	require.Equal(t, 1.0, gauge(t, c, "afterhours_executor_queue_length"))
	const active = `
# HELP afterhours_executor_active_runs Runs running now, by kind.
# TYPE afterhours_executor_active_runs gauge
afterhours_executor_active_runs{kind="command"} 1
afterhours_executor_active_runs{kind="housekeeping"} 0
afterhours_executor_active_runs{kind="self-update"} 0
afterhours_executor_active_runs{kind="shared"} 0
afterhours_executor_active_runs{kind="timer"} 0
afterhours_executor_active_runs{kind="update"} 0
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(active), "afterhours_executor_active_runs"))
	close(release)
	cancel()
	<-done
}

// gauge returns the value of the single series of name.
func gauge(t *testing.T, c *metrics.Executor, name string) float64 {
	t.Helper()
	require.Equal(t, 1, testutil.CollectAndCount(c, name))
	return testutil.ToFloat64(filter{c, name})
}

// A rollout of five targets with one failure and a budget of two: the
// counts by outcome, the budget left and the state.
func TestRollout(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC))
	patch := []fleet.Phase{{Name: "patch", Run: func(_ context.Context, tg fleet.Target) error {
		clk.Add(time.Minute)
		if tg.ID == "t3" {
			return errors.New("exit status 100")
		}
		return nil
	}}}
	var targets []fleet.Target
	for _, id := range []string{"t1", "t2", "t3", "t4", "t5"} {
		targets = append(targets, fleet.Target{ID: id})
	}
	r, err := fleet.NewRollout(targets, patch, fleet.WithClock(clk), fleet.WithErrorBudget(fleet.Count(2)))
	require.NoError(t, err)
	c := metrics.NewRollout(r, map[string]string{"rollout": "openssl"})
	before := `
# HELP afterhours_rollout_budget_left Failures the error budget still tolerates.
# TYPE afterhours_rollout_budget_left gauge
afterhours_rollout_budget_left{rollout="openssl"} 2
# HELP afterhours_rollout_targets_total Targets of the rollout.
# TYPE afterhours_rollout_targets_total gauge
afterhours_rollout_targets_total{rollout="openssl"} 5
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(before),
		"afterhours_rollout_budget_left", "afterhours_rollout_targets_total"))
	require.NoError(t, r.Run(context.Background()))
	after := `
# HELP afterhours_rollout_budget_left Failures the error budget still tolerates.
# TYPE afterhours_rollout_budget_left gauge
afterhours_rollout_budget_left{rollout="openssl"} 1
# HELP afterhours_rollout_running Targets running now.
# TYPE afterhours_rollout_running gauge
afterhours_rollout_running{rollout="openssl"} 0
# HELP afterhours_rollout_state 1 for the rollout's state, 0 for the others.
# TYPE afterhours_rollout_state gauge
afterhours_rollout_state{rollout="openssl",state="budget-exhausted"} 0
afterhours_rollout_state{rollout="openssl",state="completed"} 1
afterhours_rollout_state{rollout="openssl",state="critical"} 0
afterhours_rollout_state{rollout="openssl",state="killed"} 0
afterhours_rollout_state{rollout="openssl",state="ready"} 0
afterhours_rollout_state{rollout="openssl",state="record-failed"} 0
afterhours_rollout_state{rollout="openssl",state="running"} 0
# HELP afterhours_rollout_targets Targets by outcome.
# TYPE afterhours_rollout_targets gauge
afterhours_rollout_targets{outcome="abandoned",rollout="openssl"} 0
afterhours_rollout_targets{outcome="critical",rollout="openssl"} 0
afterhours_rollout_targets{outcome="elsewhere",rollout="openssl"} 0
afterhours_rollout_targets{outcome="failed",rollout="openssl"} 1
afterhours_rollout_targets{outcome="interrupted",rollout="openssl"} 0
afterhours_rollout_targets{outcome="killed",rollout="openssl"} 0
afterhours_rollout_targets{outcome="pending",rollout="openssl"} 0
afterhours_rollout_targets{outcome="running",rollout="openssl"} 0
afterhours_rollout_targets{outcome="stopped",rollout="openssl"} 0
afterhours_rollout_targets{outcome="succeeded",rollout="openssl"} 4
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(after),
		"afterhours_rollout_budget_left", "afterhours_rollout_running", "afterhours_rollout_state", "afterhours_rollout_targets"))
}
