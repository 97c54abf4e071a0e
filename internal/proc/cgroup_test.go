package proc

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/testenv"
)

// cgroups opens an executor's cgroup, required: this machine and CI have a
// writable cgroup v2 hierarchy (mounted at /sys/fs/cgroup/unified on their
// hybrid hosts).
func cgroups(t *testing.T) *Cgroups {
	t.Helper()
	cgs, err := OpenCgroups()
	testenv.Require(t, err == nil, "cgroup v2 writable: "+errString(err))
	t.Cleanup(func() {
		if err := cgs.Close(); err != nil {
			t.Errorf("executor's cgroup left: %v", err)
		}
	})
	return cgs
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// pidsOf returns the live processes whose command line holds arg.
func pidsOf(arg string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.Contains(strings.ReplaceAll(string(data), "\x00", " "), arg) {
			continue
		}
		if s, err := readStat(pid); err == nil && s.live() {
			out = append(out, pid)
		}
	}
	return out
}

// marker is a unique argument for sleep, to find it by.
func marker(t *testing.T) string {
	return strconv.Itoa(1000000 + int(time.Now().UnixNano()%1000000))
}

// A descendant that left the process group (setsid) ends with the run's
// cgroup: when the run is stopped, and when its leader exits on its own.
func TestRunEndsDescendantsThatLeftTheGroup(t *testing.T) {
	cgs := cgroups(t)
	for _, stop := range []bool{true, false} {
		arg := marker(t)
		body := "/usr/bin/setsid /usr/bin/sleep " + arg + " &\n" +
			"while ! /usr/bin/pgrep -f '^/usr/bin/sleep " + arg + "' >/dev/null; do :; done\n" +
			"echo ready > \"$1\"\n"
		if stop {
			body += "wait\n"
		}
		path, fifo := script(t, body)
		cg, err := cgs.New()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan Result)
		go func() { done <- Run(ctx, Spec{Argv: []string{path, fifo}, Grace: time.Minute, Cgroup: cg}) }()
		awaitReady(t, fifo) // the script saw its sleep run
		if stop && len(pidsOf("sleep "+arg)) == 0 {
			t.Fatalf("stop=%v: the setsid sleep is not running", stop)
		}
		if stop {
			cancel()
		}
		res := <-done
		cancel()
		if res.Isolation != IsolationCgroup {
			t.Errorf("stop=%v: isolation %q, want %q", stop, res.Isolation, IsolationCgroup)
		}
		if left := pidsOf("sleep " + arg); len(left) > 0 || len(res.Left) > 0 {
			t.Errorf("stop=%v: sleep %s still runs: %v (left %v)", stop, arg, left, res.Left)
		}
		if _, err := os.Stat(cg.Path); !os.IsNotExist(err) {
			t.Errorf("stop=%v: the run's cgroup %s is still there: %v", stop, cg.Path, err)
		}
	}
}

// Without a cgroup, the process group is all there is: the setsid
// descendant escapes it. This is why cgroups are used where they can be.
func TestRunProcessGroupOnly(t *testing.T) {
	arg := marker(t)
	path, fifo := script(t, "/usr/bin/setsid /usr/bin/sleep "+arg+" &\n"+
		"while ! /usr/bin/pgrep -f '^/usr/bin/sleep "+arg+"' >/dev/null; do :; done\necho ready > \"$1\"\n")
	done := make(chan Result)
	go func() { done <- Run(context.Background(), Spec{Argv: []string{path, fifo}, Grace: time.Minute}) }()
	awaitReady(t, fifo)
	res := <-done
	if res.Isolation != IsolationProcessGroup {
		t.Errorf("isolation %q", res.Isolation)
	}
	left := pidsOf("sleep " + arg)
	for _, pid := range left {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(left) == 0 {
		t.Errorf("the setsid sleep ended without a cgroup: the test no longer shows the need")
	}
}

func TestCgroup2Mount(t *testing.T) {
	mount, err := cgroup2Mount()
	testenv.Require(t, err == nil, "a cgroup v2 hierarchy: "+errString(err))
	var st syscall.Statfs_t
	if err := syscall.Statfs(mount, &st); err != nil {
		t.Fatal(err)
	}
	const cgroup2Magic = 0x63677270
	if st.Type != cgroup2Magic {
		t.Errorf("%s is not a cgroup2 file system (magic %#x)", mount, st.Type)
	}
	if got := unescapeMount(`/a\040b`); got != "/a b" {
		t.Errorf("unescape: %q", got)
	}
	if isRunCgroup(filepath.Join(mount, "user.slice")) || isRunCgroup("/tmp/afterhours-1/run-1") {
		t.Error("a path that is no run's cgroup was taken for one")
	}
	if !isRunCgroup(filepath.Join(mount, "afterhours-1-2/run-3")) {
		t.Error("a run's cgroup path was refused")
	}
}

// What a crashed executor left in the hierarchy is removed when the next
// one opens its cgroup, but a run's cgroup that still holds processes.
func TestOpenCgroupsSweeps(t *testing.T) {
	first := cgroups(t)
	base := filepath.Dir(first.Dir())
	dead := filepath.Join(base, "afterhours-999999999-1") // no such PID
	for _, d := range []string{dead, dead + "/run-1", dead + "/run-2"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	held := &Cgroup{Path: dead + "/run-2"}
	p, _, _ := startOrphan(t, held)
	cgroups(t)
	if _, err := os.Stat(dead + "/run-1"); !os.IsNotExist(err) {
		t.Errorf("an empty run cgroup of a dead executor is left: %v", err)
	}
	if !held.Populated() {
		t.Fatal("a populated run cgroup was touched")
	}
	syscall.Kill(-p.Identity.PID, syscall.SIGKILL)
	held.Kill()
	<-p.exited
	waitFor(KillWait, func() bool { return !held.Populated() })
	cgroups(t)
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a dead executor's cgroup is left: %v", err)
	}
}
