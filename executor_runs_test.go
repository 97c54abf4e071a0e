package afterhours

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
)

type panicking struct{}

func (panicking) Run(context.Context) error { panic("boom") }

// stuck ignores its context until released.
type stuck struct{ release chan struct{} }

func (s stuck) Run(context.Context) error { <-s.release; return nil }

// A panicking action is a failed task, not a dead executor; an action that
// ignores its cancelled context is abandoned after the grace and reported.
func TestPanicAndAbandon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		src := strings.Replace(smallShop, `"estimate": "1h", "uses": ["db"]}`, `"estimate": "1h", "timeout": "1h", "uses": ["db"]}`, 1)
		p := profileWith(t, src, nil, nil, nil)
		p.Task("rotate").Action = panicking{}
		p.Task("vacuum").Action = stuck{release}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		e, err := NewExecutor(p, WithClock(newSimClock(time.Date(2026, 11, 23, 18, 29, 0, 0, time.UTC))), WithGrace(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 4*time.Hour); err != nil {
			t.Fatal(err)
		}
		js := e.Journal()
		rotate := one(t, js, "rotate", StateFailed)
		if !strings.HasPrefix(rotate.Error, "panic: boom") || !strings.Contains(rotate.Output, "goroutine") {
			t.Errorf("rotate: error %q, output %.60q", rotate.Error, rotate.Output)
		}
		vacuum := one(t, js, "vacuum", StateFailed)
		if !strings.Contains(vacuum.Error, "timeout") || !strings.Contains(vacuum.Error, "abandoned") {
			t.Errorf("vacuum: %q, want a timeout and abandoned", vacuum.Error)
		}
		if d := vacuum.End.Sub(vacuum.Start); d != time.Hour+5*time.Second {
			t.Errorf("vacuum abandoned after %v, want its timeout and the grace", d)
		}
		one(t, js, "openssl", StateCompleted)
		close(release)
	})
}

// Constraints: a wait re-checks with backoff, an allow releases, a wait
// that lasts defers the step once it no longer fits, a refuse defers it.
func TestConstraintVerdicts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		var checks []time.Time
		var rotateChecks atomic.Int32
		clk := newSimClock(time.Date(2026, 11, 23, 18, 29, 0, 0, time.UTC))
		c := ConstraintFunc("busy", func(_ context.Context, c Check) Verdict {
			switch c.Task.Name {
			case "rotate": // waits three times
				checks = append(checks, c.Start)
				if rotateChecks.Add(1) <= 3 {
					return WaitFor("busy for now")
				}
			case "vacuum":
				return Refused("not tonight")
			case "openssl":
				return WaitFor("never")
			}
			return Allowed()
		})
		e, err := NewExecutor(p, WithClock(clk), WithConstraints(c))
		if err != nil {
			t.Fatal(err)
		}
		ch, unsub := e.Subscribe()
		var held, released atomic.Int32
		wait := onEvent(ch, func(ev Event) {
			if ev.Task == "rotate" && ev.Kind == EventHeld && ev.Reason == "constraint:busy" {
				held.Add(1)
			}
			if ev.Task == "rotate" && ev.Kind == EventReleased {
				released.Add(1)
			}
		})
		if err := runFor(t, e, 14*time.Hour); err != nil {
			t.Fatal(err)
		}
		unsub()
		wait()
		js := e.Journal()
		rotate := one(t, js, "rotate", StateCompleted)
		start := time.Date(2026, 11, 23, 18, 30, 0, 0, time.UTC)
		want := []time.Duration{0, 30 * time.Second, 90 * time.Second, 210 * time.Second}
		for i, w := range want {
			if i >= len(checks) || !checks[i].Equal(start.Add(w)) {
				t.Fatalf("checks at %v, want at +%v", checks, want)
			}
		}
		if !rotate.Start.Equal(start.Add(210*time.Second)) || held.Load() != 1 || released.Load() != 1 {
			t.Errorf("rotate started %s; held %d, released %d", fmtT(rotate.Start), held.Load(), released.Load())
		}
		if d := one(t, js[1:], "vacuum", StateDeferred); d.Reason != "constraint:busy" || d.Detail != "not tonight" {
			t.Errorf("vacuum: %s %q", d.Reason, d.Detail)
		}
		d := one(t, js[1:], "openssl", StateDeferred)
		if d.Reason != "constraint:busy" || !strings.Contains(d.Detail, "no longer fits") {
			t.Errorf("openssl: %s %q", d.Reason, d.Detail)
		}
		// openssl waits until 07:30 and is deferred the moment it stops
		// fitting; the self-update after it waits for it (rule 5).
		if d := one(t, js[1:], "agent", StateDeferred); d.Reason != ReasonUpdatesPending {
			t.Errorf("agent: %s %q, want deferred as updates-pending", d.Reason, d.Detail)
		}
	})
}

// Command lines: the environment, a missing executable, a user the
// executor cannot become, and a timeout at the window's end.
func TestCommandLineRuns(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "env.sh")
	os.WriteFile(env, []byte("#!/bin/sh\nenv | grep ^AFTERHOURS_ | sort\n"), 0o755)
	src := `{"client": "c", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}},
	  "housekeeping": [
	    {"name": "env", "run": ["` + env + `"], "estimate": "1m"},
	    {"name": "missing", "run": ["` + dir + `/missing"], "estimate": "1m"},
	    {"name": "as-nobody", "run": ["/usr/bin/id", "-u"], "user": "nobody", "estimate": "1m"}]}`
	p, err := ParseProfile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	old := geteuid
	geteuid = func() int { return 1000 }
	defer func() { geteuid = old }()
	e, err := NewExecutor(p, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	runUntilEnded(t, e, 3)
	js := e.Journal()
	r := one(t, js, "env", StateCompleted)
	want := "AFTERHOURS_CYCLE=2026-11-23\nAFTERHOURS_KIND=housekeeping\nAFTERHOURS_RUN=2026-11-23/env#1\nAFTERHOURS_TASK=env\n"
	if r.Output != want || r.ExitCode != 0 || r.PID == 0 {
		t.Errorf("env: exit %d pid %d output %q, want %q", r.ExitCode, r.PID, r.Output, want)
	}
	if r := one(t, js, "missing", StateFailed); !strings.Contains(r.Error, "no such file") {
		t.Errorf("missing: %q", r.Error)
	}
	if r := one(t, js, "as-nobody", StateFailed); !strings.Contains(r.Error, "cannot run as user nobody: the executor runs as uid 1000, not root") {
		t.Errorf("as-nobody: %q", r.Error)
	}
}

// A step without a timeout is stopped at the window's end; a slot task at
// its slot's end.
func TestDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, map[string]time.Duration{"agent": 24 * time.Hour, "fetch": time.Hour}, nil, nil)
		e, err := NewExecutor(p, WithClock(newSimClock(time.Date(2026, 11, 23, 18, 29, 0, 0, time.UTC))))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 20*time.Hour); err != nil {
			t.Fatal(err)
		}
		js := e.Journal()
		agent := one(t, js, "agent", StateFailed)
		if agent.Error != "timeout: the window ended at 08:00" || !agent.End.Equal(time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)) {
			t.Errorf("agent: %q at %s", agent.Error, fmtT(agent.End))
		}
		// (The cycle before, whose slots ended before the executor
		// started, has its fetches missed.)
		if f := one(t, []CycleJournal{cycleOf(t, js, "2026-11-23")}, "fetch", ""); f.Start.IsZero() {
			// The self-update runs alone: fetch waited and missed its slot.
			if f.Reason != ReasonMissed {
				t.Errorf("fetch: %+v", f)
			}
		}
	})
}

func TestSlotTaskStoppedAtSlotEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, map[string]time.Duration{"fetch": time.Hour}, nil, nil)
		e, err := NewExecutor(p, WithClock(newSimClock(time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC))))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 2*time.Hour); err != nil {
			t.Fatal(err)
		}
		f := one(t, e.Journal(), "fetch", StateFailed)
		if f.Error != "stopped: its slot ended at 02:00" || !f.Start.Equal(time.Date(2026, 11, 24, 1, 40, 0, 0, time.UTC)) {
			t.Errorf("fetch: %q, %s-%s", f.Error, fmtT(f.Start), fmtT(f.End))
		}
	})
}

// A state file that cannot be decoded is an error naming it, and is kept.
func TestCorruptState(t *testing.T) {
	dir := t.TempDir()
	store, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	garbage := []byte(`{"version": 1, "day": "2026-11-23", "records": [tru`)
	if err := store.Save("cycle-2026-11-23", garbage); err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, smallShopRun)
	_, err = NewExecutor(p, WithStore(store))
	var se *StateError
	if !errors.As(err, &se) || se.Where != filepath.Join(dir, "cycle-2026-11-23.json") || !strings.Contains(err.Error(), se.Where) {
		t.Fatalf("NewExecutor over a corrupt file: %v, want a StateError naming it", err)
	}
	if data, _ := os.ReadFile(se.Where); string(data) != string(garbage) {
		t.Errorf("the corrupt file was changed: %q", data)
	}
	store.Save("executor", []byte(`{"version": 2}`))
	store.Delete("cycle-2026-11-23")
	if _, err := NewExecutor(p, WithStore(store)); !errors.As(err, &se) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("an unknown version: %v", err)
	}
}

var smallShopRun = strings.ReplaceAll(smallShop, `"/bin/true"`, `"/bin/true"`)

// A subscriber that does not read never blocks the executor; it loses
// events and is told how many.
func TestSlowSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, timersProfile, map[string]time.Duration{"tick": time.Second}, nil, nil)
		e, err := NewExecutor(p, WithClock(newSimClock(time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC))))
		if err != nil {
			t.Fatal(err)
		}
		ch, unsub := e.Subscribe()
		defer unsub()
		if err := runFor(t, e, 10*time.Hour); err != nil { // ~1200 events
			t.Fatal(err)
		}
		if n := len(records(e.Journal(), "tick", StateCompleted)); n < 590 {
			t.Errorf("%d ticks: the executor was held up", n)
		}
		got := 0
		for len(ch) > 0 {
			<-ch
			got++
		}
		if got != subscriberBuffer {
			t.Errorf("%d events buffered, want %d", got, subscriberBuffer)
		}
		// The next event says how many were lost.
		e.Kill("test")
		ev := <-ch
		if ev.Kind != EventKilled || ev.Dropped < 500 {
			t.Errorf("next event %v, dropped %d", ev.Kind, ev.Dropped)
		}
	})
}

func TestOptions(t *testing.T) {
	p := mustParse(t, smallShopRun)
	for name, o := range map[string]Option{
		"WithClock(nil)":       WithClock(nil),
		"WithStore(nil)":       WithStore(nil),
		"WithNotifier(nil)":    WithNotifier(nil),
		"WithLogger(nil)":      WithLogger(nil),
		"WithConstraints(nil)": WithConstraints(nil),
		"WithGrace(0)":         WithGrace(0),
		"WithRetention(0)":     WithRetention(0),
		"unvalidated profile":  nil,
	} {
		var err error
		if o == nil {
			_, err = NewExecutor(&Profile{})
		} else {
			_, err = NewExecutor(p, o)
		}
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := NewExecutor(p, WithClock(nil)); !errors.Is(err, ErrNilClock) {
		t.Errorf("WithClock(nil): %v", err)
	}
}

// Status: the lists of the current cycle and progress weighted by
// estimates; Run twice at once is an error.
func TestStatusProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		e, err := NewExecutor(p, WithClock(newSimClock(time.Date(2026, 11, 23, 18, 29, 0, 0, time.UTC))))
		if err != nil {
			t.Fatal(err)
		}
		if st := e.Status(); st.Running || st.Plan != nil || st.Progress != 1 {
			t.Errorf("before Run: %+v", st)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- e.Run(ctx) }()
		synctest.Wait()
		if err := e.Run(ctx); !errors.Is(err, ErrRunning) {
			t.Errorf("Run twice: %v", err)
		}
		// 18:40: rotate (10m) done at 18:38, vacuum (1h) running 2m; of
		// 10m+1h+30m+5m+10m planned, 12m are behind.
		tm := time.NewTimer(11 * time.Minute)
		<-tm.C
		synctest.Wait()
		st := e.Status()
		if len(st.Completed) != 1 || len(st.Active) != 1 || st.Active[0].Task != "vacuum" || len(st.ToDo) != 3 || st.Day != "2026-11-23" {
			t.Errorf("status: completed %v active %v to-do %v", st.Completed, st.Active, st.ToDo)
		}
		if want := 12.0 / 115; st.Progress < want-1e-9 || st.Progress > want+1e-9 {
			t.Errorf("progress %v, want %v", st.Progress, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		st = e.Status()
		if r := one(t, []CycleJournal{{Records: st.Failed}}, "vacuum", StateFailed); !r.Interrupted {
			t.Errorf("vacuum after Run returned: %+v, want interrupted", r)
		}
	})
}

// A command with a Go action does not survive a restart: it is recorded as
// lost, not run.
func TestLostActionCommand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		store := NewMemoryStore()
		clk := newSimClock(monNoon)
		e, err := NewExecutor(p, WithClock(clk), WithStore(store))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Submit(Command{ID: "go", Action: work{d: time.Minute}}); err != nil {
			t.Fatal(err)
		}
		if q := e.Status().Queued; len(q) != 1 || q[0].ID != "go" {
			t.Fatalf("queued %v", q)
		}
		e2, err := NewExecutor(p, WithClock(clk), WithStore(store))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e2, time.Minute); err != nil {
			t.Fatal(err)
		}
		if r := one(t, e2.Journal(), "go", StateFailed); !strings.HasPrefix(r.Error, "lost:") {
			t.Errorf("lost command: %q", r.Error)
		}
	})
}
