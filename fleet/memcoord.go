package fleet

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// MemoryCoordinator is a [Coordinator] that keeps the shared state of a
// rollout in memory: several Rollouts of one process given the same
// MemoryCoordinator (see [WithCoordinator]) run one rollout together.
// Nothing survives the process; for a durable record use [WithStatusFile],
// for controllers in several processes the etcd coordinator.
//
// Its zero value is not usable: build one with [NewMemoryCoordinator]. It
// is safe for concurrent use. Since its controllers share the process, no
// controller dies alone: Join never reports a target [Interrupted].
type MemoryCoordinator struct {
	mu       sync.Mutex
	joined   bool
	plan     CoordPlan
	claims   map[string]string // claimed target ID to its group
	ended    map[string]Record // final ends, in the order they came
	order    []string
	running  int
	groups   map[string]int // running targets per limited group
	failures int
	stops    []error
	killed   bool
	subs     map[chan struct{}]struct{}
}

// NewMemoryCoordinator returns an empty coordinator, for the Rollouts of
// one rollout.
func NewMemoryCoordinator() *MemoryCoordinator {
	return &MemoryCoordinator{
		claims: make(map[string]string),
		ended:  make(map[string]Record),
		groups: make(map[string]int),
		subs:   make(map[chan struct{}]struct{}),
	}
}

// Join implements [Coordinator.Join]. The records it returns are those of
// the targets that ended with a final outcome, in the order they ended.
func (m *MemoryCoordinator) Join(ctx context.Context, p CoordPlan) ([]Record, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.joined {
		m.joined = true
		m.plan = p
		m.plan.GroupLimits = make(map[string]int, len(p.GroupLimits))
		for g, n := range p.GroupLimits {
			m.plan.GroupLimits[g] = n
		}
		m.failures = p.Failures
		if m.failures > m.plan.Budget {
			m.stopLocked(fmt.Errorf("%w: %d failures carried from the resumed report, budget %d", ErrBudgetExhausted, m.failures, m.plan.Budget))
		}
	} else if !m.plan.Matches(p) {
		return nil, fmt.Errorf("%w: concurrency %d, budget %d, %d group limits; the rollout has concurrency %d, budget %d, %d group limits",
			ErrPlanMismatch, p.Concurrency, p.Budget, len(p.GroupLimits), m.plan.Concurrency, m.plan.Budget, len(m.plan.GroupLimits))
	}
	recs := make([]Record, len(m.order))
	for i, id := range m.order {
		recs[i] = m.ended[id]
	}
	return recs, nil
}

// Claim implements [Coordinator.Claim].
func (m *MemoryCoordinator) Claim(ctx context.Context, rec Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case !m.joined:
		return ErrNotJoined
	case len(m.stops) > 0:
		return fmt.Errorf("%w: %w", ErrStopped, errors.Join(m.stops...))
	}
	if _, ok := m.claims[rec.ID]; ok {
		return fmt.Errorf("%w: %s is claimed", ErrTaken, rec.ID)
	}
	if _, ok := m.ended[rec.ID]; ok {
		return fmt.Errorf("%w: %s ended", ErrTaken, rec.ID)
	}
	if m.running >= m.plan.Concurrency {
		return fmt.Errorf("%w: %d targets running, concurrency %d", ErrNoRoom, m.running, m.plan.Concurrency)
	}
	limit, limited := m.plan.GroupLimits[rec.Group]
	if limited && rec.Group != "" && m.groups[rec.Group] >= limit {
		return fmt.Errorf("%w: %d of group %s running, limit %d", ErrGroupFull, m.groups[rec.Group], rec.Group, limit)
	}
	m.claims[rec.ID] = rec.Group
	m.running++
	if limited && rec.Group != "" {
		m.groups[rec.Group]++
	}
	return nil
}

// Mark implements [Coordinator.Mark]. It only checks the claim: nothing of
// a MemoryCoordinator outlives its process.
func (m *MemoryCoordinator) Mark(ctx context.Context, id, phase string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.claims[id]; !ok {
		return fmt.Errorf("%w: %s", ErrNotClaimed, id)
	}
	return nil
}

// End implements [Coordinator.End].
func (m *MemoryCoordinator) End(ctx context.Context, rec Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.endLocked(rec)
}

func (m *MemoryCoordinator) endLocked(rec Record) error {
	group, ok := m.claims[rec.ID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotClaimed, rec.ID)
	}
	delete(m.claims, rec.ID)
	m.running--
	if _, limited := m.plan.GroupLimits[group]; limited && group != "" {
		m.groups[group]--
	}
	if rec.Outcome != Pending {
		rec.Tags = append([]string(nil), rec.Tags...)
		m.ended[rec.ID] = rec
		m.order = append(m.order, rec.ID)
	}
	if rec.Outcome == Critical {
		m.stopLocked(fmt.Errorf("%w: target %s failed in phase %s: %s", ErrCritical, rec.ID, rec.Phase, rec.Error))
	}
	if rec.Outcome.IsFailure() {
		m.failures++
		if m.failures == m.plan.Budget+1 {
			m.stopLocked(fmt.Errorf("%w: %d failures, budget %d", ErrBudgetExhausted, m.failures, m.plan.Budget))
		}
	}
	m.notifyLocked()
	return nil
}

// Kill implements [Coordinator.Kill].
func (m *MemoryCoordinator) Kill(ctx context.Context, reason string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.killed {
		return nil
	}
	m.killed = true
	err := ErrKilled
	if reason != "" {
		err = fmt.Errorf("%w: %s", ErrKilled, reason)
	}
	m.stopLocked(err)
	m.notifyLocked()
	return nil
}

// stopLocked records a stop. The caller holds m.mu and notifies.
func (m *MemoryCoordinator) stopLocked(err error) {
	m.stops = append(m.stops, err)
}

// Changes implements [Coordinator.Changes].
func (m *MemoryCoordinator) Changes(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	if ctx.Err() != nil {
		return ch
	}
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	m.mu.Unlock()
	context.AfterFunc(ctx, func() {
		m.mu.Lock()
		delete(m.subs, ch)
		m.mu.Unlock()
	})
	return ch
}

// notifyLocked wakes every subscriber. The caller holds m.mu.
func (m *MemoryCoordinator) notifyLocked() {
	for ch := range m.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// Stopped implements [Coordinator.Stopped].
func (m *MemoryCoordinator) Stopped() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return errors.Join(m.stops...)
}
