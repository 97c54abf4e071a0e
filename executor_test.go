package afterhours

import (
	"testing"
	"testing/synctest"
	"time"
)

const smallShop = `{
  "client": "shop-1",
  "site": {"timezone": "Europe/London",
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
      "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]},
    "grace": "30m"},
  "sharing": [{"token": "pkg-repo", "base": "01:40", "duration": "20m", "buffer": "10m", "uses": ["network"],
     "tasks": [{"name": "fetch", "run": ["/bin/true"], "estimate": "10m", "uses": ["network"]}]}],
  "housekeeping": [
    {"name": "rotate", "run": ["/bin/true"], "estimate": "10m", "uses": ["disk"]},
    {"name": "vacuum", "run": ["/bin/true"], "estimate": "1h", "uses": ["db"]}],
  "updates": [{"name": "openssl", "run": ["/bin/true"], "estimate": "30m"}],
  "self_update": {"name": "agent", "run": ["/bin/true"], "estimate": "5m"}
}`

// Monday 23 November 2026, noon UTC (London is on GMT).
var monNoon = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func TestExecutorOneNight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		e, err := NewExecutor(p, WithClock(newSimClock(monNoon)))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 22*time.Hour); err != nil {
			t.Fatal(err)
		}
		js := e.Journal()
		dumpJournal(t, js)
		for _, name := range []string{"rotate", "vacuum", "openssl", "agent", "fetch"} {
			if n := len(records(js, name, StateCompleted)); n != 1 {
				t.Errorf("%s completed %d times, want 1", name, n)
			}
		}
		// The journal is the planner's history: the one-offs are done, and
		// the next plan holds what the planning invariants require.
		now := monNoon.Add(24 * time.Hour)
		plan, err := PlanAt(p, now, WithHistory(e.History()))
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, p, now, e.History(), plan)
		for _, d := range plan.Deferred {
			if (d.Task.Name == "openssl" || d.Task.Name == "agent") && d.Reason != ReasonDone {
				t.Errorf("%s deferred as %s, want done", d.Task.Name, d.Reason)
			}
		}
		if len(plan.Steps) != 2 {
			t.Errorf("next night's steps %v, want the two housekeeping tasks", plan.Steps)
		}
	})
}
