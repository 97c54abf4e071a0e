package fleet

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestTimeoutAbandonsLockedAction: a phase with a timeout of 200 ms whose
// action blocks without watching its context (seed 002: "kill script
// threads if they're locked") is abandoned the kill grace after its
// deadline: its target fails at once with an error that says so, without
// the retries its phase allows; the one concurrency slot is freed for the
// next targets; an event reports it; and Run returns while the action's
// goroutine still runs. An action that returns late, within the grace, is
// an ordinary timeout, retried.
func TestTimeoutAbandonsLockedAction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var mu sync.Mutex
		calls := map[string]int{}
		act := func(ctx context.Context, tg Target) error {
			mu.Lock()
			calls[tg.ID]++
			mu.Unlock()
			switch tg.ID {
			case "t000":
				<-release // locked: deaf to ctx
				return nil
			case "t001":
				<-ctx.Done()
				<-time.After(time.Second) // late, but within the grace
				return ctx.Err()
			}
			return nil
		}
		patch := Phase{Name: "patch", Run: act, Timeout: 200 * time.Millisecond, Retries: 2}
		r := mustRollout(t, makeTargets(3, 0), []Phase{patch},
			WithConcurrency(Count(1)), WithErrorBudget(Count(2)), WithKillGrace(5*time.Second))
		events, unsubscribe := r.Subscribe()
		defer unsubscribe()
		begin := time.Now()
		if err := r.Run(context.Background()); err != nil {
			t.Fatalf("Run = %v", err)
		}
		// t000: 200 ms, then the grace of 5 s; t001: 3 attempts of 1.2 s.
		if took, want := time.Since(begin), 5200*time.Millisecond+3*1200*time.Millisecond; took != want {
			t.Errorf("Run took %v, want %v", took, want)
		}
		recs := r.Report().Targets
		if rec := recs[0]; rec.Outcome != Failed || rec.Attempts != 1 || !strings.Contains(rec.Error, "abandoned") ||
			!strings.Contains(rec.Error, "200ms") || !strings.Contains(rec.Error, "5s") {
			t.Errorf("locked target: %+v", rec)
		}
		if rec := recs[1]; rec.Outcome != Failed || rec.Attempts != 3 || !strings.HasPrefix(rec.Error, "timed out after 200ms") {
			t.Errorf("late target: %+v", rec)
		}
		if rec := recs[2]; rec.Outcome != Succeeded {
			t.Errorf("next target: %+v", rec)
		}
		mu.Lock()
		if calls["t000"] != 1 || calls["t001"] != 3 {
			t.Errorf("calls %v: the abandoned attempt must not be retried", calls)
		}
		mu.Unlock()
		abandoned := 0
		for e := range events {
			if e.Kind == EventAbandoned {
				abandoned++
				if e.Target != "t000" || e.Phase != "patch" || e.Attempt != 1 || e.Err == nil {
					t.Errorf("event %+v", e)
				}
			}
		}
		if abandoned != 1 {
			t.Errorf("%d abandoned events, want 1", abandoned)
		}
		close(release) // the leaked goroutine ends, for goleak
		synctest.Wait()
	})
}

// TestTimeoutAbandonsCritical: an abandoned attempt at a critical phase is
// a critical failure: it stops the rollout and escalates.
func TestTimeoutAbandonsCritical(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var escalated []string
		drain := Phase{Name: "drain", Critical: true, Timeout: time.Minute, Run: func(context.Context, Target) error {
			<-release
			return nil
		}}
		r := mustRollout(t, makeTargets(2, 0), []Phase{drain}, WithEscalation(func(e Escalation) { escalated = append(escalated, e.Record.ID) }))
		err := r.Run(context.Background())
		if err == nil || !strings.Contains(err.Error(), "abandoned") {
			t.Errorf("Run = %v", err)
		}
		if st := r.Status(); st.State != StateCritical || st.Counts.Critical != 1 || st.Counts.Pending != 1 || len(escalated) != 1 {
			t.Errorf("status %v %+v, escalated %v", st.State, st.Counts, escalated)
		}
		close(release)
		synctest.Wait()
	})
}
