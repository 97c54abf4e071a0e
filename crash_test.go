package afterhours

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

const crashProfile = `{
  "client": "crash",
  "site": {"timezone": "Europe/London",
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
      "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]}, "grace": "30m"},
  "sharing": [{"token": "pkg-repo", "base": "01:40", "duration": "20m", "buffer": "10m", "uses": ["network"],
     "tasks": [{"name": "fetch", "run": ["/bin/true"], "estimate": "10m", "uses": ["network"]}]}],
  "housekeeping": [
    {"name": "rotate", "run": ["/bin/true"], "estimate": "10m", "uses": ["disk"]},
    {"name": "vacuum", "run": ["/bin/true"], "estimate": "40m", "uses": ["db"]},
    {"name": "backup", "run": ["/bin/true"], "estimate": "1h", "uses": ["disk", "network"]}],
  "updates": [
    {"name": "openssl", "run": ["/bin/true"], "estimate": "30m"},
    {"name": "pos-app", "run": ["/bin/true"], "estimate": "20m", "uses": ["db"]}],
  "self_update": {"name": "agent", "run": ["/bin/true"], "estimate": "5m"},
  "timers": [{"name": "inventory", "repeat": "hourly", "start": "2026-11-01T00:05:00Z", "run": ["/bin/true"], "estimate": "2m", "timeout": "5m"}],
  "parallel": 2
}`

// The crash test's simulated time: from Monday 18:00 to Wednesday 12:00.
var (
	crashStart = time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	crashEnd   = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

// loggedWork is a Go action that appends "start RUN" and "end RUN" to a
// file, with O_APPEND: what a killed process wrote is there.
type loggedWork struct {
	d    time.Duration
	path string
}

func (w loggedWork) Run(ctx context.Context) error {
	ri, _ := RunInfoFrom(ctx)
	appendLine(w.path, "start "+ri.Run)
	t := time.NewTimer(w.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	appendLine(w.path, "end "+ri.Run)
	return nil
}

func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	f.WriteString(line + "\n")
	f.Close()
}

// crashStore kills its process with SIGKILL at its Nth Save: for odd N
// after the temporary file is written and before the rename, for even N
// after the Save.
type crashStore struct {
	*FileStore
	at, n int
	dir   string
	clk   Clock
}

func (s *crashStore) die() {
	os.WriteFile(filepath.Join(s.dir, "crashed-at"), []byte(s.clk.Now().Format(time.RFC3339Nano)), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

func (s *crashStore) Save(key string, data []byte) error {
	s.n++
	if s.n == s.at && s.at%2 == 1 {
		s.FileStore.crashHook = func(string) { s.die() }
	}
	err := s.FileStore.Save(key, data)
	if s.n == s.at {
		s.die()
	}
	return err
}

// TestCrashChild is the child process of TestCrash; it does nothing
// unless AFTERHOURS_CRASH_DIR is set.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("AFTERHOURS_CRASH_DIR")
	if dir == "" {
		t.Skip("the child of TestCrash")
	}
	at, _ := strconv.Atoi(os.Getenv("AFTERHOURS_CRASH_AT"))
	from := crashStart
	if s := os.Getenv("AFTERHOURS_CRASH_FROM"); s != "" {
		var err error
		if from, err = time.Parse(time.RFC3339Nano, s); err != nil {
			t.Fatal(err)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		clk := newSimClock(from)
		p := profileWith(t, crashProfile, nil, nil, nil)
		for _, task := range allTasks(p) {
			task.Action = loggedWork{d: task.estimate * 8 / 10, path: filepath.Join(dir, "actions")}
		}
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		fs, err := OpenFileStore(filepath.Join(dir, "state"))
		if err != nil {
			t.Fatal(err)
		}
		defer fs.Close()
		store := &crashStore{FileStore: fs, at: at, dir: dir, clk: clk}
		e, err := NewExecutor(p, WithClock(clk), WithStore(store))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), crashEnd.Sub(from))
		defer cancel()
		if err := e.Run(ctx); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "writes"), []byte(strconv.Itoa(store.n)), 0o600)
	})
}

func runCrashChild(t *testing.T, dir string, at int, from string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "AFTERHOURS_CRASH_DIR="+dir, "AFTERHOURS_CRASH_AT="+strconv.Itoa(at), "AFTERHOURS_CRASH_FROM="+from)
	out, err := cmd.CombinedOutput()
	if at > 0 && from == "" {
		// The first run must die by SIGKILL.
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child with crash at write %d: %v\n%s", at, err, out)
		}
		return
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func loadState(t *testing.T, dir string) *journal {
	t.Helper()
	fs, err := OpenFileStore(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	j, err := loadJournal(fs, DefaultRetention)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestCrash kills an executor that uses the file store with SIGKILL at 50
// points of a simulated cycle (at its Nth write to the store, in the
// middle of the write or just after it), restarts it, and checks that no
// completed or failed record is lost, no completed one-off runs again, and
// the runs that were active are reported as interrupted.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 100 processes")
	}
	dry := t.TempDir()
	runCrashChild(t, dry, 0, "")
	data, err := os.ReadFile(filepath.Join(dry, "writes"))
	if err != nil {
		t.Fatal(err)
	}
	writes, _ := strconv.Atoi(string(data))
	if writes < 50 {
		t.Fatalf("only %d writes", writes)
	}
	t.Logf("%d store writes in the dry run", writes)
	for i := range 50 {
		at := 1 + i*(writes-1)/49
		t.Run(fmt.Sprintf("write=%d", at), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			runCrashChild(t, dir, at, "")
			crashed := loadState(t, dir)
			from, err := os.ReadFile(filepath.Join(dir, "crashed-at"))
			if err != nil {
				t.Fatal(err)
			}
			runCrashChild(t, dir, 0, string(from))
			checkCrash(t, crashed, loadState(t, dir), filepath.Join(dir, "actions"))
		})
	}
}

func checkCrash(t *testing.T, before, after *journal, actionLog string) {
	t.Helper()
	byRun := map[string]*Record{}
	for _, c := range after.cycles {
		for _, r := range c.Records {
			if r.Run != "" {
				if byRun[r.Run] != nil {
					t.Errorf("run %s recorded twice", r.Run)
				}
				byRun[r.Run] = r
			}
			if r.State == StateActive || (r.State == StateToDo && c.Closed) {
				t.Errorf("cycle %s: %s left %s", c.Day, r.Task, r.State)
			}
		}
	}
	for _, c := range before.cycles {
		for _, r := range c.Records {
			switch r.State {
			case StateCompleted, StateFailed:
				a := byRun[r.Run]
				if a == nil || a.State != r.State || !a.End.Equal(r.End) || a.Error != r.Error && !strings.HasPrefix(a.Error, r.Error) {
					t.Errorf("%s record of run %s lost or changed: before %+v, after %+v", r.State, r.Run, *r, a)
				}
			case StateActive:
				t.Logf("crashed while %s (%s) ran", r.Run, r.Kind)
				if a := byRun[r.Run]; a == nil || a.State != StateFailed || !a.Interrupted {
					t.Errorf("run %s was active at the crash; after the restart: %+v, want failed and interrupted", r.Run, a)
				}
			}
		}
	}
	// No completed one-off runs again.
	f, err := os.Open(actionLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	for _, c := range after.cycles {
		for _, r := range c.Records {
			if !isOneOff(r.Kind) || r.State != StateCompleted {
				continue
			}
			if n := len(records(snapshots(after), r.Task, StateCompleted)); n != 1 {
				t.Errorf("one-off %s completed %d times", r.Task, n)
			}
			endAt := -1
			for i, l := range lines {
				if l == "end "+r.Run {
					endAt = i
				}
			}
			for _, l := range lines[endAt+1:] {
				if strings.HasPrefix(l, "start ") && strings.Contains(l, "/"+r.Task+"#") {
					t.Errorf("one-off %s completed in run %s, then started again: %s", r.Task, r.Run, l)
				}
			}
		}
	}
	// The self-update interrupted is not re-run.
	for _, c := range after.cycles {
		for _, r := range c.Records {
			if r.Kind == SelfUpdate && r.Interrupted {
				if n := len(records(snapshots(after), r.Task, "")); n < 1 {
					t.Errorf("self-update lost")
				}
				for _, x := range records(snapshots(after), r.Task, "") {
					if x.Start.After(r.Start) {
						t.Errorf("interrupted self-update %s ran again in %s", r.Run, x.Run)
					}
				}
			}
		}
	}
}

func snapshots(j *journal) []CycleJournal {
	var out []CycleJournal
	for _, c := range j.cycles {
		out = append(out, c.snapshot())
	}
	return out
}
