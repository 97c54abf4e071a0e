package afterhours

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/afterhours-go/afterhours/internal/proc"
)

// Isolations, as [Status] reports them: how the executor holds a run's
// processes together and ends them.
const (
	// IsolationCgroup: each run has a cgroup v2 leaf of its own and is
	// ended through cgroup.kill, so that a descendant that left the
	// process group (setsid) ends with it.
	IsolationCgroup = proc.IsolationCgroup
	// IsolationProcessGroup: each run has a process group of its own and
	// is ended with it; a descendant that left the group is not ended.
	// Used where no cgroup v2 hierarchy is writable.
	IsolationProcessGroup = proc.IsolationProcessGroup
)

// ReasonOrphaned: the self-update is deferred because processes of an
// interrupted run (one a crashed executor left behind, or one that
// outlived SIGKILL) still ran when the cycle was planned. The next plan
// (the next cycle, or [Executor.Update]) looks again: once they are gone
// the self-update is planned as usual.
const ReasonOrphaned = "orphaned"

// openCgroups is proc.OpenCgroups; tests replace it to run with process
// groups alone.
var openCgroups = proc.OpenCgroups

// orphanRun is a run a previous executor left active, with a process to
// end before anything starts.
type orphanRun struct {
	log *cycleLog
	rec *Record
}

// survivor is a run whose processes outlived SIGKILL.
type survivor struct {
	run  string
	o    proc.Orphan
	pids []int
}

// orphanOf returns how a record identifies its run's processes.
func orphanOf(r *Record) proc.Orphan {
	return proc.Orphan{
		Leader: proc.Identity{PID: r.PID, Start: r.PIDStart, Session: r.Session, Boot: r.BootID},
		Cgroup: r.Cgroup,
	}
}

// endOrphans ends the processes of the runs that a previous executor left
// active (see [Executor.Run]), and records in each run's journal record
// what became of them. It is called by Run before anything starts, without
// e.mu: it takes up to the grace and [proc.KillWait] of real time.
func (e *Executor) endOrphans() error {
	e.mu.Lock()
	orphans := e.orphans
	e.orphans = nil
	grace := e.grace
	e.mu.Unlock()
	type outcome struct {
		found []int
		err   error
	}
	out := make([]outcome, len(orphans))
	for i, o := range orphans {
		e.mu.Lock()
		id := orphanOf(o.rec)
		e.mu.Unlock()
		out[i].found, out[i].err = proc.EndOrphan(id, grace)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var changed []*cycleLog
	for i, o := range orphans {
		r, res := o.rec, out[i]
		switch {
		case errors.Is(res.err, proc.ErrUnverifiable):
			r.Error += fmt.Sprintf("; its process group %d was not checked at the restart: %v", r.PID, res.err)
		case res.err != nil:
			r.Error += "; its processes could not be ended at the restart: " + res.err.Error()
			e.survivors = append(e.survivors, survivor{run: r.Run, o: orphanOf(r), pids: res.found})
			e.log.Error("processes of an interrupted run still run", "run", r.Run, "err", res.err)
		case len(res.found) > 0:
			r.Error += fmt.Sprintf("; its processes %v were ended at the restart", sorted(res.found))
		default:
			r.Error += "; none of its processes was left at the restart"
		}
		o.log.touch(r)
		if !slices.Contains(changed, o.log) {
			changed = append(changed, o.log)
		}
	}
	for _, l := range changed {
		if err := e.j.saveCycle(l); err != nil {
			return err
		}
	}
	return nil
}

func sorted(pids []int) []int {
	out := slices.Clone(pids)
	slices.Sort(out)
	return out
}

// openCgroups chooses how runs are isolated when Run starts: their own
// cgroups where a cgroup v2 hierarchy is writable, process groups
// elsewhere. The caller holds e.mu.
func (e *Executor) openCgroups() {
	if e.cgroups != nil {
		return
	}
	e.boot, _ = proc.BootID()
	cgs, err := openCgroups()
	if err != nil {
		e.isolation = IsolationProcessGroup
		e.log.Info("runs are isolated by process group only", "why", err)
		return
	}
	e.cgroups, e.isolation = cgs, IsolationCgroup
}

// useProcessGroups gives up cgroups for the runs to come. The caller holds
// e.mu.
func (e *Executor) useProcessGroups(why string) {
	if e.cgroups == nil {
		return
	}
	e.log.Warn("runs are isolated by process group only from now on", "why", why)
	e.closeCgroups()
	e.isolation = IsolationProcessGroup
}

// closeCgroups removes the executor's cgroup when Run ends (the runs' are
// gone by then, but for those that outlived SIGKILL). The caller holds
// e.mu.
func (e *Executor) closeCgroups() {
	if e.cgroups == nil {
		return
	}
	if err := e.cgroups.Close(); err != nil {
		e.log.Warn("executor's cgroup left", "dir", e.cgroups.Dir(), "err", err)
	}
	e.cgroups = nil
}

// holdSelfUpdate defers the plan's self-update while processes of an
// interrupted run live: the self-update runs with nothing else running,
// and an agent that restarts itself beside them would lose sight of them.
// The caller holds e.mu.
func (e *Executor) holdSelfUpdate(plan *Plan) {
	var alive []string
	keep := e.survivors[:0]
	for _, s := range e.survivors {
		if pids := proc.Alive(s.o); len(pids) > 0 {
			keep = append(keep, s)
			alive = append(alive, fmt.Sprintf("%s (processes %v)", s.run, sorted(pids)))
		}
	}
	e.survivors = keep
	if len(alive) == 0 {
		return
	}
	for i, st := range plan.Steps {
		if st.Task.kind == SelfUpdate {
			plan.Steps = slices.Delete(plan.Steps, i, i+1)
			plan.Deferred = append(plan.Deferred, Deferral{Task: st.Task, Reason: ReasonOrphaned,
				Detail: "processes of interrupted runs still run after SIGKILL: " + strings.Join(alive, ", ")})
			return
		}
	}
}
