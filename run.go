package afterhours

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours/internal/proc"
)

// DefaultTimerTimeout is the timeout of a timer run that gives none.
const DefaultTimerTimeout = time.Hour

// RunInfo says which run a Go [Action] is: what AFTERHOURS_TASK,
// AFTERHOURS_KIND, AFTERHOURS_CYCLE and AFTERHOURS_RUN tell a command line.
type RunInfo struct {
	Task  string
	Kind  Kind
	Cycle string
	Run   string
}

type runInfoKey struct{}

// RunInfoFrom returns the RunInfo of the context an Action runs with.
func RunInfoFrom(ctx context.Context) (RunInfo, bool) {
	ri, ok := ctx.Value(runInfoKey{}).(RunInfo)
	return ri, ok
}

// ActionFunc makes an [Action] of a function.
type ActionFunc func(ctx context.Context) error

// Run calls f.
func (f ActionFunc) Run(ctx context.Context) error { return f(ctx) }

// geteuid is os.Geteuid; tests replace it.
var geteuid = os.Geteuid

// runResult is how a run ended, from its goroutine to the loop.
type runResult struct {
	it        *item
	end       time.Time
	pid       int
	exitCode  int
	err       error
	output    []byte
	stopped   bool // the run ended because its context was cancelled
	killed    bool // SIGKILL was needed
	abandoned bool // a Go action did not return within the grace
	// left is the run when some of its processes outlived SIGKILL, and
	// leftPIDs are those processes.
	left     *proc.Orphan
	leftPIDs []int
}

// deadlineOf returns the instant a run starting at now must be stopped,
// and what to say when it is.
func (e *Executor) deadlineOf(it *item, now time.Time) (time.Time, string) {
	at, why := e.timeoutOf(it, now)
	if stop, reason, ok := e.downtimeStop(it, it.task.down, now, at); ok {
		return stop, reason
	}
	return at, why
}

// timeoutOf is the deadline of a run without downtimes: its timeout, its
// slot's end for a slot task, the window's end for a step without one.
func (e *Executor) timeoutOf(it *item, now time.Time) (time.Time, string) {
	t := it.task
	loc := it.cy.p.Site.loc
	timeout := time.Duration(t.Timeout)
	var at time.Time
	switch t.kind {
	case CommandKind:
		at = now.Add(cmdTimeout(it.cmd))
	case Timer:
		if timeout == 0 {
			timeout = DefaultTimerTimeout
		}
		at = now.Add(timeout)
	case Shared:
		at = it.slot.slot.Run.End
		if timeout > 0 && now.Add(timeout).Before(at) {
			at = now.Add(timeout)
		} else {
			return at, "stopped: its slot ended at " + hhmm(at.In(loc))
		}
	default:
		if timeout > 0 {
			at = now.Add(timeout)
		} else {
			return it.cy.c.Window.End, "timeout: the window ended at " + hhmm(it.cy.c.Window.End.In(loc))
		}
	}
	return at, "timeout: ran longer than " + shortDuration(at.Sub(now))
}

// downtimeStop finds a downtime with the action "stop", in the cycle's
// profile, of a resource in down (the resources with downtimes the run's
// task uses) that begins after now and before deadline: the run is stopped
// when it begins (the stop action). Commands and timers are never affected, nor is
// a task that ignores downtimes.
func (e *Executor) downtimeStop(it *item, down []string, now, deadline time.Time) (time.Time, string, bool) {
	t := it.task
	if len(down) == 0 || t.kind == CommandKind || t.kind == Timer {
		return time.Time{}, "", false
	}
	for _, o := range it.cy.p.downtimesIn(Interval{Start: now, End: deadline}) {
		if o.Action == ActionStop && o.Start.After(now) && slices.Contains(down, o.Resource) {
			return o.Start, "stopped: " + o.Resource + " went down at " + hhmm(o.Start.In(it.cy.p.Site.loc)) + " (stop)", true
		}
	}
	return time.Time{}, "", false
}

// launch starts a pending item: it records the run as active in the
// journal, then starts it (a command line's process before the advance
// that launched it ends) and waits for it on a goroutine whose result
// comes back on e.done. The record is written, and the run started, by
// startLaunched. The caller holds e.mu.
func (e *Executor) launch(it *item, now time.Time) {
	cy := it.cy
	t := it.task
	cy.runs[t.Name]++
	rec := it.rec
	rec.Attempt = cy.runs[t.Name]
	if isOneOff(t.kind) {
		rec.Attempt = e.j.attempts(t.Name) + 1
	}
	rec.State = StateActive
	rec.Start = now
	cy.log.touch(rec)
	rec.Run = cy.day + "/" + t.Name + "#" + strconv.Itoa(cy.runs[t.Name])
	it.deadline, it.deadlineCause = e.deadlineOf(it, now)
	it.state = running
	cy.running = append(cy.running, it)

	ctx, cancel := context.WithCancelCause(e.runCtx)
	it.cancel = cancel
	info := RunInfo{Task: t.Name, Kind: t.kind, Cycle: cy.day, Run: rec.Run}
	e.launched = append(e.launched, launchedRun{it: it, ctx: ctx, info: info, now: now})
}

// launchedRun is a run launched and not yet started.
type launchedRun struct {
	it   *item
	ctx  context.Context
	info RunInfo
	now  time.Time
	spec proc.Spec // of a command line
	p    *proc.Process
	err  error // why a command line did not start
}

// startLaunched starts the runs launched since its last call. Their
// records are written first, active, in one write per cycle, so that runs
// due at one instant share one write and one fsync (group commit); then
// the Actions start, and the command lines' processes, whose identities
// are written in one more write before the executor goes on. With
// cgroups, a run's cgroup is in the journal before its process exists; its
// PID and start time are in the journal before its started event, so that
// after a crash [Executor.Run] finds and ends it. The caller holds e.mu.
func (e *Executor) startLaunched() {
	ls := e.launched
	if len(ls) == 0 {
		return
	}
	e.launched = nil
	for i := range ls {
		if l := &ls[i]; l.it.task.Action == nil {
			l.spec, l.err = e.prepareProcess(l.it, l.info)
		}
	}
	e.saveLaunched(ls)
	grace, clk := e.grace, e.clk
	procs := false
	for i := range ls {
		l := &ls[i]
		it := l.it
		if it.task.Action == nil {
			if l.err == nil {
				l.p, l.err = e.startPrepared(it, l.spec)
				procs = true
			}
			continue
		}
		e.emitRecord(EventStarted, it.cy.day, it.rec, l.now)
		ctx, a := context.WithValue(l.ctx, runInfoKey{}, l.info), it.task.Action
		go func() {
			r := runAction(ctx, a, grace)
			r.it = it
			r.end = clk.Now()
			e.done <- r
		}()
	}
	if procs {
		e.saveLaunched(ls)
	}
	for _, l := range ls {
		if l.it.task.Action != nil {
			continue
		}
		e.emitRecord(EventStarted, l.it.cy.day, l.it.rec, l.now)
		go func() {
			r := runResult{exitCode: -1, err: l.err}
			if l.err == nil {
				r = waitProcess(l.ctx, l.p)
			}
			r.it = l.it
			r.end = clk.Now()
			e.done <- r
		}()
	}
}

// saveLaunched writes the journals of the cycles of ls, each once.
func (e *Executor) saveLaunched(ls []launchedRun) {
	for i, l := range ls {
		if !slices.ContainsFunc(ls[:i], func(x launchedRun) bool { return x.it.cy == l.it.cy }) {
			e.save(l.it.cy)
		}
	}
}

// prepareProcess returns how the command line of a run is started, and
// creates its cgroup, which goes in its record: the caller writes the
// record before the process starts. The caller holds e.mu.
func (e *Executor) prepareProcess(it *item, info RunInfo) (proc.Spec, error) {
	rec := it.rec
	spec, err := e.spec(it.task, info)
	if err != nil {
		return spec, err
	}
	if e.cgroups != nil {
		cg, err := e.cgroups.New()
		if err != nil {
			e.useProcessGroups("cannot create a run's cgroup: " + err.Error())
		} else {
			spec.Cgroup = cg
			rec.Cgroup, rec.BootID = cg.Path, e.boot
		}
	}
	return spec, nil
}

// startPrepared starts the process of a run prepared and written, and
// records its identity: the caller writes it before the executor goes on.
// The caller holds e.mu.
func (e *Executor) startPrepared(it *item, spec proc.Spec) (*proc.Process, error) {
	rec, cy := it.rec, it.cy
	p, err := proc.Start(spec)
	if err != nil {
		if spec.Cgroup != nil {
			spec.Cgroup.Remove() //nolint:errcheck // empty: nothing started
			rec.Cgroup = ""
			cy.log.touch(rec)
		}
		return nil, fmt.Errorf("cannot run %w", err)
	}
	if p.Fallback != "" {
		e.useProcessGroups(p.Fallback)
		rec.Cgroup = ""
	}
	rec.PID, rec.PIDStart, rec.Session, rec.BootID = p.Identity.PID, p.Identity.Start, p.Identity.Session, p.Identity.Boot
	cy.log.touch(rec)
	return p, nil
}

// waitProcess waits for a started command line to end.
func waitProcess(ctx context.Context, p *proc.Process) runResult {
	r := p.Wait(ctx)
	res := runResult{pid: r.PID, exitCode: r.ExitCode, output: r.Output, err: r.Err, stopped: r.Stopped, killed: r.Killed}
	if len(r.Left) > 0 {
		res.left = &proc.Orphan{Leader: p.Identity}
		if p.Cgroup != nil {
			res.left.Cgroup = p.Cgroup.Path
		}
		res.leftPIDs = r.Left
	}
	return res
}

// SafePath is the PATH of a run as another user: the agent's own PATH is
// not passed on.
const SafePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// spec is how a task's command line is run: as whom, with what
// environment. A run as the executor's user gets the executor's
// environment; a run as another user a clean one (PATH, HOME, USER,
// LOGNAME, SHELL of that user), never the executor's. Both get the
// AFTERHOURS_* variables of the run, and no other: the executor's own
// AFTERHOURS_* variables (those of a run that started it, say) are not
// passed on.
func (e *Executor) spec(t *Task, info RunInfo) (proc.Spec, error) {
	vars := []string{
		"AFTERHOURS_TASK=" + info.Task,
		"AFTERHOURS_KIND=" + info.Kind.String(),
		"AFTERHOURS_CYCLE=" + info.Cycle,
		"AFTERHOURS_RUN=" + info.Run,
	}
	own := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AFTERHOURS_") })
	spec := proc.Spec{Argv: t.Run, Grace: e.grace, Env: append(own, vars...)}
	if t.User == "" {
		return spec, nil
	}
	u, err := proc.LookupUser(t.User)
	if err != nil {
		return spec, fmt.Errorf("cannot run as user %s: %w", t.User, err)
	}
	euid := geteuid()
	if int(u.Credential.Uid) == euid {
		return spec, nil
	}
	if euid != 0 {
		return spec, fmt.Errorf("cannot run as user %s: the executor runs as uid %d, not root", t.User, euid)
	}
	spec.Credential = u.Credential
	spec.Env = append([]string{"PATH=" + SafePath, "HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name, "SHELL=" + u.Shell}, vars...)
	return spec, nil
}

// errPanic marks a Go action's panic.
var errPanic = errors.New("panic")

// runAction runs a Go action on a goroutine of its own. A panic is an
// error, with the stack as output. When ctx is cancelled the action has
// the grace, in real time, to return; then it is abandoned.
func runAction(ctx context.Context, a Action, grace time.Duration) runResult {
	res := runResult{exitCode: -1}
	type outcome struct {
		err   error
		stack []byte
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- outcome{fmt.Errorf("%w: %v", errPanic, r), debug.Stack()}
			}
		}()
		done <- outcome{err: a.Run(ctx)}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		res.stopped = true
		t := time.NewTimer(grace)
		select {
		case o = <-done:
			t.Stop()
		case <-t.C:
			res.abandoned = true
			res.err = fmt.Errorf("abandoned: the action did not return within %v of its cancellation", grace)
			return res
		}
	}
	res.err = o.err
	res.output = o.stack
	if o.err == nil && ctx.Err() != nil {
		res.stopped = true
	}
	return res
}

// stop cancels a run with a cause. The caller holds e.mu.
func (e *Executor) stop(it *item, cause string, interrupt bool) {
	if it.stopCause != "" || it.cancel == nil {
		return
	}
	it.stopCause, it.interrupt = cause, interrupt
	it.cancel(errors.New(cause))
}

// finishReady records how r's run ended, and the runs whose results are
// waiting too, with one journal write for all of them (group commit):
// their events go out once it is made. It returns the first error of the
// store. The caller holds e.mu.
func (e *Executor) finishReady(r runResult) error {
	var events []Event
	e.heldEvents = &events
	e.j.hold()
	err := e.finish(r)
	for more := err == nil; more; {
		select {
		case r := <-e.done:
			err = e.finish(r)
			more = err == nil
		default:
			more = false
		}
	}
	if rerr := e.j.release(); err == nil {
		err = rerr
	}
	e.heldEvents = nil
	for _, ev := range events {
		e.emit(ev)
	}
	return err
}

// finish records how a run ended. The caller holds e.mu.
func (e *Executor) finish(r runResult) error {
	it := r.it
	cy := it.cy
	for i, x := range cy.running {
		if x == it {
			cy.running = append(cy.running[:i], cy.running[i+1:]...)
			break
		}
	}
	it.state = done
	it.cancel(nil)
	e.dropGrants(it) // the run the constraints allowed has ended
	rec := it.rec
	cy.log.touch(rec)
	rec.End = r.end
	rec.ExitCode = r.exitCode
	if r.pid != 0 {
		rec.PID = r.pid
	}
	if r.left != nil {
		rec.Error = firstOf(rec.Error, "failed") + fmt.Sprintf("; processes %v outlived SIGKILL", r.leftPIDs)
		e.survivors = append(e.survivors, survivor{run: rec.Run, o: *r.left, pids: r.leftPIDs})
		e.log.Error("processes of a run outlived SIGKILL", "run", rec.Run, "pids", r.leftPIDs)
	}
	rec.Output = strings.ToValidUTF8(string(r.output), "\uFFFD")
	switch {
	case it.stopCause != "" && (r.err != nil || r.stopped):
		rec.State = StateFailed
		rec.Error = it.stopCause
		rec.Interrupted = it.interrupt
		switch {
		case r.abandoned:
			rec.Error += "; " + r.err.Error()
		case r.killed:
			rec.Error += "; killed with SIGKILL after the grace"
		}
	case r.err != nil:
		rec.State = StateFailed
		rec.Error = r.err.Error()
	default:
		rec.State = StateCompleted
	}
	if e.cmdRun == it {
		e.cmdRun = nil
	}
	var err error
	if err = e.j.saveCycle(cy.log); err == nil && isOneOff(it.task.kind) &&
		(rec.State == StateCompleted || it.task.kind == SelfUpdate && rec.Interrupted) {
		if e.j.meta.Done == nil {
			e.j.meta.Done = map[string]doneOneOff{}
		}
		e.j.meta.Done[rec.Task] = doneOneOff{Day: cy.day, Interrupted: rec.State != StateCompleted}
		err = e.j.saveMeta()
	}
	now := r.end
	if rec.State == StateCompleted {
		e.emitRecord(EventFinished, cy.day, rec, now)
	} else {
		e.emitRecord(EventFailed, cy.day, rec, now)
		if r.abandoned {
			e.log.Error("action abandoned", "task", rec.Task, "run", rec.Run)
		}
		if it.task.StopsCycle() && it.task.kind != CommandKind && it.task.kind != Timer && cy.stopped == "" && !rec.Interrupted && e.j.meta.Killed == nil {
			cy.stopped = it.task.Name
			e.deferPending(cy, now, ReasonStopped, it.task.Name+" failed and stops the cycle")
			if serr := e.j.saveCycle(cy.log); err == nil {
				err = serr
			}
			e.notify(Notice{Kind: NoticeStopped, Day: cy.day, At: now, Reason: it.task.Name, Failed: cy.log.snapshot().Failed()})
		}
	}
	if cy.ended && len(cy.running) == 0 {
		if ferr := e.finalize(cy, now); err == nil {
			err = ferr
		}
	}
	return err
}
