package afterhours_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
)

// An agent keeps its journal in a FileStore, so that a restarted executor
// knows what ran: here a night runs, the store is closed, and a new
// executor on the reopened store reads the journal back.
func ExampleFileStore() {
	tmp, err := os.MkdirTemp("", "afterhours-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "state") // created with mode 0700

	var p afterhours.Profile
	if err := json.Unmarshal([]byte(`{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"]}},
	  "housekeeping": [{"name": "rotate-logs", "estimate": "2m"}]
	}`), &p); err != nil {
		fmt.Println(err)
		return
	}
	p.Housekeeping[0].Action = afterhours.ActionFunc(func(context.Context) error { return nil })
	if err := p.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))

	store, err := afterhours.OpenFileStore(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := afterhours.NewExecutor(&p, afterhours.WithClock(clk), afterhours.WithStore(store))
	if err != nil {
		fmt.Println(err)
		return
	}
	events, unsubscribe := e.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	for ev := range events {
		if ev.Kind == afterhours.EventFinished && ev.Task == "rotate-logs" {
			break
		}
	}
	unsubscribe()
	cancel()
	<-done
	if err := store.Close(); err != nil {
		fmt.Println(err)
		return
	}

	// The agent restarts.
	store, err = afterhours.OpenFileStore(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	e, err = afterhours.NewExecutor(&p, afterhours.WithClock(clk), afterhours.WithStore(store))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range e.Journal() {
		fmt.Println("cycle", c.Day)
		for _, r := range c.Records {
			fmt.Println(" ", r.Task, r.State, r.Start.Format("15:04"), "-", r.End.Format("15:04"))
		}
	}
	// Output:
	// cycle 2026-11-23
	//   rotate-logs completed 19:00 - 19:00
}
