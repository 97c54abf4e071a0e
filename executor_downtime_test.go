package afterhours

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A step still running when a "stop" downtime of a resource it uses begins
// is stopped then (rule 10). Commands and timers are not: they never meet
// downtimes.
func TestExecutorStopDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Wednesday 07:00 in Tuesday's window (it ends at 08:00). vacuum is
		// planned 07:00-07:50 but takes 2 h, within its 3 h timeout: it runs
		// past the window, and db goes down at 08:15 with "stop".
		src := `{"client": "c", "site": {"timezone": "Europe/London",
		    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"]}},
		  "housekeeping": [{"name": "vacuum", "run": ["/bin/true"], "estimate": "50m", "timeout": "3h", "uses": ["db"]}],
		  "resources": [{"name": "db", "downtimes": [{"dates": ["2026-11-25"], "from": "08:15", "to": "09:00", "action": "stop"}]}]}`
		p := profileWith(t, src, map[string]time.Duration{"vacuum": 2 * time.Hour}, nil, nil)
		start := time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
		e, err := NewExecutor(p, WithClock(newSimClock(start)))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 3*time.Hour); err != nil {
			t.Fatal(err)
		}
		js := e.Journal()
		failed := records(js, "vacuum", StateFailed)
		if len(failed) != 1 {
			dumpJournal(t, js)
			t.Fatalf("vacuum failed %d times, want once", len(failed))
		}
		r := failed[0]
		if !strings.Contains(r.Error, "db went down at 08:15 (stop)") {
			t.Errorf("vacuum: %q, want it stopped by db's downtime", r.Error)
		}
		if want := time.Date(2026, 11, 25, 8, 15, 0, 0, time.UTC); r.End.Sub(want) < 0 || r.End.Sub(want) > time.Second {
			t.Errorf("vacuum ended at %v, want when db went down, %v", r.End, want)
		}
	})
}

// An operator adds a stop downtime while a step runs: Update applies it to
// the run under way.
func TestExecutorUpdateAddsStopDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := `{"client": "c", "site": {"timezone": "UTC",
		    "business_hours": {"tue": ["08:00-18:00"], "wed": ["08:00-18:00"]}},
		  "housekeeping": [{"name": "vacuum", "run": ["/bin/true"], "estimate": "3h", "uses": ["db"]}]%s}`
		durations := map[string]time.Duration{"vacuum": 2 * time.Hour}
		p := profileWith(t, fmt.Sprintf(base, ``), durations, nil, nil)
		start := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC) // Tuesday's window opens
		e, err := NewExecutor(p, WithClock(newSimClock(start)))
		if err != nil {
			t.Fatal(err)
		}
		events, cancel := e.Subscribe()
		defer cancel()
		ctx, stop := context.WithTimeout(context.Background(), 4*time.Hour)
		defer stop()
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		for ev := range events {
			if ev.Kind == EventStarted && ev.Task == "vacuum" {
				break
			}
		}
		// 18:00: db goes down at 18:30 and its work must stop.
		q := profileWith(t, fmt.Sprintf(base, `, "resources": [{"name": "db", "downtimes": [
		    {"dates": ["2026-11-24"], "from": "18:30", "to": "19:00", "action": "stop"}]}]`), durations, nil, nil)
		if err := e.Update(q); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		failed := records(e.Journal(), "vacuum", StateFailed)
		if len(failed) != 1 || !strings.Contains(failed[0].Error, "db went down at 18:30 (stop)") {
			dumpJournal(t, e.Journal())
			t.Fatalf("vacuum: %v, want it stopped when db went down", failed)
		}
		if want := start.Add(30 * time.Minute); failed[0].End.Sub(want) > time.Second || failed[0].End.Before(want) {
			t.Errorf("vacuum ended at %v, want %v", failed[0].End, want)
		}
	})
}

// A step running late does not start in a downtime of a resource it uses:
// it waits for the downtime's end.
func TestExecutorLateStepWaitsForDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := `{"client": "c", "site": {"timezone": "UTC",
		    "business_hours": {"tue": ["08:00-18:00"], "wed": ["08:00-18:00"]}},
		  "housekeeping": [{"name": "a", "run": ["/bin/true"], "estimate": "10m"},
		    {"name": "b", "run": ["/bin/true"], "estimate": "10m", "uses": ["db"]}],
		  "resources": [{"name": "db", "downtimes": [{"dates": ["2026-11-24"], "from": "19:00", "to": "20:00", "action": "postpone"}]}]}`
		// a takes an hour, not ten minutes: b, planned for 18:10, is late.
		p := profileWith(t, src, map[string]time.Duration{"a": time.Hour}, nil, nil)
		start := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
		e, err := NewExecutor(p, WithClock(newSimClock(start)))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 4*time.Hour); err != nil {
			t.Fatal(err)
		}
		b := records(e.Journal(), "b", StateCompleted)
		if len(b) != 1 {
			dumpJournal(t, e.Journal())
			t.Fatalf("b completed %d times, want once", len(b))
		}
		if want := time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC); b[0].Start.Before(want) {
			t.Errorf("b started at %v, in db's downtime; want at or after %v", b[0].Start, want)
		}
	})
}
