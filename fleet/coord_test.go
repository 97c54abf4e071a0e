package fleet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCoordinatorJoinCarries: a controller that joins after the targets
// ended carries their records, marked Resumed, and runs none of them.
func TestCoordinatorJoinCarries(t *testing.T) {
	m := NewMemoryCoordinator()
	targets := makeTargets(10, 0)
	first := mustRollout(t, targets, one(func(context.Context, Target) error { return nil }),
		WithConcurrency(Count(3)), WithCoordinator(m))
	if err := first.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	late := mustRollout(t, targets, one(func(_ context.Context, tg Target) error {
		t.Errorf("%s ran again", tg.ID)
		return nil
	}), WithConcurrency(Count(3)), WithCoordinator(m))
	if err := late.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := late.Report()
	if rep.Status.Resumed != 10 || rep.Status.Counts.Succeeded != 10 {
		t.Fatalf("status %+v", rep.Status)
	}
	for _, rec := range rep.Targets {
		if !rec.Resumed || rec.Start.IsZero() || rec.End.IsZero() {
			t.Errorf("%+v", rec)
		}
	}
}

// TestCoordinatorElsewhere: a target another controller claimed is
// Elsewhere in this controller's report, and not in its failed list.
func TestCoordinatorElsewhere(t *testing.T) {
	m := NewMemoryCoordinator()
	if _, err := m.Join(context.Background(), CoordPlan{Run: "other", Concurrency: 2}); err != nil {
		t.Fatal(err)
	}
	if err := m.Claim(context.Background(), Record{ID: "t001", Outcome: Running}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ran []string
	r := mustRollout(t, makeTargets(3, 0), one(func(_ context.Context, tg Target) error {
		mu.Lock()
		ran = append(ran, tg.ID)
		mu.Unlock()
		return nil
	}), WithConcurrency(Count(2)), WithCoordinator(m))
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := r.Report()
	slices.Sort(ran)
	if got := strings.Join(ran, " "); got != "t000 t002" {
		t.Errorf("ran %s", got)
	}
	if rep.Targets[1].Outcome != Elsewhere || rep.Status.Counts.Elsewhere != 1 || rep.Status.Counts.Succeeded != 2 {
		t.Errorf("report %+v", rep.Status.Counts)
	}
	if f := rep.Failed(); len(f) != 0 {
		t.Errorf("failed list %+v", f)
	}
}

// refusals is a Coordinator that signals each claim refused for room.
type refusals struct {
	Coordinator
	noRoom chan struct{}
	claims atomic.Int32
}

func (c *refusals) Claim(ctx context.Context, rec Record) error {
	c.claims.Add(1)
	err := c.Coordinator.Claim(ctx, rec)
	if errors.Is(err, ErrNoRoom) {
		select {
		case c.noRoom <- struct{}{}:
		default:
		}
	}
	return err
}

// TestCoordinatorWaitsForRoom: while another controller holds every
// place, the rollout's claims are refused and it waits; the other's end
// frees a place and the rollout goes on, without claiming again and
// again meanwhile.
func TestCoordinatorWaitsForRoom(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryCoordinator()
	if _, err := m.Join(ctx, CoordPlan{Run: "other", Concurrency: 2}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"x1", "x2"} {
		if err := m.Claim(ctx, Record{ID: id, Outcome: Running}); err != nil {
			t.Fatal(err)
		}
	}
	c := &refusals{Coordinator: m, noRoom: make(chan struct{}, 1)}
	var ran atomic.Int32
	r := mustRollout(t, makeTargets(6, 0), one(func(context.Context, Target) error {
		ran.Add(1)
		return nil
	}), WithConcurrency(Count(2)), WithCoordinator(c))
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-c.noRoom
	if n := ran.Load(); n != 0 {
		t.Fatalf("%d actions ran while the other controller held every place", n)
	}
	if err := m.End(ctx, Record{ID: "x1", Outcome: Succeeded}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := ran.Load(); n != 6 {
		t.Errorf("%d actions ran", n)
	}
	// 6 claims that succeeded, and refusals only for the first targets
	// and after the one change: no polling.
	if n := c.claims.Load(); n > 6+2+2 {
		t.Errorf("%d claims for 6 targets", n)
	}
}

// TestCoordinatorOperatorKill: the killswitch thrown on the coordinator
// (by an operator or another controller) cancels this controller's
// running actions and stops it.
func TestCoordinatorOperatorKill(t *testing.T) {
	ctx := context.Background()
	m := NewMemoryCoordinator()
	var started sync.WaitGroup
	started.Add(3)
	r := mustRollout(t, makeTargets(20, 0), one(func(ctx context.Context, _ Target) error {
		started.Done()
		<-ctx.Done()
		return ctx.Err()
	}), WithConcurrency(Count(3)), WithCoordinator(m))
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	started.Wait()
	if err := m.Kill(ctx, "change freeze"); err != nil {
		t.Fatal(err)
	}
	err := <-done
	if !errors.Is(err, ErrKilled) || !strings.Contains(err.Error(), "change freeze") {
		t.Fatalf("Run = %v", err)
	}
	st := r.Status()
	if st.State != StateKilled || st.Counts.Killed != 3 || st.Counts.Pending != 17 {
		t.Errorf("status %v %+v", st.State, st.Counts)
	}
}

// TestCoordinatorKillTells: Kill of one controller throws the
// coordinator's killswitch, for every other.
func TestCoordinatorKillTells(t *testing.T) {
	m := NewMemoryCoordinator()
	r := mustRollout(t, makeTargets(5, 0), one(func(ctx context.Context, _ Target) error {
		return nil
	}), WithCoordinator(m))
	r.Kill("wrong patch")
	if err := r.Run(context.Background()); !errors.Is(err, ErrKilled) {
		t.Fatalf("Run = %v", err)
	}
	if err := m.Stopped(); !errors.Is(err, ErrKilled) || !strings.Contains(err.Error(), "wrong patch") {
		t.Errorf("coordinator stopped: %v", err)
	}
}

// failing is a Coordinator whose claims fail after the first n.
type failing struct {
	Coordinator
	n atomic.Int32
}

var errUnreachable = errors.New("etcd unreachable")

func (c *failing) Claim(ctx context.Context, rec Record) error {
	if c.n.Add(-1) < 0 {
		return errUnreachable
	}
	return c.Coordinator.Claim(ctx, rec)
}

// TestCoordinatorFails: when the coordinator cannot record a claim, the
// target does not start and the rollout stops in record-failed.
func TestCoordinatorFails(t *testing.T) {
	c := &failing{Coordinator: NewMemoryCoordinator()}
	c.n.Store(2)
	var ran atomic.Int32
	r := mustRollout(t, makeTargets(5, 0), one(func(context.Context, Target) error {
		ran.Add(1)
		return nil
	}), WithCoordinator(c))
	err := r.Run(context.Background())
	if !errors.Is(err, errUnreachable) || !strings.Contains(err.Error(), "coordinator") {
		t.Fatalf("Run = %v", err)
	}
	st := r.Status()
	if st.State != StateRecordFailed || ran.Load() != 2 || st.Counts.Succeeded != 2 || st.Counts.Pending != 3 {
		t.Errorf("ran %d; status %v %+v", ran.Load(), st.State, st.Counts)
	}
}

// TestCoordinatorPlanMismatch: a controller whose limits differ from the
// rollout's starts nothing.
func TestCoordinatorPlanMismatch(t *testing.T) {
	m := NewMemoryCoordinator()
	if _, err := m.Join(context.Background(), CoordPlan{Run: "other", Concurrency: 5}); err != nil {
		t.Fatal(err)
	}
	r := mustRollout(t, makeTargets(5, 0), one(func(_ context.Context, tg Target) error {
		t.Errorf("%s ran", tg.ID)
		return nil
	}), WithConcurrency(Count(2)), WithCoordinator(m))
	if err := r.Run(context.Background()); !errors.Is(err, ErrPlanMismatch) {
		t.Fatalf("Run = %v", err)
	}
}

// TestCoordinatorWithStatusFile: with a coordinator and a status file,
// the status file is written as usual, and the claims log beside it names
// no run, so that a status file left by a crash keeps its running targets
// running (their claims are in the coordinator) rather than pending.
func TestCoordinatorWithStatusFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status.json")
	crash := filepath.Join(t.TempDir(), "status.json")
	var r *Rollout
	r = mustRollout(t, makeTargets(3, 0), one(func(_ context.Context, tg Target) error {
		if tg.ID != "t001" {
			return nil
		}
		// What a crash now would leave: the status file, with t001
		// running, and the log beside it.
		if err := r.writeStatus(); err != nil {
			return err
		}
		for _, p := range []string{"", ClaimsSuffix} {
			b, err := os.ReadFile(path + p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(crash+p, b, 0o600); err != nil {
				return err
			}
		}
		return nil
	}), WithCoordinator(NewMemoryCoordinator()), WithStatusFile(path, time.Hour))
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := LoadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status.Counts.Succeeded != 3 {
		t.Errorf("status file %+v", rep.Status.Counts)
	}
	rep, err = LoadReport(crash)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Targets[1]; got.Outcome != Running {
		t.Errorf("the crashed run's t001: %v, want running", got.Outcome)
	}
}
