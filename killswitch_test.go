package afterhours

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/afterhours-go/afterhours/internal/proc"
	"github.com/benbjohnson/clock"
)

// TestIdleOneTimer: with nothing due until the evening, the executor asks
// its clock for exactly one timer and wakes only when it fires or when a
// command is submitted.
func TestIdleOneTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		// Monday 09:00: the night's window ended at 08:00; the next one
		// starts at 18:30.
		clk := &countingClock{Clock: newSimClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))}
		e, err := NewExecutor(p, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- e.Run(ctx) }()
		synctest.Wait()
		wakes := func() int { e.mu.Lock(); defer e.mu.Unlock(); return e.wakes }
		if n := clk.count(); n != 1 || clk.calls[0] != 9*time.Hour+30*time.Minute {
			t.Fatalf("idle: %d timers asked (%v), want one of 9h30m", n, clk.calls)
		}
		w0 := wakes()
		// Five idle hours: no wake.
		idle := time.NewTimer(5 * time.Hour)
		<-idle.C
		synctest.Wait()
		if w := wakes(); w != w0 {
			t.Errorf("%d wakes while idle", w-w0)
		}
		// A command wakes it and runs; while it runs, the executor also
		// asks for a timer at its deadline.
		if err := e.Submit(Command{ID: "c1", Action: work{d: 0}}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := len(records(e.Journal(), "c1", StateCompleted)); n != 1 {
			t.Errorf("command completed %d times", n)
		}
		if n := clk.count(); n != 2 {
			t.Errorf("%d timers asked after a command, want 2 (the idle one and the command's deadline): %v", n, clk.calls)
		}
		if w := wakes(); w-w0 != 2 {
			t.Errorf("%d wakes for one command, want 2 (submitted, finished)", w-w0)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

const killProfile = `{
  "client": "kill", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}},
  "housekeeping": [
    {"name": "stubborn", "run": ["@DIR@/stubborn.sh", "@DIR@/stubborn.ready"], "estimate": "1h", "uses": ["a"]},
    {"name": "polite", "run": ["@DIR@/polite.sh", "@DIR@/polite.ready"], "estimate": "1h", "uses": ["b"]}],
  "parallel": 2
}`

// TestKillswitch runs real process groups (one of which ignores SIGTERM,
// and has a child that does too) and a command, kills them, checks every
// process of the groups is gone within the grace, and that the executor
// is still killed after a restart, until Resume.
func TestKillswitch(t *testing.T) {
	dir := t.TempDir()
	scripts := map[string]string{
		"stubborn.sh": "#!/bin/sh\ntrap '' TERM\n/usr/bin/sleep 1000 &\necho ready > \"$1\"\nwait\nwait\n",
		"polite.sh":   "#!/bin/sh\n/usr/bin/sleep 1000 &\necho ready > \"$1\"\nwait\n",
		"cmd.sh":      "#!/bin/sh\n/usr/bin/sleep 1000 &\necho ready > \"$1\"\nwait\n",
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".sh") {
			if err := syscall.Mkfifo(filepath.Join(dir, strings.TrimSuffix(name, ".sh")+".ready"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	p, err := ParseProfile([]byte(strings.ReplaceAll(killProfile, "@DIR@", dir)))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)) // Monday, in the window
	store, err := OpenFileStore(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	const grace = 500 * time.Millisecond
	e, err := NewExecutor(p, WithClock(clk), WithStore(store), WithGrace(grace))
	if err != nil {
		t.Fatal(err)
	}
	events, unsubscribe := e.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	// Both steps run, in parallel lanes; then a command runs beside them.
	readyOf := func(name string) {
		f, err := os.Open(filepath.Join(dir, name+".ready"))
		if err != nil {
			t.Fatal(err)
		}
		bufio.NewReader(f).ReadString('\n')
		f.Close()
	}
	readyOf("stubborn")
	readyOf("polite")
	if err := e.Submit(Command{ID: "fix-disk", Run: []string{filepath.Join(dir, "cmd.sh"), filepath.Join(dir, "cmd.ready")}}); err != nil {
		t.Fatal(err)
	}
	readyOf("cmd")
	var pids []int
	for _, r := range e.Status().Active {
		pids = append(pids, r.PID)
	}
	if len(pids) != 3 {
		t.Fatalf("active runs %v, want 3", e.Status().Active)
	}
	t0 := time.Now()
	e.Kill("operator says stop")
	failed := map[string]Record{}
	guard := time.NewTimer(grace + 10*time.Second)
	defer guard.Stop()
	for len(failed) < 3 {
		select {
		case ev := <-events:
			if ev.Kind == EventFailed {
				failed[ev.Task] = *ev.Record
			}
		case <-guard.C:
			t.Fatalf("runs not ended after the grace: %v", failed)
		}
	}
	took := time.Since(t0)
	if took > grace+2*time.Second {
		t.Errorf("killing took %v, grace %v", took, grace)
	}
	for _, pid := range pids {
		if m, err := proc.Members(pid); err != nil || len(m) > 0 {
			t.Errorf("process group %d still has %v (%v)", pid, m, err)
		}
	}
	for name, r := range failed {
		if !strings.HasPrefix(r.Error, "killed: operator says stop") {
			t.Errorf("%s: error %q", name, r.Error)
		}
	}
	if !strings.Contains(failed["stubborn"].Error, "SIGKILL") {
		t.Errorf("stubborn: %q, want SIGKILL after the grace", failed["stubborn"].Error)
	}
	if err := e.Submit(Command{ID: "again", Run: []string{"/bin/true"}}); !errors.Is(err, ErrKilled) {
		t.Errorf("Submit while killed: %v, want ErrKilled", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	store.Close()

	// Restarted: still killed; nothing starts.
	store, err = OpenFileStore(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	e2, err := NewExecutor(p, WithClock(clk), WithStore(store))
	if err != nil {
		t.Fatal(err)
	}
	if st := e2.Status(); !st.Killed || st.KillReason != "operator says stop" {
		t.Errorf("after a restart: killed %v %q", st.Killed, st.KillReason)
	}
	if err := e2.Submit(Command{ID: "again", Run: []string{"/bin/true"}}); !errors.Is(err, ErrKilled) {
		t.Errorf("Submit after a restart: %v, want ErrKilled", err)
	}
	e2.Resume()
	if e2.Status().Killed {
		t.Error("still killed after Resume")
	}
	if err := e2.Submit(Command{ID: "again", Run: []string{"/bin/true"}}); err != nil {
		t.Errorf("Submit after Resume: %v", err)
	}
}
