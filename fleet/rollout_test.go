package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errBoom = errors.New("boom")

// makeTargets returns n targets t000, t001, ...; with groups > 0, target i
// is in group g<i%groups>.
func makeTargets(n, groups int) []Target {
	ts := make([]Target, n)
	for i := range ts {
		ts[i].ID = fmt.Sprintf("t%03d", i)
		if groups > 0 {
			ts[i].Group = fmt.Sprintf("g%02d", i%groups)
		}
	}
	return ts
}

func one(a Action) []Phase { return []Phase{{Name: "patch", Run: a}} }

func mustRollout(t testing.TB, targets []Target, phases []Phase, opts ...Option) *Rollout {
	t.Helper()
	r, err := NewRollout(targets, phases, opts...)
	if err != nil {
		t.Fatalf("NewRollout: %v", err)
	}
	return r
}

// byOutcome returns the IDs of the report's targets with each outcome.
func byOutcome(rep *Report) map[Outcome][]string {
	m := map[Outcome][]string{}
	for _, rec := range rep.Targets {
		m[rec.Outcome] = append(m[rec.Outcome], rec.ID)
	}
	return m
}

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("t%03d", i))
	}
	return out
}

// TestBudgetSerial: with one target at a time, the run stops right after
// the failure that makes B+1, and not one target later.
func TestBudgetSerial(t *testing.T) {
	cases := []struct {
		name    string
		budget  Limit
		failing []int
		want    int // targets started
	}{
		{"budget 0, first fails", Count(0), []int{0}, 1},
		{"budget 0, fourth fails", Count(0), []int{3, 4}, 4},
		{"budget 2", Count(2), []int{1, 3, 4, 6, 7}, 5},
		{"budget 2, failures in a row", Count(2), []int{5, 6, 7, 8}, 8},
		{"budget 2, only two failures", Count(2), []int{0, 9}, 10},
		{"budget 3, exactly four", Count(3), []int{0, 1, 2, 9}, 10},
		{"20% of 10 is 2", Percent(20), []int{1, 3, 4, 6}, 5},
		{"25% of 10 rounds down to 2", Percent(25), []int{1, 3, 4, 6}, 5},
		{"budget 100%", Percent(100), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ran []string
			act := func(_ context.Context, tg Target) error {
				ran = append(ran, tg.ID) // one at a time: no race
				var i int
				fmt.Sscanf(tg.ID, "t%d", &i)
				if slices.Contains(c.failing, i) {
					return errBoom
				}
				return nil
			}
			r := mustRollout(t, makeTargets(10, 0), one(act), WithErrorBudget(c.budget))
			err := r.Run(context.Background())
			if !slices.Equal(ran, ids(0, c.want)) {
				t.Errorf("ran %v, want %v", ran, ids(0, c.want))
			}
			rep := r.Report()
			failures := 0
			for _, i := range c.failing {
				if i < c.want {
					failures++
				}
			}
			stopped := failures > rep.Status.Budget
			if stopped != errors.Is(err, ErrBudgetExhausted) {
				t.Errorf("Run = %v, stopped for the budget: %v", err, stopped)
			}
			if stopped && rep.Status.Counts.Failures() != rep.Status.Budget+1 {
				t.Errorf("%d failures recorded, want budget+1 = %d", rep.Status.Counts.Failures(), rep.Status.Budget+1)
			}
			if got := rep.Status.Counts.Pending; got != 10-c.want {
				t.Errorf("%d pending, want %d", got, 10-c.want)
			}
			wantState := StateCompleted
			if stopped {
				wantState = StateBudgetExhausted
			}
			if rep.Status.State != wantState || !rep.Status.Finished() {
				t.Errorf("state %v (finished %v), want %v", rep.Status.State, rep.Status.Finished(), wantState)
			}
		})
	}
}

// gatedAction is an action whose targets report their start on started and
// then wait for the test to send their result on their own gate, or for
// their context to end. Closing all makes every target not yet released
// succeed at once.
type gatedAction struct {
	started chan string
	mu      sync.Mutex
	gates   map[string]chan error
	all     chan struct{}
}

func newGated(n int) *gatedAction {
	return &gatedAction{started: make(chan string, n), gates: map[string]chan error{}, all: make(chan struct{})}
}

func (g *gatedAction) gate(id string) chan error {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch, ok := g.gates[id]
	if !ok {
		ch = make(chan error, 1)
		g.gates[id] = ch
	}
	return ch
}

func (g *gatedAction) run(ctx context.Context, t Target) error {
	g.started <- t.ID
	select {
	case err := <-g.gate(t.ID):
		return err
	case <-g.all:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gatedAction) expectStarts(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	for range want {
		got = append(got, <-g.started)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("started %v, want %v", got, want)
	}
}

// TestBudgetConcurrent: with four targets at a time and a budget of 2, each
// failure before the third frees a place that the next target takes; the
// third failure stops new starts at once, while the three targets still
// running finish, and their failures are recorded too.
func TestBudgetConcurrent(t *testing.T) {
	g := newGated(20)
	r := mustRollout(t, makeTargets(20, 0), one(g.run), WithConcurrency(Count(4)), WithErrorBudget(Count(2)))
	events, unsubscribe := r.Subscribe()
	defer unsubscribe()
	done := make(chan error)
	go func() { done <- r.Run(context.Background()) }()

	g.expectStarts(t, ids(0, 4)...)
	g.gate("t000") <- errBoom
	g.expectStarts(t, "t004")
	g.gate("t001") <- errBoom
	g.expectStarts(t, "t005")
	g.gate("t002") <- errBoom // failure 3: budget exhausted
	for e := range events {
		if e.Kind == EventStopping {
			break
		}
		if e.Kind == EventStarted && !slices.Contains(ids(0, 6), e.Target) {
			t.Fatalf("%s started", e.Target)
		}
	}
	g.gate("t003") <- errBoom // a running target fails after the stop
	g.gate("t004") <- nil
	g.gate("t005") <- nil
	close(g.all) // a target wrongly started now would end at once

	err := <-done
	if !errors.Is(err, ErrBudgetExhausted) {
		t.Fatalf("Run = %v, want ErrBudgetExhausted", err)
	}
	if !strings.Contains(err.Error(), "3 failures, budget 2") {
		t.Errorf("Run = %q, want it to say 3 failures, budget 2", err)
	}
	if len(g.started) != 0 {
		t.Errorf("%d targets started after the budget was exhausted", len(g.started))
	}
	rep := r.Report()
	got := byOutcome(rep)
	want := map[Outcome][]string{
		Failed:    ids(0, 4),
		Succeeded: ids(4, 6),
		Pending:   ids(6, 20),
	}
	for o, w := range want {
		if !slices.Equal(got[o], w) {
			t.Errorf("%v: %v, want %v", o, got[o], w)
		}
	}
	if rep.Status.State != StateBudgetExhausted {
		t.Errorf("state %v, want budget-exhausted", rep.Status.State)
	}
}

// TestBudgetCountsCritical: a critical failure counts against the budget,
// and with a budget of 0 both stops are reported.
func TestBudgetCountsCritical(t *testing.T) {
	phases := []Phase{{Name: "drain", Critical: true, Run: func(context.Context, Target) error { return errBoom }}}
	r := mustRollout(t, makeTargets(3, 0), phases)
	err := r.Run(context.Background())
	if !errors.Is(err, ErrCritical) || !errors.Is(err, ErrBudgetExhausted) || !errors.Is(err, errBoom) {
		t.Fatalf("Run = %v, want ErrCritical, ErrBudgetExhausted and the action's error", err)
	}
	st := r.Status()
	if st.State != StateCritical || st.Counts.Critical != 1 || st.Counts.Pending != 2 {
		t.Errorf("status %+v", st)
	}
}

// groupProbe counts, inside the actions, how many targets of each group run.
type groupProbe struct {
	mu       sync.Mutex
	running  map[string]int
	finished map[string]int
	gates    map[string]chan struct{}
	order    []string // running targets, by start
}

func (p *groupProbe) run(_ context.Context, t Target) error {
	p.mu.Lock()
	p.running[t.Group]++
	p.order = append(p.order, t.ID)
	gate := make(chan struct{})
	p.gates[t.ID] = gate
	p.mu.Unlock()
	<-gate
	p.mu.Lock()
	p.running[t.Group]--
	p.finished[t.Group]++
	p.mu.Unlock()
	return nil
}

// TestGroupLimit: however the targets of groups of every size are
// interleaved, no group ever has more than its limit running, and the
// rollout is never idle where it could start a target: at every quiet
// moment the number running is exactly what the limits allow.
func TestGroupLimit(t *testing.T) {
	sizes := map[string]int{"": 5, "a": 1, "b": 2, "c": 5, "d": 10, "e": 20, "f": 22}
	var targets []Target
	for len(targets) < 65 {
		for _, g := range []string{"", "a", "b", "c", "d", "e", "f"} {
			n := 0
			for _, tg := range targets {
				if tg.Group == g {
					n++
				}
			}
			if n < sizes[g] {
				targets = append(targets, Target{ID: fmt.Sprintf("%s-%02d", g, n), Group: g})
			}
		}
	}
	cases := []struct {
		name  string
		limit Limit
		conc  int
		allow func(size int) int
	}{
		{"2 per group", Count(2), 9, func(int) int { return 2 }},
		{"50% per group", Percent(50), 9, func(size int) int { return max(1, size/2) }},
		{"1 per group, wide", Count(1), 100, func(int) int { return 1 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := &groupProbe{running: map[string]int{}, finished: map[string]int{}, gates: map[string]chan struct{}{}}
				r := mustRollout(t, targets, one(p.run), WithConcurrency(Count(c.conc)), WithGroupLimit(c.limit))
				done := make(chan error, 1)
				go func() { done <- r.Run(context.Background()) }()
				for {
					synctest.Wait()
					p.mu.Lock()
					want, total := 0, 0
					for g, size := range sizes {
						limit := c.allow(size)
						if g == "" {
							limit = size
						}
						if p.running[g] > limit {
							t.Fatalf("group %q: %d running, limit %d", g, p.running[g], limit)
						}
						want += min(limit, size-p.finished[g])
						total += p.running[g]
					}
					if want = min(want, c.conc); total != want {
						t.Fatalf("%d running, want %d", total, want)
					}
					if total == 0 {
						p.mu.Unlock()
						break
					}
					id := p.order[0]
					p.order = p.order[1:]
					close(p.gates[id])
					p.mu.Unlock()
				}
				if err := <-done; err != nil {
					t.Fatalf("Run = %v", err)
				}
				if st := r.Status(); st.Counts.Succeeded != len(targets) {
					t.Errorf("%d succeeded, want %d", st.Counts.Succeeded, len(targets))
				}
			})
		})
	}
}

// TestStartOrder: targets start in their given order, but a full group does
// not hold back the targets of other groups behind it.
func TestStartOrder(t *testing.T) {
	targets := []Target{
		{ID: "a1", Group: "a"}, {ID: "a2", Group: "a"}, {ID: "a3", Group: "a"},
		{ID: "b1", Group: "b"}, {ID: "x1"}, {ID: "b2", Group: "b"},
	}
	g := newGated(len(targets))
	r := mustRollout(t, targets, one(g.run), WithConcurrency(Count(4)), WithGroupLimit(Count(1)))
	done := make(chan error)
	go func() { done <- r.Run(context.Background()) }()
	g.expectStarts(t, "a1", "b1", "x1")
	g.gate("b1") <- nil
	g.expectStarts(t, "b2")
	g.gate("a1") <- nil
	g.expectStarts(t, "a2")
	close(g.all)
	g.expectStarts(t, "a3")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// phaseGates runs phases whose attempts wait for the test: each (target,
// phase) reports on began and waits for its result on its own gate.
type phaseGates struct {
	mu    sync.Mutex
	began []string // "target/phase"
	gates map[string]chan error
}

func (p *phaseGates) phase(name string, critical bool) Phase {
	return Phase{Name: name, Critical: critical, Run: func(ctx context.Context, t Target) error {
		key := t.ID + "/" + name
		p.mu.Lock()
		p.began = append(p.began, key)
		p.mu.Unlock()
		select {
		case err := <-p.gate(key):
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

func (p *phaseGates) gate(key string) chan error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gates == nil {
		p.gates = map[string]chan error{}
	}
	ch, ok := p.gates[key]
	if !ok {
		ch = make(chan error, 1)
		p.gates[key] = ch
	}
	return ch
}

func (p *phaseGates) begun() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := slices.Clone(p.began)
	slices.Sort(out)
	return out
}

// TestCriticalStopsTheRest: a failed drain stops the rollout: no target
// starts after it, the running targets finish the phase they are in and
// begin no other, the escalation gets the failed target's record, and Run
// returns ErrCritical with the drain's error.
func TestCriticalStopsTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &phaseGates{}
		phases := []Phase{p.phase("drain", true), p.phase("patch", false), p.phase("verify", false)}
		var escalations []Escalation
		r := mustRollout(t, makeTargets(10, 0), phases,
			WithConcurrency(Count(3)), WithErrorBudget(Count(5)),
			WithEscalation(func(e Escalation) { escalations = append(escalations, e) }))
		done := make(chan error, 1)
		go func() { done <- r.Run(context.Background()) }()

		synctest.Wait()
		p.gate("t001/drain") <- nil // t001 drained, now patching
		synctest.Wait()
		drainErr := errors.New("node would not drain")
		p.gate("t000/drain") <- drainErr
		synctest.Wait()
		if len(escalations) != 1 {
			t.Fatalf("%d escalations, want 1", len(escalations))
		}
		e := escalations[0]
		if e.Record.ID != "t000" || e.Record.Phase != "drain" || e.Record.Outcome != Critical || e.Err != drainErr {
			t.Errorf("escalation %+v", e)
		}
		if e.Status.State != StateCritical {
			t.Errorf("escalation's status state %v, want critical", e.Status.State)
		}
		p.gate("t002/drain") <- nil // finishes its drain, but may not patch
		p.gate("t001/patch") <- nil // finishes its patch, but may not verify
		err := <-done
		if !errors.Is(err, ErrCritical) || !errors.Is(err, drainErr) {
			t.Fatalf("Run = %v, want ErrCritical wrapping the drain error", err)
		}
		if want := []string{"t000/drain", "t001/drain", "t001/patch", "t002/drain"}; !slices.Equal(p.begun(), want) {
			t.Errorf("phases begun %v, want %v", p.begun(), want)
		}
		rep := r.Report()
		recs := rep.Targets
		check := func(i int, o Outcome, phase string) {
			t.Helper()
			if recs[i].Outcome != o || recs[i].Phase != phase {
				t.Errorf("%s: %v in %q, want %v in %q", recs[i].ID, recs[i].Outcome, recs[i].Phase, o, phase)
			}
		}
		if !strings.HasPrefix(recs[1].Error, "stopped before verify") || !strings.HasPrefix(recs[2].Error, "stopped before patch") {
			t.Errorf("errors of stopped targets: %q, %q", recs[1].Error, recs[2].Error)
		}
		check(0, Critical, "drain")
		check(1, Stopped, "patch")
		check(2, Stopped, "drain")
		for i := 3; i < 10; i++ {
			check(i, Pending, "")
		}
		if rep.Status.State != StateCritical {
			t.Errorf("state %v", rep.Status.State)
		}
	})
}

// TestCriticalStopsRetries: after a critical failure, a failed attempt is
// not retried; its target is stopped, not failed.
func TestCriticalStopsRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &phaseGates{}
		patch := p.phase("patch", false)
		patch.Retries = 3
		r := mustRollout(t, makeTargets(2, 0), []Phase{p.phase("drain", true), patch},
			WithConcurrency(Count(2)), WithErrorBudget(Count(5)))
		done := make(chan error, 1)
		go func() { done <- r.Run(context.Background()) }()
		p.gate("t001/drain") <- nil
		synctest.Wait()
		p.gate("t000/drain") <- errBoom
		synctest.Wait()
		p.gate("t001/patch") <- errors.New("mirror timed out")
		if err := <-done; !errors.Is(err, ErrCritical) {
			t.Fatal(err)
		}
		rec := r.Report().Targets[1]
		if rec.Outcome != Stopped || rec.Attempts != 1 || rec.Error != "mirror timed out (not retried: a critical failure stopped the rollout)" {
			t.Errorf("%+v", rec)
		}
		if st := r.Status(); st.Counts.Failures() != 1 {
			t.Errorf("%d failures, want only the critical one", st.Counts.Failures())
		}
	})
}
