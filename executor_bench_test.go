package afterhours

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// noop is an action that returns at once.
type noop struct{}

func (noop) Run(context.Context) error { return nil }

// BenchmarkExecutorStep measures the executor's overhead per step: steps
// of no-op actions run back to back (each: a constraint check on its own
// goroutine, a run on its own goroutine, two journal writes to a memory
// store, events).
func BenchmarkExecutorStep(b *testing.B) {
	for _, steps := range []int{100} {
		b.Run(fmt.Sprintf("steps=%d", steps), func(b *testing.B) {
			var hk []string
			for i := range steps {
				hk = append(hk, fmt.Sprintf(`{"name": "t%d", "run": ["/bin/true"], "estimate": "1s"}`, i))
			}
			src := `{"client": "b", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}}, "housekeeping": [` + strings.Join(hk, ",") + `]}`
			p := profileWith(b, src, nil, nil, nil)
			for _, t := range p.Housekeeping {
				t.Action = noop{}
			}
			clk := clock.NewMock()
			clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
			b.ReportAllocs()
			start := time.Now()
			n := 0
			for b.Loop() {
				e, err := NewExecutor(p, WithClock(clk))
				if err != nil {
					b.Fatal(err)
				}
				ch, unsub := e.Subscribe()
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error)
				go func() { done <- e.Run(ctx) }()
				for finished := 0; finished < steps; {
					if ev := <-ch; ev.Kind == EventFinished {
						finished++
					}
				}
				cancel()
				<-done
				unsub()
				n += steps
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(n), "ns/step")
		})
	}
}

// simulate runs e on clk from its time to end, moving the clock to the
// executor's next wake whenever it is idle. Actions must be instant.
func simulate(tb testing.TB, e *Executor, clk *fakeclock.Manual, end time.Time) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.idleHook = func(at time.Time) {
		if at.IsZero() || !at.Before(end) {
			cancel()
			return
		}
		clk.AdvanceTo(at)
	}
	if err := e.Run(ctx); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkSimulatedYear runs the example profile (a quarter-hourly timer
// included: 35,000 timer runs) for 365 days of a fake clock, with no-op
// actions.
func BenchmarkSimulatedYear(b *testing.B) {
	data, err := os.ReadFile("examples/plan/example.profile.json")
	if err != nil {
		b.Fatal(err)
	}
	p := profileWith(b, string(data), nil, nil, nil)
	for _, t := range allTasks(p) {
		t.Action = noop{}
	}
	start := time.Date(2026, 11, 16, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		clk := fakeclock.NewManual(start)
		e, err := NewExecutor(p, WithClock(clk))
		if err != nil {
			b.Fatal(err)
		}
		simulate(b, e, clk, start.AddDate(1, 0, 0))
	}
}

// TestSimulatedYearSmoke runs a week the way BenchmarkSimulatedYear runs a
// year, and checks the stepping clock drives every cycle.
func TestSimulatedYearSmoke(t *testing.T) {
	data, err := os.ReadFile("examples/plan/example.profile.json")
	if err != nil {
		t.Fatal(err)
	}
	p := profileWith(t, string(data), nil, nil, nil)
	for _, task := range allTasks(p) {
		task.Action = noop{}
	}
	start := time.Date(2026, 11, 16, 12, 0, 0, 0, time.UTC)
	clk := fakeclock.NewManual(start)
	e, err := NewExecutor(p, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	simulate(t, e, clk, start.AddDate(0, 0, 7))
	js := e.Journal()
	if len(js) != 8 {
		t.Fatalf("%d cycles", len(js))
	}
	for _, c := range js[1:7] {
		if n := len(c.Completed()); n < 40 {
			t.Errorf("cycle %s: %d runs completed", c.Day, n)
		}
	}
}
