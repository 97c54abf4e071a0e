package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/fleet"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runRollout(t *testing.T, interrupt chan os.Signal, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if interrupt == nil {
		interrupt = make(chan os.Signal)
	}
	var out, errs bytes.Buffer
	code = run(args, &out, &errs, interrupt)
	return code, out.String(), errs.String()
}

func readCSV(t *testing.T, path string) []fleet.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := fleet.ReadCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestCompletes(t *testing.T) {
	dir := t.TempDir()
	all, failed := filepath.Join(dir, "all.csv"), filepath.Join(dir, "failed.csv")
	code, out, errs := runRollout(t, nil, "-targets", "300", "-clusters", "10", "-work", "1ms", "-fail", "0.05", "-budget", "10%",
		"-csv", all, "-failed", failed)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Log("\n" + out)
	for _, want := range []string{"rollout completed", "300 machines", "success rate", "durations p50"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if !strings.Contains(errs, "done 300/300") {
		t.Errorf("no final progress line in stderr:\n%s", errs)
	}
	recs := readCSV(t, all)
	if len(recs) != 300 {
		t.Fatalf("%d records in the report, want 300", len(recs))
	}
	bad := readCSV(t, failed)
	n := 0
	for _, rec := range recs {
		if rec.Outcome != fleet.Succeeded {
			n++
		}
	}
	if n == 0 || len(bad) != n {
		t.Errorf("%d in the failed list, %d not succeeded in the report", len(bad), n)
	}
}

func TestCtrlCIsTheKillswitch(t *testing.T) {
	dir := t.TempDir()
	all := filepath.Join(dir, "all.csv")
	interrupt := make(chan os.Signal, 1)
	interrupt <- os.Interrupt
	code, out, errs := runRollout(t, interrupt, "-targets", "100", "-clusters", "5", "-work", "1h", "-csv", all, "-failed", "")
	if code != 1 || !strings.Contains(out, "rollout killed") || !strings.Contains(errs, "interrupted") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, rec := range readCSV(t, all) {
		if rec.Outcome != fleet.Killed && rec.Outcome != fleet.Pending {
			t.Errorf("%s: %v", rec.ID, rec.Outcome)
		}
	}
}

func TestCriticalDrain(t *testing.T) {
	code, out, errs := runRollout(t, nil, "-targets", "50", "-clusters", "5", "-work", "0", "-drain-fail", "1", "-csv", "", "-failed", "")
	if code != 1 || !strings.Contains(out, "rollout critical") || !strings.Contains(errs, "ESCALATION") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}

func TestResume(t *testing.T) {
	status := filepath.Join(t.TempDir(), "status.json")
	common := []string{"-targets", "200", "-clusters", "10", "-work", "0", "-fail", "0.1", "-csv", "", "-failed", "", "-status", status}
	code, out, _ := runRollout(t, nil, append(common, "-budget", "2")...)
	if code != 1 || !strings.Contains(out, "rollout budget-exhausted") {
		t.Fatalf("first run: exit %d\n%s", code, out)
	}
	code, out, _ = runRollout(t, nil, append(common, "-budget", "50%", "-resume")...)
	if code != 0 || !strings.Contains(out, "carried from the resumed status file") {
		t.Fatalf("resumed run: exit %d\n%s", code, out)
	}
	rep, err := fleet.LoadReport(status)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status.Resumed == 0 || rep.Status.Counts.Pending != 0 {
		t.Errorf("status after the resumed run: %+v", rep.Status)
	}
	if _, err := os.Stat(status + fleet.ClaimsSuffix); err != nil {
		t.Errorf("no durable record beside the status file: %v", err)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-budget", "lots"},
		{"-concurrency", "0"},
		{"-fail", "2"},
		{"-clusters", "0"},
		{"-resume"},
		{"-select", "uk,!uk"},
		{"extra"},
	} {
		if code, _, _ := runRollout(t, nil, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// TestCrashChild is the child of TestResumeAfterSIGKILL: it runs the
// command with the arguments in AFTERHOURS_ROLLOUT_ARGS, and does nothing
// without them.
func TestCrashChild(t *testing.T) {
	args := os.Getenv("AFTERHOURS_ROLLOUT_ARGS")
	if args == "" {
		t.Skip("the child of TestResumeAfterSIGKILL")
	}
	run(strings.Fields(args), io.Discard, os.Stderr, make(chan os.Signal))
}

// TestResumeAfterSIGKILL: the command killed with SIGKILL in the middle of
// a rollout with a status file resumes from it and its durable record:
// every machine ends succeeded, failed or interrupted (none pending or
// running), the interrupted ones, in their patch, are listed for the
// operator, and the machines finished before the kill are carried.
func TestResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command in a child process")
	}
	status := filepath.Join(t.TempDir(), "status.json")
	common := []string{"-targets", "60", "-clusters", "6", "-concurrency", "12", "-group", "100%", "-budget", "50%",
		"-work", "100ms", "-csv", "", "-failed", "", "-status", status}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "AFTERHOURS_ROLLOUT_ARGS="+strings.Join(common, " "))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watchdog := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	// Kill once 15 machines are done, as its progress line says.
	sc := bufio.NewScanner(stderr)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	for sc.Scan() {
		var done, total int
		if n, _ := fmt.Sscanf(strings.TrimSpace(sc.Text()), "done %d/%d", &done, &total); n == 2 && done >= 15 {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	go io.Copy(io.Discard, stderr)
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child: %v, want killed by SIGKILL", err)
	}
	code, out, errs := runRollout(t, nil, append(common, "-resume")...)
	if code != 0 || !strings.Contains(out, "carried from the resumed status file") {
		t.Fatalf("resumed run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	t.Log("\n" + out)
	rep, err := fleet.LoadReport(status)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Status.Counts
	if c.Pending != 0 || c.Running != 0 || c.Succeeded+c.Failed+c.Interrupted != 60 || rep.Status.Resumed < 15 {
		t.Errorf("after the resumed run: %+v, resumed %d", c, rep.Status.Resumed)
	}
	if c.Interrupted > 0 && !strings.Contains(out, "need attention") {
		t.Errorf("the interrupted machines are not listed for the operator")
	}
	for _, rec := range rep.Targets {
		// Interrupted in the patch or in the verify after it: a drain
		// (idempotent) is run again.
		if rec.Outcome == fleet.Interrupted && rec.Phase == "drain" {
			t.Errorf("%s left interrupted in its drain", rec.ID)
		}
	}
}

// The CSV reports go to the -out directory, by default a new temporary
// one that the summary names, never the current directory.
func TestReportsOutDir(t *testing.T) {
	cwd := t.TempDir()
	t.Chdir(cwd)
	out := filepath.Join(t.TempDir(), "reports")
	code, stdout, errs := runRollout(t, nil, "-targets", "20", "-clusters", "2", "-work", "0", "-fail", "0.2", "-budget", "100%", "-out", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
	}
	if n := len(readCSV(t, filepath.Join(out, "rollout.csv"))); n != 20 {
		t.Errorf("%d records in %s, want 20", n, out)
	}
	readCSV(t, filepath.Join(out, "rollout-failed.csv"))

	code, stdout, errs = runRollout(t, nil, "-targets", "20", "-clusters", "2", "-work", "0")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
	}
	_, after, ok := strings.Cut(stdout, "report of every machine in ")
	if !ok {
		t.Fatalf("the summary names no report:\n%s", stdout)
	}
	path := strings.TrimSpace(after)
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(path)) })
	if !strings.HasPrefix(path, os.TempDir()) || filepath.Base(path) != "rollout.csv" {
		t.Errorf("report in %s, want a temporary directory", path)
	}
	readCSV(t, path)
	if entries, _ := os.ReadDir(cwd); len(entries) > 0 {
		t.Errorf("the current directory has %d entries, want none", len(entries))
	}
}
