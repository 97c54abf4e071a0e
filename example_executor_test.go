package afterhours_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
)

func ExampleExecutor() {
	var p afterhours.Profile
	if err := json.Unmarshal([]byte(`{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"]}},
	  "housekeeping": [{"name": "rotate-logs", "estimate": "2m"}],
	  "updates": [{"name": "openssl-3.0.15", "estimate": "5m"}],
	  "self_update": {"name": "agent-2.4.1", "estimate": "3m"}
	}`), &p); err != nil {
		fmt.Println(err)
		return
	}
	// Go actions instead of command lines.
	say := afterhours.ActionFunc(func(ctx context.Context) error { return nil })
	p.Housekeeping[0].Action, p.Updates[0].Action, p.SelfUpdate.Action = say, say, say
	if err := p.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	// Monday 23 November 2026, 19:00 in London: in the night's window.
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	e, err := afterhours.NewExecutor(&p, afterhours.WithClock(clk))
	if err != nil {
		fmt.Println(err)
		return
	}
	events, unsubscribe := e.Subscribe()
	defer unsubscribe()
	// A command sent before the night's steps start runs first.
	if err := e.Submit(afterhours.Command{ID: "c-17", Name: "fix-disk", Action: say}); err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	for ev := range events {
		if ev.Task == "" {
			fmt.Println(ev.Kind)
			continue
		}
		fmt.Println(ev.Kind, ev.TaskKind, ev.Task)
		if ev.Kind == afterhours.EventFinished && ev.TaskKind == afterhours.SelfUpdate {
			break
		}
	}
	cancel()
	<-done
	st := e.Status()
	fmt.Printf("cycle %s: %d completed, progress %.0f%%\n", st.Day, len(st.Completed), st.Progress*100)
	for _, r := range st.Completed {
		fmt.Println(" ", r.Run, "started", r.Start.Format("15:04"), "planned", r.PlannedStart.Format("15:04"))
	}
	// Output:
	// command-accepted command fix-disk
	// planned
	// started command fix-disk
	// finished command fix-disk
	// started housekeeping rotate-logs
	// finished housekeeping rotate-logs
	// started update openssl-3.0.15
	// finished update openssl-3.0.15
	// started self-update agent-2.4.1
	// finished self-update agent-2.4.1
	// cycle 2026-11-23: 4 completed, progress 100%
	//   2026-11-23/rotate-logs#1 started 19:00 planned 19:00
	//   2026-11-23/openssl-3.0.15#1 started 19:00 planned 19:02
	//   2026-11-23/agent-2.4.1#1 started 19:00 planned 19:07
	//   2026-11-23/fix-disk#1 started 19:00 planned 19:00
}
