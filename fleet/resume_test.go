package fleet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// TestResumeSkipsFinished: a rollout killed half way writes its status
// file; a new rollout resumed from that file runs only the targets not
// finished, and carries the others' records as they were.
func TestResumeSkipsFinished(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rollout.json")
	clk := fakeclock.NewManual(t0)
	targets := makeTargets(10, 0)

	var r1 *Rollout
	act1 := func(ctx context.Context, tg Target) error {
		clk.Advance(time.Minute)
		switch tg.ID {
		case "t002":
			return errBoom
		case "t005":
			r1.Kill("maintenance window over")
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	r1 = mustRollout(t, targets, one(act1), WithClock(clk), WithErrorBudget(Count(3)), WithStatusFile(path, time.Hour))
	if err := r1.Run(context.Background()); !errors.Is(err, ErrKilled) {
		t.Fatalf("first run: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("status file mode %v, want 0600", fi.Mode().Perm())
	}
	prev, err := LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if prev.Status.State != StateKilled || !prev.Status.Finished() {
		t.Fatalf("status file says %v, finished %v", prev.Status.State, prev.Status.Finished())
	}
	if got := byOutcome(prev); !slices.Equal(got[Succeeded], []string{"t000", "t001", "t003", "t004"}) ||
		!slices.Equal(got[Failed], []string{"t002"}) || !slices.Equal(got[Killed], []string{"t005"}) {
		t.Fatalf("first run outcomes %v", got)
	}

	for _, retry := range []bool{false, true} {
		var mu sync.Mutex
		var ran []string
		act2 := func(_ context.Context, tg Target) error {
			mu.Lock()
			ran = append(ran, tg.ID)
			mu.Unlock()
			return nil
		}
		opts := []Option{WithClock(clk), WithResume(prev), WithErrorBudget(Count(3)), WithStatusFile(path+".2", time.Hour)}
		want := []string{"t005", "t006", "t007", "t008", "t009"}
		if retry {
			opts = append(opts, WithRetryFailed())
			want = append([]string{"t002"}, want...)
		}
		r2 := mustRollout(t, targets, one(act2), opts...)
		if st := r2.Status(); st.Resumed != 10-len(want) || st.Counts.Pending != len(want) {
			t.Errorf("retry %v: before the run, %+v", retry, st)
		}
		if err := r2.Run(context.Background()); err != nil {
			t.Fatalf("retry %v: resumed run: %v", retry, err)
		}
		if !slices.Equal(ran, want) {
			t.Errorf("retry %v: ran %v, want %v", retry, ran, want)
		}
		rep := r2.Report()
		for i, rec := range rep.Targets {
			old := prev.Targets[i]
			carried := !slices.Contains(want, rec.ID)
			if rec.Resumed != carried {
				t.Errorf("%s: resumed %v, want %v", rec.ID, rec.Resumed, carried)
			}
			if carried && (rec.Outcome != old.Outcome || !rec.Start.Equal(old.Start) || !rec.End.Equal(old.End) || rec.Error != old.Error) {
				t.Errorf("%s: carried %+v, was %+v", rec.ID, rec, old)
			}
		}
		wantFailed := 1
		if retry {
			wantFailed = 0
		}
		if rep.Status.Counts.Failed != wantFailed || rep.Status.Counts.Succeeded != 10-wantFailed {
			t.Errorf("retry %v: counts %+v", retry, rep.Status.Counts)
		}
		if rep.Status.Rate() <= 0 && rep.Status.Elapsed() > 0 {
			t.Errorf("rate %v", rep.Status.Rate())
		}
	}
}

// TestResumeOverBudget: failures carried from the report count against the
// budget; a rollout resumed over its budget starts nothing.
func TestResumeOverBudget(t *testing.T) {
	prev := &Report{Targets: []Record{
		{ID: "t000", Outcome: Failed}, {ID: "t001", Outcome: Critical}, {ID: "gone", Outcome: Failed},
	}}
	calls := 0
	r := mustRollout(t, makeTargets(5, 0), one(func(context.Context, Target) error { calls++; return nil }),
		WithResume(prev), WithErrorBudget(Count(1)))
	err := r.Run(context.Background())
	if !errors.Is(err, ErrBudgetExhausted) || calls != 0 {
		t.Fatalf("Run = %v after %d calls", err, calls)
	}
	// A budget that tolerates them lets the rest run.
	r = mustRollout(t, makeTargets(5, 0), one(func(context.Context, Target) error { calls++; return nil }),
		WithResume(prev), WithErrorBudget(Count(2)))
	if err := r.Run(context.Background()); err != nil || calls != 3 {
		t.Fatalf("Run = %v after %d calls", err, calls)
	}
}

// TestStatusFilePeriodic: the status file is written as Run starts, on
// every period of the clock, and at the end; a monitor reading it between
// writes sees the rollout as it was at the last one. No temporary file is
// left behind.
func TestStatusFilePeriodic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status.json")
	clk := fakeclock.NewManual(t0)
	g := newGated(3)
	r := mustRollout(t, makeTargets(3, 0), one(g.run), WithClock(clk), WithConcurrency(Count(2)), WithStatusFile(path, 5*time.Second))
	events, unsubscribe := r.Subscribe()
	defer unsubscribe()
	done := make(chan error)
	go func() { done <- r.Run(context.Background()) }()

	waitWrite := func() {
		t.Helper()
		for e := range events {
			if e.Kind == EventStatusFile {
				if e.Err != nil {
					t.Fatal(e.Err)
				}
				return
			}
		}
		t.Fatal("no status file event")
	}
	waitWrite() // as Run starts
	rep, err := LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status.State != StateRunning || rep.Status.Counts.Pending != 3 {
		t.Errorf("first write: %+v", rep.Status)
	}
	g.expectStarts(t, "t000", "t001")
	g.gate("t000") <- nil
	g.expectStarts(t, "t002")
	clk.WaitTimers(1)
	clk.Advance(5 * time.Second)
	waitWrite()
	rep, err = LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Status.Counts; c.Succeeded != 1 || c.Running != 2 || !rep.Status.At.Equal(t0.Add(5*time.Second)) {
		t.Errorf("periodic write: %+v", rep.Status)
	}
	if rep.Targets[0].Outcome != Succeeded || rep.Targets[1].Outcome != Running {
		t.Errorf("periodic write: %+v", rep.Targets)
	}
	close(g.all)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rep, err = LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status.State != StateCompleted || rep.Status.Counts.Succeeded != 3 || !rep.Status.Finished() {
		t.Errorf("last write: %+v", rep.Status)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 || entries[0].Name() != "status.json" || entries[1].Name() != "status.json"+ClaimsSuffix {
		t.Errorf("directory holds %v, want only the status file and its claims log", entries)
	}
}

// TestStatusFileUnwritable: Run starts nothing when the status file cannot
// be written.
func TestStatusFileUnwritable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "status.json")
	calls := 0
	r := mustRollout(t, makeTargets(2, 0), one(func(context.Context, Target) error { calls++; return nil }), WithStatusFile(path, 0))
	if err := r.Run(context.Background()); err == nil || calls != 0 {
		t.Fatalf("Run = %v after %d calls", err, calls)
	}
	if st := r.Status(); st.FileError == "" || st.Counts.Pending != 2 || !st.Finished() {
		t.Errorf("status %+v", st)
	}
}
