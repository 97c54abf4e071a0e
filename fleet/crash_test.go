package fleet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The crash test's rollout: 120 targets, 8 at a time, a status file every
// 200 ms; a drain that is idempotent (30-60 ms) and a patch that is not
// (100-300 ms), so that targets are running whenever the process is
// killed. Every tenth target's patch fails; the budget tolerates them.
const (
	crashTargets = 120
	crashConc    = 8
	crashBudget  = 20
)

// crashPhases returns the phases of the crash test's child: each appends
// "<phase> <target>" to the action log, with O_APPEND, as it begins, so
// that what a killed process began is there.
func crashPhases(log string) []Phase {
	wait := func(ctx context.Context, id string, lo, hi time.Duration) error {
		h := fnv.New32a()
		h.Write([]byte(id))
		t := time.NewTimer(lo + time.Duration(h.Sum32())%(hi-lo))
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var pipe *os.File
	if os.Getenv("AFTERHOURS_ROLLOUT_CRASH_PIPE") == "1" {
		pipe = os.NewFile(3, "pipe")
	}
	note := func(line string) {
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			panic(err)
		}
		f.WriteString(line + "\n")
		f.Close()
		if pipe != nil && strings.HasPrefix(line, "patch ") {
			pipe.WriteString(line + "\n") // one write: lines never mix
		}
	}
	return []Phase{
		{Name: "drain", Idempotent: true, Run: func(ctx context.Context, t Target) error {
			note("drain " + t.ID)
			return wait(ctx, t.ID, 30*time.Millisecond, 60*time.Millisecond)
		}},
		{Name: "patch", Run: func(ctx context.Context, t Target) error {
			note("patch " + t.ID)
			if err := wait(ctx, t.ID, 100*time.Millisecond, 300*time.Millisecond); err != nil {
				return err
			}
			var n int
			fmt.Sscanf(t.ID, "t%d", &n)
			if n%10 == 9 {
				return errors.New("dpkg was interrupted")
			}
			return nil
		}},
	}
}

// TestRolloutCrashChild is the child process of TestRolloutSIGKILL; it
// does nothing unless AFTERHOURS_ROLLOUT_CRASH_DIR is set. It runs the
// rollout, resuming from the status file when there is one.
func TestRolloutCrashChild(t *testing.T) {
	dir := os.Getenv("AFTERHOURS_ROLLOUT_CRASH_DIR")
	if dir == "" {
		t.Skip("the child of TestRolloutSIGKILL")
	}
	status := filepath.Join(dir, "status.json")
	opts := []Option{WithConcurrency(Count(crashConc)), WithErrorBudget(Count(crashBudget)), WithStatusFile(status, 200*time.Millisecond)}
	if _, err := os.Stat(status); err == nil {
		prev, err := LoadReport(status)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, WithResume(prev))
	}
	r := mustRollout(t, makeTargets(crashTargets, 0), crashPhases(filepath.Join(dir, "actions")), opts...)
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// actionLog reads the crash test's action log: how many times each phase
// began on each target.
func actionLog(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]int{}
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		counts[sc.Text()]++
	}
	return counts
}

// TestRolloutSIGKILL kills a rollout's process with SIGKILL several times
// in a row, each time while targets run, resuming it each time, and then
// lets a last resume run to the end. No target's patch (not idempotent)
// runs twice, no finished or failed target runs again, the targets running
// at a kill in their patch are Interrupted (at least one), those running
// in their drain (idempotent) are run again, and the failures before each
// crash count against the budget of the end.
func TestRolloutSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rollout of real time in child processes")
	}
	dir := t.TempDir()
	actions := filepath.Join(dir, "actions")
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRolloutCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "AFTERHOURS_ROLLOUT_CRASH_DIR="+dir)
		return cmd
	}
	killed := func() *exec.Cmd {
		cmd := child()
		cmd.Env = append(cmd.Env, "AFTERHOURS_ROLLOUT_CRASH_PIPE=1")
		return cmd
	}
	const kills = 5
	interrupted := 0             // in their patch: left to the operator
	redrain := map[string]bool{} // in their drain: run again
	for k := range kills {
		cmd := killed()
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.ExtraFiles = []*os.File{pw} // the child's fd 3: "patch <id>" as each patch begins
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		var stuck atomic.Bool
		watchdog := time.AfterFunc(time.Minute, func() { stuck.Store(true); cmd.Process.Kill() })
		// Kill once some patches have begun in this child, more at each
		// kill: the last to begin runs for at least 100 ms more, so
		// targets are running at the kill.
		sc := bufio.NewScanner(pr)
		for n := 0; n < 4*(k+1) && sc.Scan(); n++ {
		}
		watchdog.Stop()
		cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		pr.Close()
		if ee, ok := err.(*exec.ExitError); stuck.Load() || !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: child ended with %v before the kill (stuck %v)\n%s", k, err, stuck.Load(), out.String())
		}
		rep, err := LoadReport(filepath.Join(dir, "status.json"))
		if err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		for _, rec := range rep.Targets {
			if rec.Outcome == Interrupted && !rec.Resumed {
				switch rec.Phase {
				case "patch":
					interrupted++
				case "drain":
					redrain[rec.ID] = true // the resume runs it again
				default:
					t.Errorf("kill %d: %s interrupted in %q", k, rec.ID, rec.Phase)
				}
			}
			if rec.Outcome == Running {
				t.Errorf("kill %d: %s still running in the report to resume from", k, rec.ID)
			}
		}
		t.Logf("kill %d: %+v", k, rep.Status.Counts)
	}
	// A temporary file as a write of the status file leaves it when killed.
	stale := filepath.Join(dir, ".status.json.123456.tmp")
	if err := os.WriteFile(stale, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := child().CombinedOutput(); err != nil {
		t.Fatalf("last resume: %v\n%s", err, out)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary status file left by a crash is still there: %v", err)
	}

	rep, err := LoadReport(filepath.Join(dir, "status.json"))
	if err != nil {
		t.Fatal(err)
	}
	counts := actionLog(t, actions)
	c := rep.Status.Counts
	t.Logf("end: %+v; %d interrupted in their patch, %d in their drain, over %d kills", c, interrupted, len(redrain), kills)
	if interrupted == 0 || c.Interrupted != interrupted {
		t.Errorf("%d interrupted at the kills, %d in the end; want at least one, and the same", interrupted, c.Interrupted)
	}
	if rep.Status.State != StateCompleted || c.Succeeded+c.Failed+c.Interrupted != crashTargets {
		t.Errorf("end: %v, %+v; want every target succeeded, failed or interrupted", rep.Status.State, c)
	}
	failures := 0
	for _, rec := range rep.Targets {
		if n := counts["patch "+rec.ID]; n > 1 {
			t.Errorf("%s patched %d times", rec.ID, n)
		}
		switch rec.Outcome {
		case Succeeded, Failed:
			if counts["patch "+rec.ID] != 1 {
				t.Errorf("%s %v with %d patches", rec.ID, rec.Outcome, counts["patch "+rec.ID])
			}
		case Interrupted:
			// Marked durably as in its patch before the patch began: the
			// kill may have come before the action's first line.
			if rec.Phase != "patch" {
				t.Errorf("%s interrupted in %q", rec.ID, rec.Phase)
			}
		}
		// (The kill may have come before its first drain's first line.)
		if redrain[rec.ID] && (rec.Outcome == Interrupted && rec.Phase == "drain" || counts["drain "+rec.ID] < 1) {
			t.Errorf("%s, interrupted in its drain, was not run again: %v in %s, %d drains", rec.ID, rec.Outcome, rec.Phase, counts["drain "+rec.ID])
		}
		var n int
		fmt.Sscanf(rec.ID, "t%d", &n)
		if n%10 == 9 && counts["patch "+rec.ID] == 1 && rec.Outcome != Interrupted {
			failures++
			if rec.Outcome != Failed {
				t.Errorf("%s: %v, want failed", rec.ID, rec.Outcome)
			}
		}
	}
	if c.Failed != failures {
		t.Errorf("%d failures in the report, %d failed patches", c.Failed, failures)
	}
}
