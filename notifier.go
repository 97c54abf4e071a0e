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
	// NoticeFailures: a cycle ended with a non-empty failed list.
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
	// Failed is the cycle's failed list (for a kill: the runs it ended, as
	// far as known when the notice arose).
	Failed []Record
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
