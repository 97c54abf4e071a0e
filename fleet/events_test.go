package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// TestEvents: a subscriber sees each target start, begin its phases and
// finish, in order, then the end, then the channel closes.
func TestEvents(t *testing.T) {
	phases := []Phase{
		{Name: "drain", Run: func(context.Context, Target) error { return nil }},
		{Name: "patch", Run: func(_ context.Context, tg Target) error {
			if tg.ID == "t001" {
				return errBoom
			}
			return nil
		}},
	}
	r := mustRollout(t, makeTargets(2, 0), phases, WithErrorBudget(Count(1)))
	events, _ := r.Subscribe()
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for e := range events {
		s := e.Kind.String()
		if e.Target != "" {
			s += " " + e.Target + " " + e.Phase
		}
		if e.Kind == EventFinished || e.Kind == EventEnded {
			s += fmt.Sprintf(" %v%v", e.Outcome, e.State)
		}
		got = append(got, s)
	}
	want := []string{
		"started t000 ", "phase t000 drain", "phase t000 patch", "finished t000 patch succeededready",
		"started t001 ", "phase t001 drain", "phase t001 patch", "finished t001 patch failedready",
		"ended pendingcompleted",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// After the end, a subscription is closed at once.
	late, _ := r.Subscribe()
	if _, ok := <-late; ok {
		t.Error("subscription after the end is open")
	}
}

// TestSlowSubscriber: a subscriber that never reads does not slow the
// rollout; one that falls behind is told how many events it lost.
func TestSlowSubscriber(t *testing.T) {
	const n = 3000
	noop := one(func(context.Context, Target) error { return nil })
	r := mustRollout(t, makeTargets(n, 0), noop, WithConcurrency(Count(100)))
	deaf, _ := r.Subscribe()
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := 0
	for range deaf {
		got++
	}
	if got != eventBuffer {
		t.Errorf("deaf subscriber got %d events, want the buffer's %d", got, eventBuffer)
	}

	// 2,000 targets start and wait: 4,000 events for a buffer of 1,024.
	started := make(chan struct{}, 2000)
	wait := one(func(ctx context.Context, _ Target) error { started <- struct{}{}; <-ctx.Done(); return ctx.Err() })
	r = mustRollout(t, makeTargets(2000, 0), wait, WithConcurrency(Count(2000)))
	events, unsubscribe := r.Subscribe()
	done := make(chan error)
	go func() { done <- r.Run(context.Background()) }()
	for range 2000 {
		<-started
	}
	for range eventBuffer {
		<-events
	}
	r.Kill("test")
	e := <-events
	if e.Kind != EventStopping || e.Missed != 4000-eventBuffer {
		t.Errorf("first event after the gap: %v, missed %d; want stopping, missed %d", e.Kind, e.Missed, 4000-eventBuffer)
	}
	unsubscribe()
	unsubscribe()
	if err := <-done; !errors.Is(err, ErrKilled) {
		t.Fatal(err)
	}
}

func TestRetries(t *testing.T) {
	clk := fakeclock.NewManual(t0)
	tries := map[string]int{}
	phases := []Phase{{Name: "patch", Retries: 2, RetryDelay: time.Minute, Run: func(_ context.Context, tg Target) error {
		tries[tg.ID]++
		if tg.ID == "flaky" && tries[tg.ID] < 3 || tg.ID == "broken" {
			if tries[tg.ID] < 3 { // a retry follows: let its delay pass
				go func() { clk.WaitTimers(1); clk.Advance(time.Minute) }()
			}
			return fmt.Errorf("try %d", tries[tg.ID])
		}
		return nil
	}}}
	r := mustRollout(t, []Target{{ID: "flaky"}, {ID: "broken"}, {ID: "fine"}}, phases, WithClock(clk), WithErrorBudget(Count(5)))
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs := r.Report().Targets
	if recs[0].Outcome != Succeeded || recs[0].Attempts != 3 || !recs[0].End.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("flaky: %+v", recs[0])
	}
	if recs[1].Outcome != Failed || recs[1].Attempts != 3 || recs[1].Error != "try 3" {
		t.Errorf("broken: %+v", recs[1])
	}
	if recs[2].Outcome != Succeeded || recs[2].Attempts != 1 {
		t.Errorf("fine: %+v", recs[2])
	}
}

// TestKillDuringRetryDelay: the killswitch ends the wait before a retry.
func TestKillDuringRetryDelay(t *testing.T) {
	clk := fakeclock.NewManual(t0)
	var r *Rollout
	phases := []Phase{{Name: "patch", Retries: 5, RetryDelay: time.Hour, Run: func(context.Context, Target) error {
		go func() { clk.WaitTimers(1); r.Kill("enough") }()
		return errBoom
	}}}
	r = mustRollout(t, makeTargets(1, 0), phases, WithClock(clk))
	if err := r.Run(context.Background()); !errors.Is(err, ErrKilled) {
		t.Fatal(err)
	}
	rec := r.Report().Targets[0]
	if rec.Outcome != Killed || rec.Attempts != 1 || !strings.Contains(rec.Error, "enough") || !strings.Contains(rec.Error, "boom") {
		t.Errorf("%+v", rec)
	}
}

func TestPanicIsFailure(t *testing.T) {
	r := mustRollout(t, makeTargets(2, 0), one(func(_ context.Context, tg Target) error {
		if tg.ID == "t000" {
			panic("nil map")
		}
		return nil
	}), WithErrorBudget(Count(1)))
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := r.Report().Targets[0]
	if rec.Outcome != Failed || rec.Error != "panic: nil map" {
		t.Errorf("%+v", rec)
	}
}

func TestPhaseTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		phases := []Phase{{Name: "patch", Timeout: time.Minute, Run: func(ctx context.Context, _ Target) error {
			<-ctx.Done()
			return ctx.Err()
		}}}
		r := mustRollout(t, makeTargets(1, 0), phases)
		err := r.Run(context.Background())
		if !errors.Is(err, ErrBudgetExhausted) {
			t.Fatal(err)
		}
		rec := r.Report().Targets[0]
		if rec.Outcome != Failed || !strings.Contains(rec.Error, "timed out after 1m0s") || rec.Duration() != time.Minute {
			t.Errorf("%+v", rec)
		}
	})
}

func TestEscalationPanicRecovered(t *testing.T) {
	phases := []Phase{{Name: "drain", Critical: true, Run: func(context.Context, Target) error { return errBoom }}}
	r := mustRollout(t, makeTargets(2, 0), phases, WithEscalation(func(Escalation) { panic("pager down") }), WithErrorBudget(Count(5)))
	if err := r.Run(context.Background()); !errors.Is(err, ErrCritical) {
		t.Fatal(err)
	}
}

func TestStatusLeft(t *testing.T) {
	st := Status{State: StateRunning, Started: t0, At: t0.Add(10 * time.Second), Total: 100,
		Counts: Counts{Pending: 70, Running: 10, Succeeded: 20}}
	if st.Rate() != 2 {
		t.Errorf("rate %v", st.Rate())
	}
	if left, ok := st.Left(); !ok || left != 40*time.Second {
		t.Errorf("left %v, %v", left, ok)
	}
	st.State = StateBudgetExhausted // no more starts: only the running remain
	if left, ok := st.Left(); !ok || left != 5*time.Second {
		t.Errorf("left after the stop %v, %v", left, ok)
	}
	st.State, st.Counts = StateRunning, Counts{Pending: 100}
	if _, ok := st.Left(); ok {
		t.Error("left known without a rate")
	}
	st.Ended = st.At
	if left, ok := st.Left(); !ok || left != 0 {
		t.Errorf("left after the end %v, %v", left, ok)
	}
}
