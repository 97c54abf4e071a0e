package fleet

import (
	"container/heap"
	"context"
	"fmt"
	"time"

	"github.com/afterhours-go/afterhours"
)

// Scheduling: pending targets wait in the queue of their group, and a heap
// holds the groups that have a target to start and room for it, ordered by
// the index of that target. Starting the next target is popping the heap;
// the end of a target may push its group back. Only Run's goroutine
// touches this state.

// group is the targets of one group still to start, in order, and how many
// of the group run.
type group struct {
	name    string // "" for the unlimited group
	queue   []int  // target indices
	head    int    // queue[head:] are still to start
	running int
	limit   int // at most this many of the group run at once
	inHeap  bool
	// blocked is set while the coordinator finds the group full (see
	// Rollout.blocked): it stays out of the heap until the next change.
	blocked bool
}

// buildGroups queues the pending targets by group. Targets without a group,
// and every target when there is neither a group limit nor a group
// semaphore, share one unlimited queue; with a semaphore but no limit,
// each group has an unlimited queue of its own, so that one waiting for
// its semaphore holds back no other.
func (r *Rollout) buildGroups() {
	limited := r.cfg.groupLimit != Limit{}
	byGroup := limited || r.cfg.sem != nil
	index := make(map[string]int)
	var sizes []int
	for i, t := range r.targets {
		key := ""
		if byGroup {
			key = t.Group
		}
		gi, ok := index[key]
		if !ok {
			gi = len(r.groups)
			index[key] = gi
			r.groups = append(r.groups, group{name: key, limit: unlimited})
			sizes = append(sizes, 0)
			if key != "" && limited {
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
	if r.ready.Len() == 0 || inflight >= r.conc || r.blocked {
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
		if r.recs[i].Outcome != Pending {
			// Carried from the coordinator's records as Run joined it.
			r.popOrFix(g)
			continue
		}
		if now.IsZero() {
			now = r.cfg.clock.Now()
		}
		at, why := r.startAt(i, now)
		if !at.Equal(now) {
			// No room in its site's window now: it waits, the others go on.
			r.popOrFix(g)
			r.waitLocked(i, at, why, now)
			continue
		}
		g.running++
		if g.head == len(g.queue) || g.running >= g.limit {
			heap.Pop(&r.ready)
			g.inHeap = false
		} else {
			heap.Fix(&r.ready, 0)
		}
		rec := &r.recs[i]
		rec.NextStart = time.Time{}
		rec.Outcome, rec.Start, rec.Phase, rec.Attempts = Running, now, r.phases[0].Name, 1
		r.counts.Pending--
		r.counts.Running++
		if r.coord == nil && !r.semFor(i) {
			r.startedLocked(rec)
		} // else once claimed, and once it holds its group semaphore's slot
		if r.seenAt != nil {
			r.seenAt[i] = r.changes
		}
		if r.semAt != nil {
			r.semAt[i] = r.semEnds
		}
		go r.work(ctx, i, results)
		n++
	}
	return n
}

// popOrFix takes the heap's first group, g, whose head target was taken
// off its queue, out of the heap when its queue is empty, and puts it in
// its place otherwise.
func (r *Rollout) popOrFix(g *group) {
	if g.head == len(g.queue) {
		heap.Pop(&r.ready)
		g.inHeap = false
	} else {
		heap.Fix(&r.ready, 0)
	}
}

// startedLocked emits the events of a target's start. The caller holds
// r.mu.
func (r *Rollout) startedLocked(rec *Record) {
	if r.subs.Len() > 0 {
		r.emitLocked(Event{Kind: EventStarted, At: rec.Start, Target: rec.ID, Group: rec.Group})
		r.emitLocked(Event{Kind: EventPhase, At: rec.Start, Target: rec.ID, Group: rec.Group, Phase: rec.Phase, Attempt: 1})
	}
}

// startAt returns when target i may start, as of now: now when it has no
// site, or when its site's after-hours time has room now for its phases'
// estimates; else the start of the next stretch of after-hours time with
// room (or zero when none in the next 400 days has room), and why it
// waits. A stretch is a window followed by the windows of the next cycles
// that begin where it ends (a weekend: Friday evening's window, then
// Saturday's and Sunday's), as the machine's users see it.
func (r *Rollout) startAt(i int, now time.Time) (time.Time, string) {
	site := r.targets[i].Site
	if site == nil {
		return now, ""
	}
	c := site.CycleAt(now)
	if w := stretch(site, c.Day, c.Window); !now.Before(w.Start) && now.Before(w.End) {
		if !now.Add(r.estimate).After(w.End) {
			return now, ""
		}
	}
	why := "outside its site's after-hours window"
	if w := c.Window; !now.Before(w.Start) && now.Before(w.End) {
		why = fmt.Sprintf("%v of phases no longer fit before its window ends at %s", r.estimate,
			stretch(site, c.Day, w).End.In(site.Location()).Format("Mon 15:04 MST"))
	}
	for d := c.Day; d.Compare(c.Day.AddDays(400)) < 0; d = d.AddDays(1) {
		w := stretch(site, d, site.Cycle(d).Window)
		start := w.Start
		if start.Before(now) {
			start = now
		}
		if start.After(now) && start.Before(w.End) && !start.Add(r.estimate).After(w.End) {
			return start, why
		}
	}
	return time.Time{}, fmt.Sprintf("no window of its site in 400 days has room for %v of phases", r.estimate)
}

// stretch extends w, the window of day d's cycle, by the windows of the
// cycles after it that begin where it ends, up to 14 days on.
func stretch(site *afterhours.Site, d afterhours.Date, w afterhours.Interval) afterhours.Interval {
	for k := 1; k <= 14; k++ {
		next := site.Cycle(d.AddDays(k)).Window
		if !next.Start.Equal(w.End) || !next.End.After(next.Start) {
			break
		}
		w.End = next.End
	}
	return w
}

// waitLocked records that target i waits until at (zero: for good). The
// caller holds r.mu.
func (r *Rollout) waitLocked(i int, at time.Time, why string, now time.Time) {
	rec := &r.recs[i]
	rec.NextStart = at
	if at.IsZero() {
		rec.Error = why
		return // never started: it stays pending
	}
	r.waiting = append(r.waiting, waiter{i, at})
	if r.subs.Len() > 0 {
		r.emitLocked(Event{Kind: EventWaiting, At: now, Target: rec.ID, Group: rec.Group, Until: at, Reason: why})
	}
}

// waiter is a target waiting for its site's window.
type waiter struct {
	i  int
	at time.Time
}

// nextWaiter returns when the first waiting target may start; zero when
// none waits.
func (r *Rollout) nextWaiter() time.Time {
	var first time.Time
	for _, w := range r.waiting {
		if first.IsZero() || w.at.Before(first) {
			first = w.at
		}
	}
	return first
}

// requeue puts the waiting targets whose time has come back at the head of
// their groups' queues.
func (r *Rollout) requeue(now time.Time) {
	kept := r.waiting[:0]
	for _, w := range r.waiting {
		if w.at.After(now) {
			kept = append(kept, w)
			continue
		}
		g := &r.groups[r.groupOf[w.i]]
		if g.head > 0 {
			g.head--
			g.queue[g.head] = w.i
		} else {
			g.queue = append([]int{w.i}, g.queue...)
		}
		if !g.inHeap && !g.blocked && g.running < g.limit {
			g.inHeap = true
			r.ready.ids = append(r.ready.ids, r.groupOf[w.i])
		}
	}
	r.waiting = kept
	heap.Init(&r.ready) // heads changed
}

// release frees a running target's place in its group.
func (r *Rollout) release(gi int) {
	g := &r.groups[gi]
	g.running--
	if !g.inHeap && !g.blocked && g.head < len(g.queue) && g.running < g.limit {
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
