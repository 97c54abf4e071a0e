package fleet

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestKillCancelsEveryAction: Kill cancels the context of every running
// action, whose causes carry the reason; no other target starts; every
// running target is recorded killed in the phase it was in.
func TestKillCancelsEveryAction(t *testing.T) {
	for _, how := range []string{"Kill", "ctx"} {
		t.Run(how, func(t *testing.T) {
			const inflight = 100
			started := make(chan struct{}, inflight)
			var mu sync.Mutex
			var causes []error
			act := func(ctx context.Context, _ Target) error {
				started <- struct{}{}
				<-ctx.Done()
				mu.Lock()
				causes = append(causes, context.Cause(ctx))
				mu.Unlock()
				return ctx.Err()
			}
			r := mustRollout(t, makeTargets(inflight+50, 0), one(act), WithConcurrency(Count(inflight)))
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			done := make(chan error)
			go func() { done <- r.Run(ctx) }()
			for range inflight {
				<-started
			}
			reason := errors.New("operator pulled the plug")
			if how == "Kill" {
				r.Kill(reason.Error())
			} else {
				cancel(reason)
			}
			err := <-done
			if !errors.Is(err, ErrKilled) || !strings.Contains(err.Error(), reason.Error()) {
				t.Fatalf("Run = %v, want ErrKilled with the reason", err)
			}
			if len(causes) != inflight {
				t.Fatalf("%d actions saw their context end, want %d", len(causes), inflight)
			}
			for _, c := range causes {
				if !strings.Contains(c.Error(), reason.Error()) {
					t.Fatalf("cause %v, want the reason", c)
				}
			}
			st := r.Status()
			if st.State != StateKilled || st.Counts.Killed != inflight || st.Counts.Pending != 50 {
				t.Errorf("status %+v", st)
			}
			for _, rec := range r.Report().Targets[:inflight] {
				if rec.Phase != "patch" || !strings.Contains(rec.Error, reason.Error()) || rec.End.IsZero() {
					t.Fatalf("record %+v", rec)
				}
			}
		})
	}
}

// TestKillBeforeRun: a rollout killed before it runs starts nothing.
func TestKillBeforeRun(t *testing.T) {
	calls := 0
	r := mustRollout(t, makeTargets(5, 0), one(func(context.Context, Target) error { calls++; return nil }))
	r.Kill("change freeze")
	err := r.Run(context.Background())
	if !errors.Is(err, ErrKilled) || !strings.Contains(err.Error(), "change freeze") {
		t.Fatalf("Run = %v", err)
	}
	if calls != 0 || r.Status().Counts.Pending != 5 {
		t.Errorf("%d calls, status %+v", calls, r.Status())
	}
	if err := r.Run(context.Background()); !errors.Is(err, ErrStarted) {
		t.Errorf("second Run = %v, want ErrStarted", err)
	}
	r.Kill("after the end") // does nothing
}

// TestKillBetweenPhases: a target whose phase ends as the killswitch is
// thrown begins no later phase.
func TestKillBetweenPhases(t *testing.T) {
	var r *Rollout
	var patched bool
	phases := []Phase{
		{Name: "drain", Run: func(context.Context, Target) error { r.Kill("stop"); return nil }},
		{Name: "patch", Run: func(context.Context, Target) error { patched = true; return nil }},
	}
	r = mustRollout(t, makeTargets(1, 0), phases)
	if err := r.Run(context.Background()); !errors.Is(err, ErrKilled) {
		t.Fatalf("Run = %v", err)
	}
	rec := r.Report().Targets[0]
	if patched || rec.Outcome != Killed || rec.Phase != "drain" {
		t.Errorf("patched %v, record %+v", patched, rec)
	}
}

// TestKillGraceAbandons: an action that ignores its cancelled context is
// abandoned after the grace; Run returns, and what the action does later
// changes nothing.
func TestKillGraceAbandons(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		started := make(chan struct{}, 2)
		act := func(ctx context.Context, tg Target) error {
			started <- struct{}{}
			if tg.ID == "t000" {
				<-release // deaf to ctx
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}
		r := mustRollout(t, makeTargets(2, 0), one(act), WithConcurrency(Count(2)), WithKillGrace(30*time.Second))
		done := make(chan error, 1)
		begin := time.Now()
		go func() { done <- r.Run(context.Background()) }()
		<-started
		<-started
		r.Kill("hung")
		err := <-done
		if waited := time.Since(begin); waited != 30*time.Second {
			t.Errorf("Run returned after %v, want the grace of 30s", waited)
		}
		if !errors.Is(err, ErrKilled) {
			t.Fatalf("Run = %v", err)
		}
		close(release)
		synctest.Wait()
		recs := r.Report().Targets
		if recs[0].Outcome != Abandoned || recs[1].Outcome != Killed {
			t.Errorf("outcomes %v, %v; want abandoned, killed", recs[0].Outcome, recs[1].Outcome)
		}
		if !strings.Contains(recs[0].Error, "30s") {
			t.Errorf("abandoned error %q", recs[0].Error)
		}
	})
}
