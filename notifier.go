package afterhours

import (
	"context"
	"fmt"
	"time"
)

// Notifier tells an administrator about failures. The executor calls it on
// a goroutine of its own, one notice at a time, in order, while
// [Executor.Run] runs; a notice that arises while Run does not run waits
// for the next Run. An error is logged, not retried. Notices are not saved:
// one pending when the process ends is lost.
//
// # When
//
// A cycle's failed list is notified ([NoticeFailures]) at most twice, and
// a failure once: when the cycle's window ends (as soon as the window has
// ended and no step of the cycle runs any more, so that a step stopped at
// the window's end is in it), with the failures as of then; and when the
// cycle ends (its span is over and its last run ended), with only the
// failures that came after the window's notice: timers, commands, slot
// tasks. A list with nothing new is not sent. The executor wakes at the
// window's end only when it has failures to report then. A notice the
// executor was not awake for (a suspended machine, a stopped agent) is
// made at its first wake after, and the journal keeps which failures were
// listed ([Record].Noticed), so that a restart lists none twice. A failed
// on_failure "stop" task is notified at once ([NoticeStopped]), and the
// killswitch when it goes on ([NoticeKilled]); these do not count as
// listing the failures they carry.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// NotifierFunc makes a [Notifier] of a function.
type NotifierFunc func(ctx context.Context, n Notice) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, n Notice) error { return f(ctx, n) }

// NoticeKind says why a [Notice] was sent.
type NoticeKind int

// The kinds of notice.
const (
	// NoticeFailures: a cycle's window, or the cycle itself, ended with
	// failures not notified before (see [Notifier]).
	NoticeFailures NoticeKind = iota + 1
	// NoticeStopped: a task with on_failure "stop" failed; the rest of its
	// cycle does not run.
	NoticeStopped
	// NoticeKilled: the killswitch went on.
	NoticeKilled
)

// String returns "failures", "stopped" or "killed".
func (k NoticeKind) String() string {
	switch k {
	case NoticeFailures:
		return "failures"
	case NoticeStopped:
		return "stopped"
	case NoticeKilled:
		return "killed"
	}
	return fmt.Sprintf("NoticeKind(%d)", int(k))
}

// Notice is what a [Notifier] is told.
type Notice struct {
	Kind   NoticeKind
	Client string
	// Day is the cycle's site-local date.
	Day string
	// At is the executor's clock when the notice arose.
	At time.Time
	// Reason is the kill's reason, or the task that stopped the cycle.
	Reason string
	// Failed is the cycle's failed list: for NoticeFailures, the failures
	// no notice of failures listed before; for a kill, the runs it ended,
	// as far as known when the notice arose; for a stop, the whole list.
	Failed []Record
	// CycleEnd is set on a NoticeFailures notice made when the cycle
	// ended, and clear on one made when its window ended.
	CycleEnd bool
}

// notify queues a notice. The caller holds e.mu.
func (e *Executor) notify(n Notice) {
	if e.notifier == nil {
		return
	}
	n.Client = e.p.Client
	e.notices = append(e.notices, n)
	select {
	case e.noticeReady <- struct{}{}:
	default:
	}
}

// noticeWindow makes the failures notice of cy's window once the window
// has ended and no step of cy runs; before, it asks for a wake at the
// window's end when there are failures to report. The caller holds e.mu.
func (e *Executor) noticeWindow(cy *cycleRun, now time.Time) {
	if e.notifier == nil || cy.log.WindowNoticed {
		return
	}
	for _, it := range cy.running {
		if k := it.task.kind; k == Housekeeping || k == Update || k == SelfUpdate {
			return // its end wakes the loop
		}
	}
	if now.Before(cy.c.Window.End) {
		if cy.unnoticed {
			e.wakeAt(cy.c.Window.End)
		}
		return
	}
	cy.log.WindowNoticed = true
	e.noticeFailures(cy.log, now, false)
	cy.unnoticed = false
	e.save(cy)
}

func unnoticed(r *Record) bool { return r.State == StateFailed && !r.Noticed }

// noticeFailures notifies the failures of l not listed before, and marks
// them listed; the caller saves l. cycleEnd says the cycle ended.
func (e *Executor) noticeFailures(l *cycleLog, now time.Time, cycleEnd bool) {
	if e.notifier == nil {
		return
	}
	var failed []Record
	for _, r := range l.Records {
		if unnoticed(r) {
			r.Noticed = true
			l.touch(r)
			failed = append(failed, *r)
		}
	}
	if len(failed) > 0 {
		e.notify(Notice{Kind: NoticeFailures, Day: l.Day, At: now, Failed: failed, CycleEnd: cycleEnd})
	}
}

// deliver runs while Run runs: it hands the queued notices to the
// notifier. When stop closes it delivers what is left, each within the
// grace, and returns.
func (e *Executor) deliver(stop <-chan struct{}) {
	for {
		e.mu.Lock()
		batch := e.notices
		e.notices = nil
		e.mu.Unlock()
		for _, n := range batch {
			ctx, cancel := context.WithTimeout(context.Background(), max(e.grace, 10*time.Second))
			if err := e.notifier.Notify(ctx, n); err != nil {
				e.log.Error("notify", "kind", n.Kind.String(), "day", n.Day, "err", err)
			}
			cancel()
		}
		select {
		case <-e.noticeReady:
		case <-stop:
			e.mu.Lock()
			left := len(e.notices)
			e.mu.Unlock()
			if left == 0 {
				return
			}
		}
	}
}
