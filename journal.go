package afterhours

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// State is where a [Record] stands.
type State string

// The states of a record.
const (
	StateToDo      State = "to-do"     // planned, not started
	StateActive    State = "active"    // running
	StateCompleted State = "completed" // ended with success
	StateFailed    State = "failed"    // ended otherwise, or interrupted
	StateDeferred  State = "deferred"  // not run in the cycle: see Reason
)

// More reasons of deferrals, beside those of planning ([ReasonNotDue] and
// the others), that only running gives.
const (
	// ReasonMissed: the executor was not awake (a suspended machine, a clock
	// jump, a stopped agent) when the work was due. Missed one-offs carry
	// over to the next cycle.
	ReasonMissed = "missed"
	// ReasonOverlap: a timer run fell due while the timer's last run was
	// still running.
	ReasonOverlap = "overlap"
	// ReasonSelfUpdate: a timer run fell due while the self-update ran.
	ReasonSelfUpdate = "self-update"
	// ReasonKilled: the killswitch was on.
	ReasonKilled = "killed"
	// ReasonConstraint prefixes the name of the constraint that refused a
	// start, or kept it waiting until it no longer fitted:
	// "constraint:max-load".
	ReasonConstraint = "constraint:"
)

// Record is one entry of a cycle's journal: a planned, running or finished
// run of a task, or a deferral. Instants are those of the executor's clock.
type Record struct {
	Task string `json:"task"`
	Kind Kind   `json:"kind"`
	// State is where the record stands; Failed with Interrupted set for a
	// run the executor stopped or lost (a crash) before it ended.
	State State `json:"state"`
	// Command is the id of a command's run.
	Command string `json:"command,omitempty"`
	// Run identifies the run, as AFTERHOURS_RUN gives it: cycle/task#n.
	Run string `json:"run,omitempty"`
	// Attempt counts the runs of the task: for a one-off, across the
	// journal's retention; for other kinds, within the cycle.
	Attempt int `json:"attempt,omitempty"`
	// Estimate is the estimate the run was planned with.
	Estimate Duration `json:"estimate,omitempty"`
	// PlannedStart and PlannedEnd are the plan's projection.
	PlannedStart time.Time `json:"planned_start,omitzero"`
	PlannedEnd   time.Time `json:"planned_end,omitzero"`
	// Start and End are the actual start and end.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// PID is the process (and process group) id of a command line's run,
	// and PIDStart, Session and BootID tell that process apart from any
	// that gets its PID later: its start time in clock ticks since boot
	// (/proc/<pid>/stat), its session and the boot's id. Cgroup is the
	// run's cgroup v2 directory, recorded before the process starts. They
	// are how a restarted executor finds and ends what a crash left.
	PID      int    `json:"pid,omitempty"`
	PIDStart uint64 `json:"pid_start,omitempty"`
	Session  int    `json:"sid,omitempty"`
	BootID   string `json:"boot_id,omitempty"`
	Cgroup   string `json:"cgroup,omitempty"`
	// ExitCode is the exit status, -1 when there is none (a Go action, a
	// process ended by a signal, a run that did not start).
	ExitCode int `json:"exit_code"`
	// Error says why a run failed.
	Error string `json:"error,omitempty"`
	// Interrupted marks a run the executor stopped because it stopped
	// itself, or found active after a crash.
	Interrupted bool `json:"interrupted,omitempty"`
	// Output is the tail of the run's combined stdout and stderr (64 KiB),
	// or a panicking Go action's stack.
	Output string `json:"output,omitempty"`
	// Reason and Detail explain a deferral.
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Noticed is set on a failed run once a [NoticeFailures] notice listed
	// it: no failure is listed in two.
	Noticed bool `json:"noticed,omitempty"`
}

// Duration returns End-Start of a run that ended, else 0.
func (r *Record) Duration() time.Duration {
	if r.Start.IsZero() || r.End.IsZero() {
		return 0
	}
	return r.End.Sub(r.Start)
}

// CycleJournal is the journal of one cycle.
type CycleJournal struct {
	// Day is the site-local date of the cycle.
	Day    string   `json:"day"`
	Span   Interval `json:"span"`
	Window Interval `json:"window"`
	// Records lists the cycle's to-do list, runs and deferrals.
	Records []Record `json:"records"`
	// Closed is set once the cycle has ended and nothing of it runs.
	Closed bool `json:"closed,omitempty"`
}

func (c CycleJournal) filter(s State) []Record {
	var out []Record
	for _, r := range c.Records {
		if r.State == s {
			out = append(out, r)
		}
	}
	return out
}

// ToDo returns the records still to be run.
func (c CycleJournal) ToDo() []Record { return c.filter(StateToDo) }

// Active returns the runs under way.
func (c CycleJournal) Active() []Record { return c.filter(StateActive) }

// Completed returns the runs that succeeded.
func (c CycleJournal) Completed() []Record { return c.filter(StateCompleted) }

// Failed returns the runs that failed or were interrupted.
func (c CycleJournal) Failed() []Record { return c.filter(StateFailed) }

// Deferred returns the deferrals, skipped and missed runs included.
func (c CycleJournal) Deferred() []Record { return c.filter(StateDeferred) }

// cycleLog is the journal of one cycle as the executor keeps it: records
// by pointer, so that a run updates its own.
type cycleLog struct {
	Day     string
	Span    Interval
	Window  Interval
	Records []*Record
	Closed  bool
	// WindowNoticed is set once the failures notice of the window's end
	// was made (see Executor.noticeWindow).
	WindowNoticed bool

	// enc caches the JSON of each record, for stores that are not
	// Appenders: a write re-encodes only the records changed since the
	// last, which touch drops from the cache.
	enc map[*Record][]byte
	// w is what the store holds of the cycle (see journal_log.go).
	w written
	// byTask indexes Records[:indexed] by task, for the questions
	// planning asks of every task (see ofTask).
	byTask  map[string][]*Record
	indexed int
}

// ofTask returns the records of task, in the cycle's order. Records are
// only ever appended to the cycle, but by a plan (see prune): the index
// grows with them.
func (c *cycleLog) ofTask(task string) []*Record {
	if c.indexed > len(c.Records) {
		c.byTask, c.indexed = nil, 0
	}
	if c.byTask == nil {
		c.byTask = map[string][]*Record{}
	}
	for _, r := range c.Records[c.indexed:] {
		c.byTask[r.Task] = append(c.byTask[r.Task], r)
	}
	c.indexed = len(c.Records)
	return c.byTask[task]
}

// touch marks r as changed since the last write.
func (c *cycleLog) touch(r *Record) {
	delete(c.enc, r)
	if c.w.dirty == nil {
		c.w.dirty = map[*Record]struct{}{}
	}
	c.w.dirty[r] = struct{}{}
}

// prune drops the cached JSON of records no longer in the cycle; the
// records were reordered or dropped (a plan), so the next write is a
// snapshot.
func (c *cycleLog) prune() {
	c.w.reordered = true
	c.byTask, c.indexed = nil, 0
	keep := make(map[*Record][]byte, len(c.Records))
	for _, r := range c.Records {
		if b, ok := c.enc[r]; ok {
			keep[r] = b
		}
	}
	c.enc = keep
}

func (c *cycleLog) snapshot() CycleJournal {
	out := CycleJournal{Day: c.Day, Span: c.Span, Window: c.Window, Closed: c.Closed, Records: make([]Record, len(c.Records))}
	for i, r := range c.Records {
		out.Records[i] = *r
	}
	return out
}

// cycleJSON is a cycle's stored form; Interval's own JSON form keeps only
// seconds.
type cycleJSON struct {
	Version int       `json:"version"`
	Day     string    `json:"day"`
	Span    [2]string `json:"span"`
	Window  [2]string `json:"window"`
	Closed  bool      `json:"closed,omitempty"`
	// Seq is the last write of the cycle's log (see journal_log.go) that
	// the snapshot holds.
	Seq uint64 `json:"seq,omitempty"`
	// WindowNoticed: the failures notice of the window's end was made.
	WindowNoticed bool      `json:"window_noticed,omitempty"`
	Records       []*Record `json:"records"`
}

func nano(t time.Time) string { return t.Format(time.RFC3339Nano) }

// marshal returns the cycle's snapshot; cache keeps the JSON of each
// record for the next.
func (c *cycleLog) marshal(cache bool) ([]byte, error) {
	head, err := json.Marshal(cycleJSON{Version: 1, Day: c.Day, Span: [2]string{nano(c.Span.Start), nano(c.Span.End)},
		Window: [2]string{nano(c.Window.Start), nano(c.Window.End)}, Closed: c.Closed, WindowNoticed: c.WindowNoticed, Seq: c.w.seq})
	if err != nil {
		return nil, err
	}
	if !cache {
		c.enc = nil
	} else if c.enc == nil {
		c.enc = map[*Record][]byte{}
	}
	// head ends with "records":null}; the records go in its place.
	head = bytes.TrimSuffix(head, []byte("null}"))
	size := len(head) + 2
	if !cache {
		recs, err := json.Marshal(c.Records)
		if err != nil {
			return nil, err
		}
		if c.Records == nil {
			recs = []byte("[]")
		}
		out := make([]byte, 0, len(head)+len(recs)+1)
		return append(append(append(out, head...), recs...), '}'), nil
	}
	for _, r := range c.Records {
		b, ok := c.enc[r]
		if !ok {
			if b, err = json.Marshal(r); err != nil {
				return nil, err
			}
			c.enc[r] = b
		}
		size += len(b) + 1
	}
	out := make([]byte, 0, size)
	out = append(out, head...)
	out = append(out, '[')
	for i, r := range c.Records {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, c.enc[r]...)
	}
	return append(out, "]}"...), nil
}

func unmarshalCycle(data []byte) (*cycleLog, error) {
	var cj cycleJSON
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cj); err != nil {
		return nil, err
	}
	if cj.Version != 1 {
		return nil, fmt.Errorf("unknown version %d", cj.Version)
	}
	if _, err := ParseDate(cj.Day); err != nil {
		return nil, err
	}
	c := &cycleLog{Day: cj.Day, Records: cj.Records, Closed: cj.Closed, WindowNoticed: cj.WindowNoticed}
	c.w.seq = cj.Seq
	for i, pair := range [][2]string{cj.Span, cj.Window} {
		var iv Interval
		var err error
		if iv.Start, err = time.Parse(time.RFC3339Nano, pair[0]); err == nil {
			iv.End, err = time.Parse(time.RFC3339Nano, pair[1])
		}
		if err != nil {
			return nil, err
		}
		if i == 0 {
			c.Span = iv
		} else {
			c.Window = iv
		}
	}
	for i, r := range c.Records {
		if r == nil || r.Task == "" {
			return nil, fmt.Errorf("record %d: no task", i)
		}
	}
	return c, nil
}

// UnmarshalText decodes a kind from its name.
func (k *Kind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n != "" && n == string(b) {
			*k = Kind(i)
			return nil
		}
	}
	return fmt.Errorf("afterhours: unknown kind %q", b)
}

// metaState is the executor's state beside the cycles.
type metaState struct {
	Version int `json:"version"`
	// Killed is set while the killswitch is on.
	Killed *killState `json:"killed,omitempty"`
	// Queue holds the accepted commands not yet started.
	Queue []*Command `json:"queue,omitempty"`
	// Done lists the one-offs that must not run again on their own:
	// completed ones, and interrupted self-updates. It outlives the
	// retention of the cycles.
	Done map[string]doneOneOff `json:"done,omitempty"`
}

type killState struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

type doneOneOff struct {
	Day         string `json:"day"`
	Interrupted bool   `json:"interrupted,omitempty"`
}

const (
	metaKey     = "executor"
	cyclePrefix = "cycle-"
)

// journal is the executor's memory: the cycles (oldest first) and the meta
// state, written through a Store. It is not safe for concurrent use; the
// executor's lock guards it.
type journal struct {
	store     Store
	retention int
	meta      metaState
	cycles    []*cycleLog
	byDay     map[string]*cycleLog
	commands  map[string]bool // command ids seen within the retention
	held      []*cycleLog     // the cycles whose writes are put off (see hold)
}

func loadJournal(store Store, retention int) (*journal, error) {
	j := &journal{store: store, retention: retention, byDay: map[string]*cycleLog{}, commands: map[string]bool{}}
	j.meta.Version = 1
	data, err := store.Load(metaKey)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, loadError(where(store, metaKey), err)
	default:
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j.meta); err != nil {
			return nil, &StateError{Where: where(store, metaKey), Err: fmt.Errorf("corrupt: %w", err)}
		}
		if j.meta.Version != 1 {
			return nil, &StateError{Where: where(store, metaKey), Err: fmt.Errorf("unknown version %d", j.meta.Version)}
		}
	}
	keys, err := store.Keys()
	if err != nil {
		return nil, fmt.Errorf("afterhours: list state: %w", err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, cyclePrefix) {
			continue
		}
		data, err := store.Load(k)
		if err != nil {
			return nil, loadError(where(store, k), err)
		}
		c, err := unmarshalCycle(data)
		if err != nil {
			return nil, &StateError{Where: where(store, k), Err: fmt.Errorf("corrupt: %w", err)}
		}
		if err := c.replay(store, k, len(data)); err != nil {
			return nil, err
		}
		if k != cyclePrefix+c.Day {
			return nil, &StateError{Where: where(store, k), Err: fmt.Errorf("holds the cycle of %s", c.Day)}
		}
		j.cycles = append(j.cycles, c)
		j.byDay[c.Day] = c
	}
	slices.SortFunc(j.cycles, func(a, b *cycleLog) int { return strings.Compare(a.Day, b.Day) })
	for _, c := range j.cycles {
		for _, r := range c.Records {
			if r.Command != "" {
				j.commands[r.Command] = true
			}
			// A crash between writing a cycle and the meta state leaves
			// the one-off's mark in the cycle alone.
			if isOneOff(r.Kind) && (r.State == StateCompleted || r.Kind == SelfUpdate && r.Interrupted) {
				if _, ok := j.meta.Done[r.Task]; !ok {
					if j.meta.Done == nil {
						j.meta.Done = map[string]doneOneOff{}
					}
					j.meta.Done[r.Task] = doneOneOff{Day: c.Day, Interrupted: r.State != StateCompleted}
				}
			}
		}
	}
	for _, cmd := range j.meta.Queue {
		j.commands[cmd.ID] = true
	}
	return j, nil
}

func (j *journal) saveMeta() error {
	if j.held != nil {
		if err := j.release(); err != nil {
			return err
		}
		j.hold()
	}
	data, err := json.Marshal(&j.meta)
	if err != nil {
		return err
	}
	return j.store.Save(metaKey, data)
}

// cycle returns the journal of day, adding it when new and dropping the
// oldest beyond the retention.
func (j *journal) cycle(c Cycle) (*cycleLog, error) {
	day := c.Day.String()
	if l := j.byDay[day]; l != nil {
		return l, nil
	}
	l := &cycleLog{Day: day, Span: c.Span, Window: c.Window}
	i, _ := slices.BinarySearchFunc(j.cycles, day, func(a *cycleLog, d string) int { return strings.Compare(a.Day, d) })
	j.cycles = slices.Insert(j.cycles, i, l)
	j.byDay[day] = l
	for len(j.cycles) > j.retention {
		old := j.cycles[0]
		if !old.Closed {
			break // still running, or to be closed: keep it until then
		}
		if err := j.store.Delete(cyclePrefix + old.Day); err != nil {
			return nil, err
		}
		j.cycles = j.cycles[1:]
		delete(j.byDay, old.Day)
		for _, r := range old.Records {
			if r.Command != "" {
				delete(j.commands, r.Command)
			}
		}
	}
	return l, nil
}

func (j *journal) last() *cycleLog {
	if len(j.cycles) == 0 {
		return nil
	}
	return j.cycles[len(j.cycles)-1]
}

func isOneOff(k Kind) bool { return k == Update || k == SelfUpdate }

// Settled implements [History]: a one-off completed (or a self-update
// interrupted) in any cycle, or a task completed or failed in the cycle of
// day. Commands and timers never settle a task.
func (j *journal) Settled(task, day string) bool {
	if _, ok := j.meta.Done[task]; ok {
		return true
	}
	c := j.byDay[day]
	if c == nil {
		return false
	}
	for _, r := range c.ofTask(task) {
		if r.Kind != CommandKind && r.Kind != Timer && (r.State == StateCompleted || r.State == StateFailed) {
			return true
		}
	}
	return false
}

// Failed implements [FailureHistory]: the task failed in the cycle of day.
func (j *journal) Failed(task, day string) bool {
	c := j.byDay[day]
	if c == nil {
		return false
	}
	for _, r := range c.ofTask(task) {
		if r.Kind != CommandKind && r.State == StateFailed {
			return true
		}
	}
	return false
}

// Durations implements [History]: the task's last three successful run
// times, newest first.
func (j *journal) Durations(task string) []time.Duration {
	var out []time.Duration
	for i := len(j.cycles) - 1; i >= 0 && len(out) < 3; i-- {
		var found []*Record
		for _, r := range j.cycles[i].ofTask(task) {
			if r.Kind != CommandKind && r.State == StateCompleted {
				found = append(found, r)
			}
		}
		slices.SortFunc(found, func(a, b *Record) int { return b.End.Compare(a.End) })
		for _, r := range found {
			if len(out) == 3 {
				break
			}
			out = append(out, r.Duration())
		}
	}
	return out
}

// attempts counts the earlier runs of a one-off across the journal.
func (j *journal) attempts(task string) int {
	n := 0
	for _, c := range j.cycles {
		for _, r := range c.ofTask(task) {
			if r.Kind != CommandKind && !r.Start.IsZero() {
				n++
			}
		}
	}
	return n
}
