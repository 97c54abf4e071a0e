package afterhours

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// simClock is the clock of a testing/synctest bubble shifted to a chosen
// instant: inside a bubble time.Now and time.After run on the bubble's fake
// time, which jumps ahead whenever every goroutine of the bubble is blocked.
type simClock struct{ off time.Duration }

func newSimClock(start time.Time) simClock { return simClock{off: start.Sub(time.Now())} }

func (c simClock) Now() time.Time                         { return time.Now().Add(c.off) }
func (c simClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// countingClock counts the timers asked of a clock.
type countingClock struct {
	Clock
	mu    sync.Mutex
	calls []time.Duration
}

func (c *countingClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.calls = append(c.calls, d)
	c.mu.Unlock()
	return c.Clock.After(d)
}

func (c *countingClock) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// work is a Go action that takes d of the clock it runs under (the
// bubble's), or ends with its context.
type work struct {
	d    time.Duration
	err  error
	log  *runLog
	name string
}

func (w work) Run(ctx context.Context) error {
	if w.log != nil {
		w.log.add(w.name, "start")
	}
	t := time.NewTimer(w.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if w.log != nil {
		w.log.add(w.name, "end")
	}
	return w.err
}

// runLog records what actions did, in order.
type runLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *runLog) add(name, what string) {
	l.mu.Lock()
	l.lines = append(l.lines, name+" "+what)
	l.mu.Unlock()
}

func (l *runLog) count(line string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, x := range l.lines {
		if x == line {
			n++
		}
	}
	return n
}

// profileWith parses a profile and gives its tasks Go actions: each task
// takes its estimate times frac (default 0.8) unless durations says
// otherwise, and fails when fails says so.
// exampleProfile loads the example profile, its actions to be set.
func exampleProfile(tb testing.TB) *Profile {
	tb.Helper()
	data, err := os.ReadFile("examples/plan/example.profile.json")
	if err != nil {
		tb.Fatal(err)
	}
	return profileWith(tb, string(data), nil, nil, nil)
}

// exampleNoopProfile loads the example profile with every action a no-op.
func exampleNoopProfile(tb testing.TB) *Profile {
	tb.Helper()
	p := exampleProfile(tb)
	for _, task := range allTasks(p) {
		task.Action = noop{}
	}
	return p
}

func profileWith(t testing.TB, src string, durations map[string]time.Duration, fails map[string]bool, log *runLog) *Profile {
	t.Helper()
	var p Profile
	dec := json.NewDecoder(strings.NewReader(src))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, task := range allTasks(&p) {
		d, ok := durations[task.Name]
		if !ok {
			d = task.estimate * 8 / 10
		}
		var err error
		if fails[task.Name] {
			err = fmt.Errorf("%s failed on purpose", task.Name)
		}
		task.Action = work{d: d, err: err, log: log, name: task.Name}
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return &p
}

func allTasks(p *Profile) []*Task { return append(p.tasksInOrder(), p.Timers...) }

// runFor runs e until the clock has advanced by d, and returns Run's error.
func runFor(t testing.TB, e *Executor, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return e.Run(ctx)
}

// records returns the records of a journal with the given task and state.
func records(js []CycleJournal, task string, st State) []Record {
	var out []Record
	for _, c := range js {
		for _, r := range c.Records {
			if r.Task == task && (st == "" || r.State == st) {
				out = append(out, r)
			}
		}
	}
	return out
}

func dumpJournal(t testing.TB, js []CycleJournal) {
	t.Helper()
	for _, c := range js {
		t.Logf("cycle %s window %s - %s", c.Day, c.Window.Start.Format(time.DateTime), c.Window.End.Format(time.DateTime))
		for _, r := range c.Records {
			t.Logf("  %-14s %-12s %-9s planned %s start %s end %s %s %s %s", r.Task, r.Kind, r.State,
				fmtT(r.PlannedStart), fmtT(r.Start), fmtT(r.End), r.Reason, r.Detail, r.Error)
		}
	}
}

func fmtT(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("01-02T15:04:05")
}

// jumpClock is a simClock whose time can jump, like a machine's after a
// suspend or a clock correction.
type jumpClock struct {
	mu  sync.Mutex
	off time.Duration
}

func newJumpClock(start time.Time) *jumpClock { return &jumpClock{off: start.Sub(time.Now())} }

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *jumpClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (c *jumpClock) jump(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// onEvent calls fn for every event until the channel closes; it returns a
// function that waits for that.
func onEvent(ch <-chan Event, fn func(Event)) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range ch {
			fn(ev)
		}
	}()
	return func() { <-done }
}

// recorder is a Notifier that keeps the notices.
type recorder struct {
	mu      sync.Mutex
	notices []Notice
}

func (r *recorder) Notify(_ context.Context, n Notice) error {
	r.mu.Lock()
	r.notices = append(r.notices, n)
	r.mu.Unlock()
	return nil
}

func (r *recorder) kinds() []NoticeKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []NoticeKind
	for _, n := range r.notices {
		out = append(out, n.Kind)
	}
	return out
}

func one(t testing.TB, js []CycleJournal, task string, st State) Record {
	t.Helper()
	rs := records(js, task, st)
	if len(rs) != 1 {
		dumpJournal(t, js)
		t.Fatalf("%s: %d %s records, want 1", task, len(rs), st)
	}
	return rs[0]
}

// runUntilEnded runs e until n runs have ended (finished or failed), then
// stops it and fails t when Run returns an error.
func runUntilEnded(t testing.TB, e *Executor, n int) {
	t.Helper()
	ch, unsub := e.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	ended := 0
	for ev := range ch {
		if ev.Kind == EventFinished || ev.Kind == EventFailed {
			if ended++; ended == n {
				break
			}
		}
	}
	unsub()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
