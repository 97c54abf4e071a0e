package coordtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/fleet"
	"github.com/stretchr/testify/require"
)

// RunRollouts runs real Rollouts, one per controller (min(3,
// s.Controllers)), on coordinators of s, all given the same 300 targets in
// groups of 10 with actions of 1 to 5 ms, and checks from the recorded
// times that together they keep the rollout's limits: never more targets
// running than the concurrency, nor more of a group than its limit, no
// target run twice, no claim made after the failure that spent the error
// budget was recorded, and the killswitch thrown at one controller stops
// them all.
func RunRollouts(t *testing.T, s Suite) {
	n := s.controllers()
	t.Run("limits-and-budget", func(t *testing.T) {
		const targets, conc, groupLimit, budget = 300, 12, 2, 3
		// Four failures, the fourth the one that spends the budget,
		// spread over the targets.
		failing := map[string]bool{"t040": true, "t110": true, "t180": true, "t230": true}
		h := newHarness(t, s, n)
		h.act = func(ctx context.Context, tg fleet.Target) error {
			if err := pause(ctx, tg.ID); err != nil {
				return err
			}
			if failing[tg.ID] {
				return errors.New("injected failure")
			}
			return nil
		}
		errs := h.run(t, targets, fleet.WithConcurrency(fleet.Count(conc)),
			fleet.WithGroupLimit(fleet.Count(groupLimit)), fleet.WithErrorBudget(fleet.Count(budget)))
		for i, err := range errs {
			require.ErrorIs(t, err, fleet.ErrBudgetExhausted, "controller %d", i)
		}
		h.checkLimits(t, conc, groupLimit)
		h.checkReports(t, targets)

		// No claim began after the failure that spent the budget was
		// recorded, and succeeded.
		ends := h.failedEnds()
		require.GreaterOrEqual(t, len(ends), budget+1, "failures recorded")
		spent := ends[budget]
		for _, c := range h.claims {
			if c.ok && c.at.After(spent) {
				t.Errorf("%s claimed at %v, after the budget was spent at %v", c.id, c.at, spent)
			}
		}
	})

	t.Run("killswitch", func(t *testing.T) {
		const targets, conc = 300, 12
		h := newHarness(t, s, n)
		var (
			once    sync.Once
			started = make(chan struct{})
			count   int
			countMu sync.Mutex
		)
		h.act = func(ctx context.Context, tg fleet.Target) error {
			countMu.Lock()
			count++
			if count == 60 {
				once.Do(func() { close(started) })
			}
			countMu.Unlock()
			return pause(ctx, tg.ID)
		}
		killed := make(chan time.Time, 1)
		go func() {
			<-started
			killed <- time.Now()
			h.rollouts[0].Kill("stop everything")
		}()
		errs := h.run(t, targets, fleet.WithConcurrency(fleet.Count(conc)), fleet.WithKillGrace(time.Minute))
		for i, err := range errs {
			require.ErrorIs(t, err, fleet.ErrKilled, "controller %d", i)
			require.ErrorContains(t, err, "stop everything", "controller %d", i)
		}
		h.checkLimits(t, conc, 0)
		h.checkReports(t, targets)
		killedAt := <-killed
		for _, c := range h.claims {
			if c.ok && c.at.After(killedAt.Add(s.wait())) {
				t.Errorf("%s claimed at %v, %v after the killswitch", c.id, c.at, c.at.Sub(killedAt))
			}
		}
	})
}

// pause waits 1 to 5 ms, the work of an action, or until ctx is done.
func pause(ctx context.Context, id string) error {
	d := time.Millisecond + time.Duration(rand.Int64N(int64(4*time.Millisecond)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", id, ctx.Err())
	}
}

// harness runs the Rollouts of one test and records what they did.
type harness struct {
	coords   []fleet.Coordinator
	rollouts []*fleet.Rollout
	act      fleet.Action

	mu     sync.Mutex
	spans  []span
	claims []claim
	ends   []end
}

type span struct {
	id, group  string
	start, end time.Time
}

type claim struct {
	id string
	at time.Time // when the call began
	ok bool
}

type end struct {
	outcome fleet.Outcome
	at      time.Time // when the call returned
}

func newHarness(t *testing.T, s Suite, n int) *harness {
	h := &harness{}
	for _, c := range s.New(t, n) {
		h.coords = append(h.coords, &recorder{Coordinator: c, h: h})
	}
	return h
}

// run builds one Rollout per coordinator over the same targets and runs
// them together; it returns their errors.
func (h *harness) run(t *testing.T, targets int, opts ...fleet.Option) []error {
	ts := make([]fleet.Target, targets)
	for i := range ts {
		ts[i] = fleet.Target{ID: fmt.Sprintf("t%03d", i), Group: fmt.Sprintf("g%02d", i/10)}
	}
	phase := fleet.Phase{Name: "patch", Run: func(ctx context.Context, tg fleet.Target) error {
		start := time.Now()
		err := h.act(ctx, tg)
		h.mu.Lock()
		h.spans = append(h.spans, span{id: tg.ID, group: tg.Group, start: start, end: time.Now()})
		h.mu.Unlock()
		return err
	}}
	for _, c := range h.coords {
		r, err := fleet.NewRollout(ts, []fleet.Phase{phase}, append(slices.Clone(opts), fleet.WithCoordinator(c))...)
		require.NoError(t, err)
		h.rollouts = append(h.rollouts, r)
	}
	errs := make([]error, len(h.rollouts))
	var wg sync.WaitGroup
	for i, r := range h.rollouts {
		wg.Go(func() { errs[i] = r.Run(context.Background()) })
	}
	wg.Wait()
	return errs
}

// checkLimits checks from the recorded times of the actions that no more
// than conc ran at once, nor more than groupLimit of a group (0: no
// limit), and that no target ran twice.
func (h *harness) checkLimits(t *testing.T, conc, groupLimit int) {
	type edge struct {
		at    time.Time
		delta int
		group string
	}
	var edges []edge
	runs := make(map[string]int)
	for _, s := range h.spans {
		runs[s.id]++
		edges = append(edges, edge{s.start, +1, s.group}, edge{s.end, -1, s.group})
	}
	for id, k := range runs {
		if k > 1 {
			t.Errorf("%s ran %d times", id, k)
		}
	}
	// Ends before starts at the same instant: an end is recorded before
	// the room it frees is claimed.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	running, most := 0, 0
	groups := make(map[string]int)
	for _, e := range edges {
		running += e.delta
		groups[e.group] += e.delta
		most = max(most, running)
		if running > conc {
			t.Fatalf("%d actions running at %v, concurrency %d", running, e.at, conc)
		}
		if groupLimit > 0 && groups[e.group] > groupLimit {
			t.Fatalf("%d actions of group %s running at %v, limit %d", groups[e.group], e.group, e.at, groupLimit)
		}
	}
	t.Logf("%d actions, at most %d at once", len(h.spans), most)
}

// checkReports checks that the controllers' reports agree: each target
// that ran is recorded as run by one controller alone, as [Elsewhere] or
// pending by the others, and no target is left running.
func (h *harness) checkReports(t *testing.T, targets int) {
	ranBy := make(map[string][]int)
	for i, r := range h.rollouts {
		rep := r.Report()
		require.Len(t, rep.Targets, targets)
		for _, rec := range rep.Targets {
			switch rec.Outcome {
			case fleet.Running:
				t.Errorf("controller %d: %s still running", i, rec.ID)
			case fleet.Pending, fleet.Elsewhere:
			default:
				if !rec.Resumed {
					ranBy[rec.ID] = append(ranBy[rec.ID], i)
				}
			}
		}
	}
	ran := make(map[string]bool)
	for _, s := range h.spans {
		ran[s.id] = true
	}
	for id, cs := range ranBy {
		if len(cs) > 1 {
			t.Errorf("%s recorded as run by controllers %v", id, cs)
		}
	}
	for id := range ran {
		if len(ranBy[id]) != 1 {
			t.Errorf("%s ran, and is recorded by controllers %v", id, ranBy[id])
		}
	}
}

// failedEnds returns when the ends of failed targets were recorded, in
// order.
func (h *harness) failedEnds() []time.Time {
	var out []time.Time
	for _, e := range h.ends {
		if e.outcome.IsFailure() {
			out = append(out, e.at)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}

// recorder is a Coordinator that records when claims began and ends were
// recorded.
type recorder struct {
	fleet.Coordinator
	h *harness
}

func (r *recorder) Claim(ctx context.Context, rec fleet.Record) error {
	at := time.Now()
	err := r.Coordinator.Claim(ctx, rec)
	r.h.mu.Lock()
	r.h.claims = append(r.h.claims, claim{id: rec.ID, at: at, ok: err == nil})
	r.h.mu.Unlock()
	return err
}

func (r *recorder) End(ctx context.Context, rec fleet.Record) error {
	err := r.Coordinator.End(ctx, rec)
	at := time.Now()
	if err == nil {
		r.h.mu.Lock()
		r.h.ends = append(r.h.ends, end{outcome: rec.Outcome, at: at})
		r.h.mu.Unlock()
	}
	return err
}
