package proc

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script writes a /bin/sh script into a temporary directory and returns its
// path and a FIFO the script may announce itself on.
func script(t *testing.T, body string) (path, fifo string) {
	t.Helper()
	dir := t.TempDir()
	path = filepath.Join(dir, "s.sh")
	fifo = filepath.Join(dir, "ready")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, fifo
}

// awaitReady blocks until the script writes a line to the FIFO.
func awaitReady(t *testing.T, fifo string) string {
	t.Helper()
	f, err := os.Open(fifo) // blocks until the script opens it to write
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSpace(line)
}

func TestRunExitAndOutput(t *testing.T) {
	path, _ := script(t, "echo out; echo err >&2; echo \"$GREETING\"; exit 3\n")
	res := Run(context.Background(), Spec{Argv: []string{path}, Env: []string{"GREETING=hello"}, Grace: time.Second})
	if res.ExitCode != 3 || res.Err == nil {
		t.Fatalf("exit %d, err %v; want 3 and an error", res.ExitCode, res.Err)
	}
	if got := string(res.Output); got != "out\nerr\nhello\n" {
		t.Errorf("output %q", got)
	}
	if res.PID == 0 || res.Stopped || res.Killed {
		t.Errorf("pid %d stopped %v killed %v", res.PID, res.Stopped, res.Killed)
	}
}

func TestRunSuccess(t *testing.T) {
	res := Run(context.Background(), Spec{Argv: []string{"/bin/sh", "-c", "exit 0"}, Grace: time.Second})
	if res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("exit %d err %v", res.ExitCode, res.Err)
	}
}

func TestRunNotExecutable(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o644)
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing"), "no such file"},
		{plain, "not executable"},
		{dir, "not a regular file"},
	} {
		res := Run(context.Background(), Spec{Argv: []string{tc.path}, Grace: time.Second})
		if res.Err == nil || !strings.Contains(res.Err.Error(), tc.want) || res.PID != 0 || res.ExitCode != -1 {
			t.Errorf("%s: err %v pid %d exit %d, want %q", tc.path, res.Err, res.PID, res.ExitCode, tc.want)
		}
	}
}

// A group whose leader and child ignore SIGTERM is killed after the grace,
// and nothing of it is left once Run returns: SIGKILL is only delivered
// when kill(2) returns, so Run waits for the group to be gone (issue 11,
// item 16: under load the child was still there about 1 run in 10). The
// script says it is ready once its trap is set.
func TestRunStopIgnoringTERM(t *testing.T) {
	path, fifo := script(t, "trap '' TERM\n/usr/bin/sleep 1000 &\necho ready > \"$1\"\nwait\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result)
	const grace = 300 * time.Millisecond
	go func() { done <- Run(ctx, Spec{Argv: []string{path, fifo}, Grace: grace}) }()
	awaitReady(t, fifo)
	t0 := time.Now()
	cancel()
	res := <-done
	took := time.Since(t0)
	if !res.Stopped || !res.Killed {
		t.Errorf("stopped %v killed %v, want both", res.Stopped, res.Killed)
	}
	if took < grace || took > grace+KillWait {
		t.Errorf("took %v to end the group, want the grace %v", took, grace)
	}
	if m, err := Members(res.PID); err != nil || len(m) > 0 || len(res.Left) > 0 {
		t.Errorf("group %d still has %v (%v), left %v", res.PID, m, err, res.Left)
	}
	if res.Signal != syscall.SIGKILL {
		t.Errorf("signal %v, want SIGKILL", res.Signal)
	}
}

// A group that honours SIGTERM ends at once, without SIGKILL.
func TestRunStopHonouringTERM(t *testing.T) {
	path, fifo := script(t, "/usr/bin/sleep 1000 &\necho ready > \"$1\"\nwait\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Result)
	go func() { done <- Run(ctx, Spec{Argv: []string{path, fifo}, Grace: time.Minute}) }()
	awaitReady(t, fifo)
	cancel()
	res := <-done
	if !res.Stopped || res.Killed {
		t.Errorf("stopped %v killed %v, want stopped without SIGKILL", res.Stopped, res.Killed)
	}
	if m, _ := Members(res.PID); len(m) > 0 {
		t.Errorf("group %d still has %v", res.PID, m)
	}
}

// What a leader leaves running in its group ends with it.
func TestRunEndsLeftovers(t *testing.T) {
	path, fifo := script(t, "/usr/bin/sleep 1000 &\necho $! > \"$1\"\nexit 0\n")
	done := make(chan Result)
	go func() { done <- Run(context.Background(), Spec{Argv: []string{path, fifo}, Grace: time.Minute}) }()
	child := awaitReady(t, fifo)
	res := <-done
	if res.Err != nil || res.ExitCode != 0 {
		t.Fatalf("exit %d err %v", res.ExitCode, res.Err)
	}
	if m, _ := Members(res.PID); len(m) > 0 {
		t.Errorf("child %s left: group %d has %v", child, res.PID, m)
	}
}

func TestRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change user")
	}
	u, err := LookupUser("nobody")
	if err != nil {
		t.Skip("no user nobody:", err)
	}
	res := Run(context.Background(), Spec{Argv: []string{"/usr/bin/id", "-u"}, Credential: u.Credential, Grace: time.Second})
	if want := strconv.Itoa(int(u.Credential.Uid)); res.Err != nil || strings.TrimSpace(string(res.Output)) != want {
		t.Fatalf("id -u as nobody: %q %v, want %s", res.Output, res.Err, want)
	}
}

func TestTail(t *testing.T) {
	var want []byte
	tl := NewTail(10)
	for i, chunk := range []string{"abc", "defgh", "ij", "klmnopq", "r", "0123456789ABC", "x"} {
		tl.Write([]byte(chunk))
		want = append(want, chunk...)
		exp := want
		if len(exp) > 10 {
			exp = exp[len(exp)-10:]
		}
		if got := tl.Bytes(); !bytes.Equal(got, exp) {
			t.Fatalf("after write %d: %q, want %q", i, got, exp)
		}
	}
}

func TestLookupUserUnknown(t *testing.T) {
	if _, err := LookupUser("no-such-user-afterhours"); err == nil {
		t.Error("no error for an unknown user")
	}
}
