package afterhours

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/afterhours-go/afterhours/internal/proc"
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

// The orphan test's profile: a site with no business hours (after hours
// all day), two updates and the self-update, as real command lines that
// append to LOG; u-long runs 20 s and says when SIGTERM ends it.
const orphanProfile = `{
  "client": "orphans",
  "site": {"timezone": "UTC", "business_hours": {}},
  "updates": [
    {"name": "u-long", "run": ["DIR/u-long.sh"], "estimate": "30s"},
    {"name": "u-short", "run": ["DIR/u-short.sh"], "estimate": "1s"}],
  "self_update": {"name": "su", "run": ["DIR/su.sh"], "estimate": "1s"}
}`

// TestOrphanChild is the child process of TestCrashOrphans; it does
// nothing unless AFTERHOURS_ORPHAN_DIR is set. Phase 1 kills itself with
// SIGKILL once u-long runs; phase 2 runs until nothing is left to do.
func TestOrphanChild(t *testing.T) {
	dir := os.Getenv("AFTERHOURS_ORPHAN_DIR")
	if dir == "" {
		t.Skip("the child of TestCrashOrphans")
	}
	if os.Getenv("AFTERHOURS_ORPHAN_ISOLATION") == IsolationProcessGroup {
		openCgroups = func() (*proc.Cgroups, error) { return nil, errors.New("process groups asked for") }
	}
	p, err := ParseProfile([]byte(strings.ReplaceAll(orphanProfile, "DIR", dir)))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := OpenFileStore(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	// The sleep ignores SIGTERM: SIGKILL ends it after the grace.
	e, err := NewExecutor(p, WithStore(fs), WithGrace(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ch, unsub := e.Subscribe()
	defer unsub()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	phase := os.Getenv("AFTERHOURS_ORPHAN_PHASE")
	for {
		select {
		case err := <-done:
			t.Fatalf("Run returned %v", err)
		case ev := <-ch:
			if phase == "1" && ev.Kind == EventStarted && ev.Task == "u-long" {
				// Its PID and cgroup are in the journal before the event.
				waitUntil(t, "u-long-start", func() bool {
					data, _ := os.ReadFile(filepath.Join(dir, "log"))
					return strings.Contains(string(data), "u-long-start\n")
				})
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
			if phase == "2" && ev.Kind != EventStarted {
				if s := e.Status(); s.Plan != nil && len(s.ToDo) == 0 && len(s.Active) == 0 {
					cancel()
					if err := <-done; err != nil {
						t.Fatal(err)
					}
					return
				}
			}
		}
	}
}

// An agent with a FileStore is killed with SIGKILL while a 20 s update
// runs. After the restart, the update's processes are ended (SIGTERM, its
// identity checked) before anything starts: today's defect had the next
// update and the self-update start beside it (u-long-start, u-short-ran,
// su-ran, u-long-end). Issue 11, item 8; with each isolation.
func TestCrashOrphans(t *testing.T) {
	for _, isolation := range []string{IsolationCgroup, IsolationProcessGroup} {
		t.Run(isolation, func(t *testing.T) {
			if isolation == IsolationCgroup {
				cgroupsWritable(t)
			}
			dir := t.TempDir()
			arg := uniqueArg()
			log := filepath.Join(dir, "log")
			for name, body := range map[string]string{
				// The sleep ignores SIGTERM, so that the group's SIGTERM
				// reaches the script's trap before its wait can return for
				// a dead child (which let "u-long-end" be logged under
				// load); SIGKILL after the grace ends the sleep.
				"u-long.sh": "trap 'echo u-long-term >> " + log + "; exit 143' TERM\n(trap '' TERM; exec /usr/bin/sleep 20." + arg + ") &\n" +
					"while ! /usr/bin/pgrep -f '^/usr/bin/sleep 20." + arg + "' >/dev/null; do :; done\n" +
					"echo u-long-start >> " + log + "\nwait\necho u-long-end >> " + log + "\n",
				"u-short.sh": "echo u-short-ran >> " + log + "\n",
				"su.sh":      "echo su-ran >> " + log + "\n",
			} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			child := func(phase string) error {
				cmd := exec.Command(os.Args[0], "-test.run=^TestOrphanChild$", "-test.count=1", "-test.v")
				cmd.Env = append(os.Environ(), "AFTERHOURS_ORPHAN_DIR="+dir, "AFTERHOURS_ORPHAN_PHASE="+phase,
					"AFTERHOURS_ORPHAN_ISOLATION="+isolation)
				out, err := cmd.CombinedOutput()
				if err != nil && phase == "2" {
					t.Logf("phase 2:\n%s", out)
				}
				return err
			}
			t.Cleanup(func() {
				for _, pid := range pidsWith("/usr/bin/sleep 20." + arg) {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			})
			err := child("1")
			if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("phase 1: %v, want killed by SIGKILL", err)
			}
			if len(pidsWith("/usr/bin/sleep 20."+arg)) == 0 {
				t.Fatal("u-long's sleep did not outlive the agent: the test shows nothing")
			}
			if err := child("2"); err != nil {
				t.Fatalf("phase 2: %v", err)
			}
			data, _ := os.ReadFile(log)
			lines := strings.Fields(string(data))
			if len(lines) < 3 || lines[0] != "u-long-start" || lines[1] != "u-long-term" || lines[2] != "u-short-ran" {
				t.Errorf("log %v, want u-long-start, u-long-term, u-short-ran (then su-ran, if it runs)", lines)
			}
			if slices.Contains(lines, "u-long-end") {
				t.Errorf("u-long ran to its end: %v", lines)
			}
			if left := pidsWith("/usr/bin/sleep 20." + arg); len(left) > 0 {
				t.Errorf("u-long's sleep %v still runs", left)
			}
			j := loadState(t, dir)
			var long *Record
			for _, c := range j.cycles {
				for _, r := range c.Records {
					if r.Task == "u-long" && r.State == StateFailed {
						long = r
					}
				}
			}
			switch {
			case long == nil:
				t.Error("no record of u-long's interrupted run")
			case !long.Interrupted || !strings.Contains(long.Error, "were ended at the restart") || long.PIDStart == 0 || long.BootID == "":
				t.Errorf("u-long: %+v", *long)
			case (long.Cgroup != "") != (isolation == IsolationCgroup):
				t.Errorf("u-long's cgroup %q with isolation %s", long.Cgroup, isolation)
			}
		})
	}
}
