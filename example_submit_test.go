package afterhours_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
)

// A command is the operator's fix for now: it runs at once, even in
// business hours, before the next step of the sequence. Its id is accepted
// once, and its tags must match the site.
func ExampleExecutor_Submit() {
	p, err := afterhours.ParseProfile([]byte(`{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/London", "tags": ["uk", "retail"],
	    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"]}}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Monday 23 November 2026, 10:00 in London: business hours.
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	e, err := afterhours.NewExecutor(p, afterhours.WithClock(clk))
	if err != nil {
		fmt.Println(err)
		return
	}
	events, unsubscribe := e.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()

	clear := afterhours.ActionFunc(func(context.Context) error { return nil })
	err = e.Submit(afterhours.Command{ID: "c-17", Name: "clear-spool", Action: clear})
	fmt.Println("submit c-17:", err)
	for ev := range events {
		if ev.Task == "clear-spool" {
			fmt.Println(ev.Kind, ev.At.Format("15:04"))
			if ev.Kind == afterhours.EventFinished {
				break
			}
		}
	}
	err = e.Submit(afterhours.Command{ID: "c-17", Action: clear})
	fmt.Println("c-17 again:", errors.Is(err, afterhours.ErrDuplicateCommand))
	err = e.Submit(afterhours.Command{ID: "c-18", Tags: []string{"kiosk"}, Action: clear})
	fmt.Println("c-18 for kiosks:", errors.Is(err, afterhours.ErrNotForSite))
	cancel()
	<-done
	// Output:
	// submit c-17: <nil>
	// command-accepted 10:00
	// started 10:00
	// finished 10:00
	// c-17 again: true
	// c-18 for kiosks: true
}
