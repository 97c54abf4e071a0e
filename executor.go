package afterhours

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours/internal/fanout"
	"github.com/afterhours-go/afterhours/internal/proc"
)

// Executor runs a profile's plans, cycle after cycle, against a clock:
// housekeeping, updates and the self-update in their windows, slot tasks in
// their slots, timers at their times, and the commands operators submit. It
// keeps a journal of every cycle in a [Store], so that a restarted executor
// knows what is done, and it has a killswitch.
//
// # Time
//
// The executor sleeps until the next thing it has to do (a step, a slot, a
// timer, a deadline, the window's end when it has failures to report then
// (see [Notifier]), the end of the cycle): it asks its clock for one timer
// at a time and wakes for nothing else but a submitted command, a finished
// run, an [Executor.Update], [Executor.Kill] or [Executor.Resume]. After
// every wake it reads the clock again, so a clock jump or a suspended
// machine is handled: a step starts only where its whole estimated run fits
// in the window, so never in business hours; a step or slot task whose time
// passed while the executor was not awake is recorded as missed
// ([ReasonMissed]), and pending one-offs carry over to the next cycle; of a
// timer's runs that fell due meanwhile only the latest runs, the others
// are recorded as missed. The executor is not awake from the instant the
// timer it armed was due to a wake that comes more than a minute later,
// nor before Run starts: a step that no longer fits at such a wake but
// would have fitted from the instant the executor should have woken is
// missed, its detail saying when the executor woke ("the executor woke at
// 09:55, after the window ended at 08:00"); a step that stopped fitting
// while the executor was awake (earlier steps ran long) is window-full.
// Cycles slept through entirely are recorded with their work missed (up
// to the retention). Timeouts, slot ends and cycle
// ends are instants of the clock; the grace between SIGTERM and SIGKILL is
// real time.
//
// # The sequence
//
// Steps start in the plan's order, each as soon as a lane is free, no
// contending step or slot task runs, the steps of the previous phase have
// ended, no command is queued or running, its whole estimated run fits
// before the window's end and clear of the holds it contends with, and the
// constraints allow it. A step that waits for a hold is "held"; the steps
// after it wait too, as planning has them. A step that can no longer fit
// is deferred ([ReasonWindowFull]) and does not hold back the steps after
// it. The self-update starts only when nothing else at all runs (commands
// and timers included) and every update is completed; an update that
// failed or was deferred in the cycle defers it ([ReasonUpdatesPending]).
// While it runs commands wait and timer runs are
// skipped ([ReasonSelfUpdate]). A failed task with on_failure "stop" stops
// the rest of its cycle ([ReasonStopped]) and is notified at once.
//
// Slot tasks start at their slot's start, one after another in declared
// order, and are stopped at its end. Timers run at their times, in
// business hours or not, and never overlap themselves: a run due while the
// last one runs is skipped ([ReasonOverlap]).
//
// # Runs
//
// A task's Run is started without a shell, in a process group of its own
// and, where a cgroup v2 hierarchy is writable, in a cgroup of its own
// (created below the executor's own cgroup, the process placed in it before
// it runs a single instruction); [Status] says which ([IsolationCgroup],
// [IsolationProcessGroup]). It gets the environment of the executor's
// process plus AFTERHOURS_TASK, AFTERHOURS_KIND, AFTERHOURS_CYCLE and
// AFTERHOURS_RUN (cycle/task#n), and no other AFTERHOURS_* variable. Its executable must exist and be
// executable, or the run fails saying so. With User set it runs as that
// user; when that user is not the executor's, with a clean environment:
// PATH ([SafePath]), HOME, USER, LOGNAME and SHELL of that user and the
// AFTERHOURS_* variables, never the executor's (its tokens stay its own).
// An executor that is not root fails such a run unless the user is its
// own. A run ends with its group and its cgroup: what it leaves running is
// ended too, a descendant that left the group (setsid) included where the
// run has a cgroup. The run's cgroup, PID and the PID's start time are in
// the journal before the executor goes on, so that a restarted executor
// ends what a crash left (see [Executor.Run]).
// A task's Action runs on a goroutine with a context that carries its
// [RunInfo]; a panic fails the run, with the stack as its output.
//
// A run's deadline is its timeout from its start; without one, a step's is
// the window's end, a slot task's the slot's end (always at most that),
// a timer's [DefaultTimerTimeout] and a command's [DefaultCommandTimeout].
// At the deadline, at a kill and when Run's context ends, a process group
// gets SIGTERM, and SIGKILL (cgroup.kill) if anything of it is left after
// the grace ([WithGrace]); the run ends once its processes are gone (a
// process that outlives SIGKILL by 5 seconds is recorded, and holds
// back the self-update while it lives); an Action's context is cancelled,
// and an Action that has not returned after the grace is abandoned (its
// goroutine is left behind) and its run recorded as failed.
//
// # Concurrency
//
// An Executor is safe for concurrent use. Its methods other than Run may be
// called whether Run runs or not; Run may be called again after it
// returned, but not twice at once.
type Executor struct {
	clk       Clock
	store     Store
	log       *slog.Logger
	grace     time.Duration
	notifier  Notifier
	extra     []Constraint
	releasing sync.WaitGroup // Releaser.Release calls under way
	retention int
	// idleHook, when set (tests and benchmarks), is called by the loop
	// when nothing runs and no check is under way, before it sleeps until
	// at (zero: no timer).
	idleHook func(at time.Time)

	mu          sync.Mutex
	p           *Profile
	constraints []Constraint
	j           *journal
	cur         *cycleRun
	closing     []*cycleRun
	subs        fanout.Set[Event]
	notices     []Notice
	noticeReady chan struct{}
	poke        chan struct{}
	done        chan runResult
	checked     chan checkResult
	runCtx      context.Context // base of every run's context, while Run runs
	running     bool
	inflight    int // constraint checks under way
	cmdRun      *item
	slept       time.Time // during a late wake: when the executor should have woken (see sleptSince)
	next        time.Time // the earliest wake the dispatchers asked for
	storeErr    error     // the first store error of a loop iteration
	wakes       int       // loop iterations; starts at 1

	timerAt time.Time // when the armed timer fires; zero when none is armed
	timerC  <-chan time.Time
	firedAt time.Time // when the timer that just fired was due

	// launched holds the runs launched in this advance, to start (see
	// startLaunched).
	launched []launchedRun
	// heldEvents, when set, holds the events emitted until the journal
	// writes they follow are made (see finishReady).
	heldEvents *[]Event

	// Processes: see orphans.go.
	cgroups   *proc.Cgroups // nil: runs are isolated by process group
	isolation string        // IsolationCgroup or IsolationProcessGroup, from Run's start
	boot      string        // the boot id
	orphans   []orphanRun   // runs a crashed executor left, to end when Run starts
	survivors []survivor    // runs whose processes outlived SIGKILL
}

// Option configures an [Executor]. Options validate their arguments:
// NewExecutor returns the first error.
type Option func(*Executor) error

// WithClock sets the clock (default: the system's). A nil clock is an
// error.
func WithClock(c Clock) Option {
	return func(e *Executor) error {
		if c == nil {
			return ErrNilClock
		}
		e.clk = c
		return nil
	}
}

// WithStore sets the store of the executor's state (default: a new
// [MemoryStore], which does not survive the process).
func WithStore(s Store) Option {
	return func(e *Executor) error {
		if s == nil {
			return errors.New("afterhours: nil store")
		}
		e.store = s
		return nil
	}
}

// WithConstraints adds constraints the executor checks before each step
// and slot task, after the business-hours constraint and those of the
// profile's constraints section.
func WithConstraints(cs ...Constraint) Option {
	return func(e *Executor) error {
		for i, c := range cs {
			if c == nil {
				return fmt.Errorf("afterhours: constraint %d is nil", i)
			}
		}
		e.extra = append(e.extra, cs...)
		return nil
	}
}

// WithNotifier sets who is told of failures and kills (default: no one).
func WithNotifier(n Notifier) Option {
	return func(e *Executor) error {
		if n == nil {
			return errors.New("afterhours: nil notifier")
		}
		e.notifier = n
		return nil
	}
}

// WithLogger sets the logger (default: none; the executor is silent).
func WithLogger(l *slog.Logger) Option {
	return func(e *Executor) error {
		if l == nil {
			return errors.New("afterhours: nil logger")
		}
		e.log = l
		return nil
	}
}

// DefaultGrace is the default time between SIGTERM and SIGKILL.
const DefaultGrace = 10 * time.Second

// WithGrace sets the real time a stopped run has between SIGTERM and
// SIGKILL, or a cancelled Action has to return (default [DefaultGrace]).
func WithGrace(d time.Duration) Option {
	return func(e *Executor) error {
		if d <= 0 {
			return fmt.Errorf("afterhours: grace %v: want a positive duration", d)
		}
		e.grace = d
		return nil
	}
}

// DefaultRetention is how many cycles the journal keeps by default.
const DefaultRetention = 30

// WithRetention sets how many cycles the journal keeps (default
// [DefaultRetention]); command ids are deduplicated across them.
func WithRetention(n int) Option {
	return func(e *Executor) error {
		if n < 1 {
			return fmt.Errorf("afterhours: retention %d: want at least 1 cycle", n)
		}
		e.retention = n
		return nil
	}
}

// NewExecutor returns an executor of the validated profile p. It loads the
// state from the store: a record that cannot be read or decoded is a
// *[StateError] naming it, and is left as it is. Runs the state says were
// active are recorded as failed and interrupted: the executor that ran them
// is gone; their processes are ended when Run starts (see [Executor.Run]).
// An interrupted self-update is not run again on its own (the agent
// restarting itself is the usual way a self-update ends); other
// interrupted tasks count as failed in their cycle.
func NewExecutor(p *Profile, opts ...Option) (*Executor, error) {
	if p == nil || !p.validated {
		return nil, ErrNotValidated
	}
	e := &Executor{
		clk:         realClock{},
		log:         slog.New(slog.DiscardHandler),
		grace:       DefaultGrace,
		retention:   DefaultRetention,
		p:           p,
		noticeReady: make(chan struct{}, 1),
		poke:        make(chan struct{}, 1),
		done:        make(chan runResult, 16),
		checked:     make(chan checkResult, 4),
		wakes:       1,
	}
	for _, o := range opts {
		if err := o(e); err != nil {
			return nil, err
		}
	}
	if e.store == nil {
		e.store = NewMemoryStore()
	}
	j, err := loadJournal(e.store, e.retention)
	if err != nil {
		return nil, err
	}
	e.j = j
	e.constraints = e.constraintsOf(p)
	if err := e.recoverInterrupted(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Executor) constraintsOf(p *Profile) []Constraint {
	cs := []Constraint{BusinessHours(&p.Site)}
	cs = append(cs, p.Constraints.List()...)
	return append(cs, e.extra...)
}

// realClock is the system's clock.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Run runs cycle after cycle until ctx ends. Then it stops the runs under
// way (SIGTERM, then SIGKILL after the grace; Actions are cancelled and
// abandoned after the grace), records them as failed and interrupted, and
// returns nil. It returns an error at once when the executor already runs,
// and stops as above and returns an error when the store fails: an
// executor that cannot keep its journal must not go on.
//
// Before anything starts (no step, slot task, timer, command or
// self-update), Run ends the processes of the runs a crashed executor left
// active, as their journal records identify them: their cgroup, and their
// process group while its leader has the recorded start time in the same
// boot, so that a reused PID is never signalled. They get SIGTERM, then
// SIGKILL after the grace (real time); Run waits until they are gone, at
// most 5 seconds after SIGKILL. Each run's record says what became
// of its processes. Processes that outlive SIGKILL (uninterruptible sleep)
// hold back the self-update alone ([ReasonOrphaned]) while they live:
// other work, commands first, may be what frees them, and an agent that
// restarted itself beside them would lose sight of them.
func (e *Executor) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.running {
		e.mu.Unlock()
		return ErrRunning
	}
	e.running = true
	e.mu.Unlock()
	err := e.endOrphans()
	e.mu.Lock()
	e.openCgroups()
	runCtx, cancelRuns := context.WithCancel(context.WithoutCancel(ctx))
	e.runCtx = runCtx
	if err == nil {
		err = e.start(e.clk.Now())
	}
	e.mu.Unlock()

	stopNotices := make(chan struct{})
	var notifierDone sync.WaitGroup
	if e.notifier != nil {
		notifierDone.Go(func() { e.deliver(stopNotices) })
	}
	immediate := 0
	for err == nil {
		e.mu.Lock()
		now := e.clk.Now()
		e.slept = e.sleptSince(now)
		e.firedAt = time.Time{}
		err = e.advance(now)
		e.slept = time.Time{}
		at := e.nextWake(now)
		e.wakes++
		idle := e.runningCount() == 0 && e.inflight == 0
		e.mu.Unlock()
		if err != nil {
			break
		}
		timer := e.arm(now, at)
		if idle && e.idleHook != nil {
			e.mu.Lock()
			armed := e.timerAt
			e.mu.Unlock()
			e.idleHook(armed)
		}
		if !at.IsZero() && !at.After(now) {
			// Something is due already: go round again, but never spin.
			if immediate++; immediate < 100 {
				continue
			}
			e.log.Error("executor loop: work due but not started", "at", at)
			timer = e.clk.After(time.Second)
		}
		immediate = 0
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-timer:
			e.mu.Lock()
			e.timerC = nil
			e.firedAt, e.timerAt = e.timerAt, time.Time{}
			e.mu.Unlock()
		case <-e.poke:
		case r := <-e.done:
			e.mu.Lock()
			err = e.finishReady(r)
			e.mu.Unlock()
		case r := <-e.checked:
			e.mu.Lock()
			e.checkDone(r)
			e.mu.Unlock()
		}
	}
	e.shutdown(cancelRuns)
	close(stopNotices)
	notifierDone.Wait()
	e.waitReleases()
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if ctx.Err() != nil {
			return nil
		}
	}
	return err
}

// lateWake is how late a wake may be before it counts as late: work that
// can no longer fit may then be missed, not window-full (see sleptSince).
const lateWake = time.Minute

// sleptSince returns, for a wake at now, the instant from which the
// executor was not awake: when the timer it armed was due, if that timer
// fired (or is still armed) more than lateWake before now; the clock
// jumped or the machine slept. It returns zero for a wake on time.
func (e *Executor) sleptSince(now time.Time) time.Time {
	if due := laterOf(e.timerAt, e.firedAt); !due.IsZero() && now.Sub(due) > lateWake {
		return due
	}
	return time.Time{}
}

// arm returns the channel of a timer that fires at or before at, asking the
// clock for a new one only when the armed timer fires later than at.
func (e *Executor) arm(now, at time.Time) <-chan time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	if at.IsZero() || !at.After(now) {
		return e.timerC
	}
	if e.timerC != nil && !e.timerAt.After(at) {
		return e.timerC
	}
	e.timerAt = at
	e.timerC = e.clk.After(at.Sub(now))
	return e.timerC
}

// shutdown stops every run and check, and waits for them.
func (e *Executor) shutdown(cancelRuns context.CancelFunc) {
	e.mu.Lock()
	for _, cy := range e.cycles() {
		for _, it := range cy.running {
			e.stop(it, "interrupted: the executor stopped", true)
		}
	}
	cancelRuns()
	for e.inflight > 0 || e.runningCount() > 0 {
		e.mu.Unlock()
		select {
		case r := <-e.done:
			e.mu.Lock()
			if err := e.finish(r); err != nil {
				e.log.Error("journal", "err", err)
			}
		case r := <-e.checked:
			e.mu.Lock()
			e.checkDone(r)
		}
	}
	// What constraints hold for starts that will not happen now.
	for _, cy := range e.cycles() {
		for _, it := range cy.steps {
			e.dropGrants(it)
		}
		for _, sr := range cy.slots {
			for _, it := range sr.items {
				e.dropGrants(it)
			}
		}
	}
	if err := e.j.checkpoint(); err != nil {
		e.log.Error("journal", "err", err)
	}
	e.running = false
	e.timerC, e.timerAt = nil, time.Time{}
	e.closeCgroups()
	e.mu.Unlock()
}

// waitReleases waits for the Releaser.Release calls under way, for at
// most the grace: a release that cannot reach its server then goes on
// alone until [ReleaseTimeout], and what it held is released by the
// Releaser's owner (FleetLock releases at its first check after a start).
func (e *Executor) waitReleases() {
	done := make(chan struct{})
	go func() {
		e.releasing.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(e.grace):
	}
}

func (e *Executor) wake() {
	select {
	case e.poke <- struct{}{}:
	default:
	}
}

// cycles returns the cycles that may have runs: those ending and the
// current one.
func (e *Executor) cycles() []*cycleRun {
	out := slices.Clone(e.closing)
	if e.cur != nil {
		out = append(out, e.cur)
	}
	return out
}

func (e *Executor) runningCount() int {
	n := 0
	for _, cy := range e.cycles() {
		n += len(cy.running)
	}
	return n
}

// Submit accepts a command: it is saved in the store before Submit returns,
// and runs as soon as nothing stops it (see [Command]). Commands run one at
// a time in the order accepted, before the next step of the sequence
// starts; they bypass business hours, holds, downtimes and constraints, but
// wait for a running self-update. Errors: [ErrKilled] while killed,
// [ErrDuplicateCommand] for an id accepted before, [ErrNotForSite] when the
// command's tags do not match the site, an error from the store (the
// command is then not accepted), or one describing an invalid command.
func (e *Executor) Submit(c Command) error {
	if err := c.validate(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.j.meta.Killed != nil {
		return ErrKilled
	}
	if e.j.commands[c.ID] {
		return fmt.Errorf("%w: %s", ErrDuplicateCommand, c.ID)
	}
	if !selectorMatches(c.Tags, e.p.Site.Tags) {
		return fmt.Errorf("%w: selector %v, site tags %v", ErrNotForSite, c.Tags, e.p.Site.Tags)
	}
	cmd := c
	cmd.Run = slices.Clone(c.Run)
	cmd.Tags = slices.Clone(c.Tags)
	cmd.Accepted = e.clk.Now()
	e.j.meta.Queue = append(e.j.meta.Queue, &cmd)
	if err := e.j.saveMeta(); err != nil {
		e.j.meta.Queue = e.j.meta.Queue[:len(e.j.meta.Queue)-1]
		return fmt.Errorf("afterhours: save command: %w", err)
	}
	e.j.commands[c.ID] = true
	day := ""
	if e.cur != nil {
		day = e.cur.day
	}
	e.emit(Event{Kind: EventCommandAccepted, At: cmd.Accepted, Day: day, Task: cmd.name(), TaskKind: CommandKind, Detail: "id " + cmd.ID})
	e.wake()
	return nil
}

// Update replaces the profile, which must be validated, and re-plans the
// current cycle from now: a new to-do list without what is completed,
// failed or running. Tasks are identified by name: a running task that the
// new profile removes finishes. The current cycle keeps its span and
// window; a changed site applies from the next cycle. A downtime with the
// action "stop" that the new profile adds stops a run under way that uses
// its resource when the downtime begins.
func (e *Executor) Update(p *Profile) error {
	if p == nil || !p.validated {
		return ErrNotValidated
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.p = p
	e.constraints = e.constraintsOf(p)
	if e.cur == nil {
		return nil
	}
	e.cur.p = p
	now := e.clk.Now()
	// A stop downtime the new profile brings stops the runs under way that
	// use its resource when it begins, as it would have had they started
	// under it.
	for _, it := range e.cur.running {
		if nt := p.Task(it.task.Name); nt != nil {
			if stop, why, ok := e.downtimeStop(it, nt.down, now, it.deadline); ok && stop.Before(it.deadline) {
				it.deadline, it.deadlineCause = stop, why
			}
		}
	}
	err := e.plan(e.cur, now, wake{slept: e.sleptSince(now)})
	e.wake()
	return err
}

// Kill turns the killswitch on: every run under way is stopped now (process
// groups get SIGTERM, then SIGKILL after the grace; Actions' contexts are
// cancelled) and recorded as failed with the reason, queued commands are
// recorded as failed without running, the rest of the cycle is deferred as
// [ReasonKilled], and the notifier is told. The killswitch is saved before
// Kill returns and survives restarts: nothing starts, and Submit returns
// [ErrKilled], until [Executor.Resume]. An error saving it is logged.
func (e *Executor) Kill(reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clk.Now()
	if e.j.meta.Killed == nil {
		e.j.meta.Killed = &killState{Reason: reason, At: now}
	}
	if err := e.j.saveMeta(); err != nil {
		e.log.Error("save killswitch", "err", err)
	}
	cause := "killed: " + reason
	for _, cy := range e.cycles() {
		for _, it := range cy.running {
			e.stop(it, cause, false)
		}
	}
	if cy := e.cur; cy != nil {
		e.failQueued(cy, now, cause)
		e.deferPending(cy, now, ReasonKilled, reason)
		if err := e.j.saveCycle(cy.log); err != nil {
			e.log.Error("journal", "err", err)
		}
	}
	day := ""
	var failed []Record
	if e.cur != nil {
		day = e.cur.day
		failed = e.cur.logSnapshot().Failed()
	}
	e.emit(Event{Kind: EventKilled, At: now, Day: day, Reason: ReasonKilled, Detail: reason})
	e.notify(Notice{Kind: NoticeKilled, Day: day, At: now, Reason: reason, Failed: failed})
	e.wake()
}

// Resume turns the killswitch off, saves that, and re-plans the current
// cycle from now, as [Executor.Update] does. Tasks the kill ended count as
// failed in their cycle. An error saving the state is logged.
func (e *Executor) Resume() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.j.meta.Killed == nil {
		return
	}
	e.j.meta.Killed = nil
	if err := e.j.saveMeta(); err != nil {
		e.log.Error("save killswitch", "err", err)
	}
	now := e.clk.Now()
	day := ""
	if e.cur != nil {
		day = e.cur.day
	}
	e.emit(Event{Kind: EventResumed, At: now, Day: day})
	if e.cur != nil {
		e.summariseTimers(e.cur, now, ReasonKilled, "not run while killed")
		if err := e.plan(e.cur, now, wake{slept: e.sleptSince(now)}); err != nil {
			e.log.Error("journal", "err", err)
		}
	}
	e.wake()
}

// Journal returns a copy of the journal: the retained cycles, oldest first.
func (e *Executor) Journal() []CycleJournal {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]CycleJournal, 0, len(e.j.cycles))
	for _, c := range e.j.cycles {
		out = append(out, c.snapshot())
	}
	return out
}

// History returns the journal as planning's history, safe for concurrent
// use, to plan with what the executor knows: BuildPlan(p, clk,
// WithHistory(e.History())).
func (e *Executor) History() FailureHistory { return lockedHistory{e} }

type lockedHistory struct{ e *Executor }

func (h lockedHistory) Settled(task, day string) bool {
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	return h.e.j.Settled(task, day)
}

func (h lockedHistory) Failed(task, day string) bool {
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	return h.e.j.Failed(task, day)
}

func (h lockedHistory) Durations(task string) []time.Duration {
	h.e.mu.Lock()
	defer h.e.mu.Unlock()
	return h.e.j.Durations(task)
}
