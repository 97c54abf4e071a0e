package afterhours

import (
	"slices"
	"time"
)

// Status is a snapshot of an executor, for near-real-time monitoring.
type Status struct {
	// At is the executor's clock when the snapshot was taken.
	At time.Time
	// Running is set while [Executor.Run] runs.
	Running bool
	// Day is the current cycle's site-local date, and Plan its latest
	// plan; empty and nil before Run first started. The plan's timer runs
	// are worked out when Status is called: the executor holds only each
	// timer's next run.
	Day  string
	Plan *Plan
	// The current cycle's lists, from its journal.
	ToDo, Active, Completed, Failed, Deferred []Record
	// Queued lists the commands accepted and not yet started.
	Queued []Command
	// Progress is the share of the cycle's steps and slot tasks that is
	// behind it, from 0 to 1, weighted by their estimates: finished and
	// deferred ones count whole, running ones for their elapsed time up to
	// their estimate. It is 1 for a cycle with nothing to do.
	Progress float64
	// Isolation says how runs are held together and ended:
	// [IsolationCgroup] where a cgroup v2 hierarchy is writable, else
	// [IsolationProcessGroup]; empty before Run first started.
	Isolation string
	// Killed is set while the killswitch is on, with its reason and time.
	Killed     bool
	KillReason string
	KilledAt   time.Time
}

// Status returns a snapshot of the executor. It is safe to call at any
// time, from any goroutine.
func (e *Executor) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clk.Now()
	s := Status{At: now, Running: e.running, Isolation: e.isolation}
	if k := e.j.meta.Killed; k != nil {
		s.Killed, s.KillReason, s.KilledAt = true, k.Reason, k.At
	}
	for _, c := range e.j.meta.Queue {
		cp := *c
		cp.Run, cp.Tags = slices.Clone(c.Run), slices.Clone(c.Tags)
		s.Queued = append(s.Queued, cp)
	}
	s.Progress = 1
	cy := e.cur
	if cy == nil {
		return s
	}
	s.Day, s.Plan = cy.day, cy.planWithTimers()
	snap := cy.log.snapshot()
	s.ToDo, s.Active, s.Completed, s.Failed, s.Deferred = snap.ToDo(), snap.Active(), snap.Completed(), snap.Failed(), snap.Deferred()
	s.Progress = progress(snap.Records, now)
	return s
}

// progress weighs the steps and slot tasks of a cycle (the records with a
// planned start) by their estimates.
func progress(recs []Record, now time.Time) float64 {
	var total, behind float64
	for _, r := range recs {
		if r.PlannedStart.IsZero() || r.Kind == Timer || r.Kind == CommandKind {
			continue
		}
		est := float64(max(time.Duration(r.Estimate), time.Nanosecond))
		total += est
		switch r.State {
		case StateToDo:
		case StateActive:
			behind += min(float64(now.Sub(r.Start)), est)
		default:
			behind += est
		}
	}
	if total == 0 {
		return 1
	}
	return max(0, behind/total)
}
