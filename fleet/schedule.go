package fleet

import (
	"container/heap"
	"context"
	"time"
)

// Scheduling: pending targets wait in the queue of their group, and a heap
// holds the groups that have a target to start and room for it, ordered by
// the index of that target. Starting the next target is popping the heap;
// the end of a target may push its group back. Only Run's goroutine
// touches this state.

// group is the targets of one group still to start, in order, and how many
// of the group run.
type group struct {
	queue   []int // target indices
	head    int   // queue[head:] are still to start
	running int
	limit   int // at most this many of the group run at once
	inHeap  bool
}

// buildGroups queues the pending targets by group. Targets without a group,
// and every target when there is no group limit, share one unlimited queue.
func (r *Rollout) buildGroups() {
	limited := r.cfg.groupLimit != Limit{}
	index := make(map[string]int)
	var sizes []int
	for i, t := range r.targets {
		key := ""
		if limited {
			key = t.Group
		}
		gi, ok := index[key]
		if !ok {
			gi = len(r.groups)
			index[key] = gi
			r.groups = append(r.groups, group{limit: unlimited})
			sizes = append(sizes, 0)
			if key != "" {
				r.groups[gi].limit = 0 // resolved below, from the group's size
			}
		}
		sizes[gi]++
		r.groupOf = append(r.groupOf, gi)
		if r.recs[i].Outcome == Pending {
			r.groups[gi].queue = append(r.groups[gi].queue, i)
		}
	}
	r.ready.r = r
	for gi := range r.groups {
		g := &r.groups[gi]
		if g.limit != unlimited {
			g.limit = max(1, r.cfg.groupLimit.floorOf(sizes[gi]))
		}
		if len(g.queue) > 0 {
			g.inHeap = true
			heap.Push(&r.ready, gi)
		}
	}
}

const unlimited = int(^uint(0) >> 1)

// dispatch starts pending targets while there is room, and returns how
// many it started.
func (r *Rollout) dispatch(ctx context.Context, results chan<- result, inflight int) int {
	if r.ready.Len() == 0 || inflight >= r.conc {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var now time.Time
	n := 0
	for inflight+n < r.conc && r.ready.Len() > 0 {
		if r.state.stopped() || ctx.Err() != nil || r.halt.Load() {
			break
		}
		gi := r.ready.ids[0]
		g := &r.groups[gi]
		i := g.queue[g.head]
		g.head++
		g.running++
		if g.head == len(g.queue) || g.running >= g.limit {
			heap.Pop(&r.ready)
			g.inHeap = false
		} else {
			heap.Fix(&r.ready, 0)
		}
		if n == 0 {
			now = r.cfg.clock.Now()
		}
		rec := &r.recs[i]
		rec.Outcome, rec.Start, rec.Phase, rec.Attempts = Running, now, r.phases[0].Name, 1
		r.counts.Pending--
		r.counts.Running++
		if r.subs.Len() > 0 {
			r.emitLocked(Event{Kind: EventStarted, At: now, Target: rec.ID, Group: rec.Group})
			r.emitLocked(Event{Kind: EventPhase, At: now, Target: rec.ID, Group: rec.Group, Phase: rec.Phase, Attempt: 1})
		}
		go r.work(ctx, i, results)
		n++
	}
	return n
}

// release frees a running target's place in its group.
func (r *Rollout) release(gi int) {
	g := &r.groups[gi]
	g.running--
	if !g.inHeap && g.head < len(g.queue) && g.running < g.limit {
		g.inHeap = true
		heap.Push(&r.ready, gi)
	}
}

// groupHeap orders the groups that have a target to start and room for it
// by the index of that target, so targets start in their given order.
type groupHeap struct {
	r   *Rollout
	ids []int
}

func (h *groupHeap) key(k int) int {
	g := &h.r.groups[h.ids[k]]
	return g.queue[g.head]
}

func (h *groupHeap) Len() int           { return len(h.ids) }
func (h *groupHeap) Less(a, b int) bool { return h.key(a) < h.key(b) }
func (h *groupHeap) Swap(a, b int)      { h.ids[a], h.ids[b] = h.ids[b], h.ids[a] }
func (h *groupHeap) Push(x any)         { h.ids = append(h.ids, x.(int)) }
func (h *groupHeap) Pop() any {
	x := h.ids[len(h.ids)-1]
	h.ids = h.ids[:len(h.ids)-1]
	return x
}
