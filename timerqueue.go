package afterhours

import (
	"container/heap"
	"slices"
	"time"
)

// timerEntry is one timer of a cycle as the executor holds it: its next
// occurrence in the cycle's span that is not handled yet, never the whole
// list. The following one is worked out from the timer's recurrence once
// this one is handled (run, skipped, missed).
type timerEntry struct {
	next int64 // Unix nanoseconds of the first occurrence not yet handled
	task *Task
	rank int32 // the timer's place in the plan's list of timer runs
}

// timerQueue holds the timers of a cycle that have an occurrence left in
// its span, the earliest first (then by rank): a binary heap, so that a
// wake costs the timers due at it, not all of them. 24 bytes a timer.
type timerQueue []timerEntry

func (q timerQueue) Len() int { return len(q) }
func (q timerQueue) Less(i, j int) bool {
	if q[i].next != q[j].next {
		return q[i].next < q[j].next
	}
	return q[i].rank < q[j].rank
}
func (q timerQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *timerQueue) Push(x any)   { *q = append(*q, x.(timerEntry)) }
func (q *timerQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = timerEntry{}
	*q = old[:len(old)-1]
	return e
}

// newTimerQueue returns the queue of the timers in entries, in a slice
// of its own of just their number.
func newTimerQueue(entries []timerEntry) timerQueue {
	q := make(timerQueue, len(entries))
	copy(q, entries)
	heap.Init(&q)
	return q
}

// push queues a timer at its next occurrence.
func (q *timerQueue) push(e timerEntry) { heap.Push(q, e) }

// due takes out of q the timers whose next occurrence is before upTo
// (at or before it when inclusive), in rank order: the order in which the
// plan lists them, which is the order their records take.
func (q *timerQueue) due(upTo time.Time, inclusive bool) []timerEntry {
	limit := upTo.UnixNano()
	var out []timerEntry
	for len(*q) > 0 {
		first := (*q)[0]
		if first.next > limit || first.next == limit && !inclusive {
			break
		}
		out = append(out, heap.Pop(q).(timerEntry))
	}
	slices.SortFunc(out, func(a, b timerEntry) int { return int(a.rank - b.rank) })
	return out
}

// nextWake returns the earliest occurrence left, and false when none is.
func (q timerQueue) nextWake(loc *time.Location) (time.Time, bool) {
	if len(q) == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, q[0].next).In(loc), true
}

// occurrences counts the occurrences of the timer from its next one up to
// upTo (inclusive or not), in the span that ends at spanEnd, and returns
// the first and the last two of them (the last but one is zero when n < 2)
// and the first occurrence after them in the span, if any.
func (e timerEntry) occurrences(upTo, spanEnd time.Time, inclusive bool, loc *time.Location, days *dayCache) (n int, first, beforeLast, last time.Time, after time.Time, more bool) {
	r := e.task.recur
	at := time.Unix(0, e.next).In(loc)
	first = at
	for {
		if at.After(upTo) || at.Equal(upTo) && !inclusive {
			return n, first, beforeLast, last, at, true
		}
		n++
		beforeLast, last = last, at
		next, ok := r.next(at.Add(time.Nanosecond), spanEnd, days)
		if !ok {
			return n, first, beforeLast, last, time.Time{}, false
		}
		at = next.In(loc)
	}
}

// runningTimers returns the timer runs of cy under way, by task name.
func (cy *cycleRun) runningTimers() map[string]*item {
	var out map[string]*item
	for _, it := range cy.running {
		if it.task != nil && it.task.kind == Timer {
			if out == nil {
				out = map[string]*item{}
			}
			out[it.task.Name] = it
		}
	}
	return out
}

// withoutTimers returns a copy of the plan without its list of timer runs,
// for the executor to keep: it holds each timer's next run in its queue.
func (p *Plan) withoutTimers() *Plan {
	kept := *p
	kept.Timers = nil
	return &kept
}

// planWithTimers returns the cycle's plan with its timer runs listed again,
// worked out now (for [Executor.Status]): the executor keeps the plan
// without them.
func (cy *cycleRun) planWithTimers() *Plan {
	if cy.plan == nil {
		return nil
	}
	full := *cy.plan
	full.Timers = cy.p.timerRuns(cy.c.Span, &dayCache{loc: cy.p.Site.loc})
	return &full
}
