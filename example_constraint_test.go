package afterhours_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
)

// replicaLag is a custom constraint: no work that uses the database starts
// while its replica lags behind. Work that does not use it is allowed.
type replicaLag struct {
	lag func() time.Duration // how far behind the replica is
	max time.Duration
}

func (c replicaLag) Name() string { return "replica-lag" }

func (c replicaLag) Check(ctx context.Context, chk afterhours.Check) afterhours.Verdict {
	if !slices.Contains(chk.Task.Uses, "db") {
		return afterhours.Allowed()
	}
	if lag := c.lag(); lag > c.max {
		// Refused defers the step for the cycle; WaitFor would ask again
		// later in the window.
		return afterhours.Refused("replica %v behind, more than %v", lag, c.max)
	}
	return afterhours.Allowed()
}

// A custom Constraint, given to the executor with WithConstraints: the step
// it refuses is deferred with the reason "constraint:" and its name.
func ExampleConstraint() {
	var p afterhours.Profile
	if err := json.Unmarshal([]byte(`{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"]}},
	  "housekeeping": [{"name": "vacuum-db", "estimate": "20m", "uses": ["db"]},
	    {"name": "rotate-logs", "estimate": "2m", "uses": ["disk"]}]
	}`), &p); err != nil {
		fmt.Println(err)
		return
	}
	ok := afterhours.ActionFunc(func(context.Context) error { return nil })
	p.Housekeeping[0].Action, p.Housekeeping[1].Action = ok, ok
	if err := p.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	lagging := replicaLag{lag: func() time.Duration { return 5 * time.Minute }, max: time.Minute}
	e, err := afterhours.NewExecutor(&p, afterhours.WithClock(clk), afterhours.WithConstraints(lagging))
	if err != nil {
		fmt.Println(err)
		return
	}
	events, unsubscribe := e.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	seen := 0
	for ev := range events {
		switch ev.Kind {
		case afterhours.EventDeferred:
			fmt.Println(ev.Kind, ev.Task, ev.Reason, "-", ev.Detail)
		case afterhours.EventFinished:
			fmt.Println(ev.Kind, ev.Task)
		default:
			continue
		}
		if seen++; seen == 2 {
			break
		}
	}
	cancel()
	<-done
	// Output:
	// deferred vacuum-db constraint:replica-lag - replica 5m0s behind, more than 1m0s
	// finished rotate-logs
}
