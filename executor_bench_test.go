package afterhours

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
	"github.com/afterhours-go/afterhours/internal/proc"
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

// BenchmarkExecutorRuns measures the executor's cost per run as the runs
// of a cycle grow: a cycle of N housekeeping steps of no-op actions, run
// back to back on a memory store (issue 15: flat within 1.5x from 100 to
// 10,000 runs). A journal write that rewrote the cycle made it grow with
// N. Its actions are Go actions, which need no cgroup: the executor's
// own cgroup, made and removed by each Run (milliseconds whatever the
// runs), is left out, with process groups asked for.
func BenchmarkExecutorRuns(b *testing.B) {
	defer func(open func() (*proc.Cgroups, error)) { openCgroups = open }(openCgroups)
	openCgroups = func() (*proc.Cgroups, error) { return nil, errors.New("process groups asked for") }
	for _, runs := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("runs=%d", runs), func(b *testing.B) {
			p := noopSteps(b, runs)
			clk := fakeclock.NewManual(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				runCycle(b, p, clk, NewMemoryStore(), runs)
				n += runs
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/run")
		})
	}
}

// noopSteps returns a profile of n housekeeping steps of no-op actions.
func noopSteps(tb testing.TB, n int) *Profile {
	tb.Helper()
	hk := make([]string, n)
	for i := range n {
		hk[i] = fmt.Sprintf(`{"name": "t%d", "run": ["/bin/true"], "estimate": "1s"}`, i)
	}
	src := `{"client": "b", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}}, "housekeeping": [` + strings.Join(hk, ",") + `]}`
	p := profileWith(tb, src, nil, nil, nil)
	for _, t := range p.Housekeeping {
		t.Action = noop{}
	}
	return p
}

// runCycle runs a new executor of p on store until it is idle (events
// may be dropped for a slow subscriber, so they are not counted), and
// checks that runs runs completed.
func runCycle(tb testing.TB, p *Profile, clk Clock, store Store, runs int) *Executor {
	tb.Helper()
	e, err := NewExecutor(p, WithClock(clk), WithStore(store))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.idleHook = func(time.Time) { cancel() }
	if err := e.Run(ctx); err != nil {
		tb.Fatal(err)
	}
	js := e.Journal()
	if n := len(js[len(js)-1].Completed()); n != runs {
		tb.Fatalf("%d runs completed, want %d", n, runs)
	}
	return e
}

// BenchmarkTimersDue measures how long the runs of 2,000 timers due at
// one instant take to settle (every run started and finished, each in the
// journal), from the wake at that instant (issue 15: under 0.5 s on a
// memory store); timers=2000,store=file is the same on a FileStore, with
// the fsyncs of its log, and reports them.
func BenchmarkTimersDue(b *testing.B) {
	for _, store := range []string{"memory", "file"} {
		name := "timers=2000"
		if store != "memory" {
			name += ",store=" + store
		}
		b.Run(name, func(b *testing.B) {
			const timers = 2000
			tt := make([]string, timers)
			for i := range timers {
				tt[i] = fmt.Sprintf(`{"name": "t%d", "repeat": "daily", "start": "2026-11-23T19:30:00Z", "run": ["/bin/true"], "estimate": "1s"}`, i)
			}
			src := `{"client": "b", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}}, "timers": [` + strings.Join(tt, ",") + `]}`
			p := profileWith(b, src, nil, nil, nil)
			for _, t := range p.Timers {
				t.Action = noop{}
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				clk := fakeclock.NewManual(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
				var s Store = NewMemoryStore()
				if store == "file" {
					fs, err := OpenFileStore(b.TempDir())
					if err != nil {
						b.Fatal(err)
					}
					defer fs.Close()
					s = fs
				}
				e, err := NewExecutor(p, WithClock(clk), WithStore(s))
				if err != nil {
					b.Fatal(err)
				}
				due := time.Date(2026, 11, 23, 19, 30, 0, 0, time.UTC)
				// Events may be dropped for a slow subscriber: the loop
				// going idle after the instant says the runs settled.
				settled := make(chan struct{}, 1)
				e.idleHook = func(time.Time) {
					if !clk.Now().Before(due) {
						select {
						case settled <- struct{}{}:
						default:
						}
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error)
				go func() { done <- e.Run(ctx) }()
				clk.WaitTimers(1)
				b.StartTimer()
				clk.AdvanceTo(due)
				<-settled
				b.StopTimer()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				if n := len(e.Journal()[len(e.Journal())-1].Completed()); n != timers {
					b.Fatalf("%d timer runs completed, want %d", n, timers)
				}
				b.StartTimer()
			}
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
	p := exampleNoopProfile(b)
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
	p := exampleNoopProfile(t)
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
