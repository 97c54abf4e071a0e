// Package proc runs a command line in a process group of its own and ends
// the whole group: SIGTERM first, SIGKILL after a grace measured in real
// time. It keeps the tail of the combined output. It never uses a shell.
package proc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TailSize is how much of a run's combined stdout and stderr is kept.
const TailSize = 64 << 10

// Spec is what to run.
type Spec struct {
	// Argv is the executable, an absolute path, and its arguments.
	Argv []string
	// Env is the whole environment of the run.
	Env []string
	// Credential runs the command as another user; nil runs it as the
	// caller.
	Credential *syscall.Credential
	// Grace is how long the group has between SIGTERM and SIGKILL.
	Grace time.Duration
	// Started, when set, is called with the process id once the process
	// has started.
	Started func(pid int)
}

// Result is how a run ended.
type Result struct {
	// PID is the process id, which is also the process group id; 0 when
	// the command did not start.
	PID int
	// ExitCode is the exit status, or -1 when the process did not exit
	// normally (a signal) or did not start.
	ExitCode int
	// Signal is the signal that ended the process, if one did.
	Signal syscall.Signal
	// Output is the tail of the combined stdout and stderr.
	Output []byte
	// Stopped is set when the run was stopped because its context ended.
	Stopped bool
	// Killed is set when SIGKILL had to be sent to the group.
	Killed bool
	// Err is why the command could not start, or how it failed: an
	// *exec.ExitError for a non-zero exit. Nil on success.
	Err error
}

// CheckExecutable reports why path cannot be run: it must exist, be a
// regular file and have an execute bit.
func CheckExecutable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: no such file", path)
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s: not a regular file", path)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s: not executable", path)
	}
	return nil
}

// User is what a run as another user needs.
type User struct {
	Name       string
	Home       string
	Credential *syscall.Credential
}

// LookupUser finds the user of the given name and the credential to run as
// them, supplementary groups included.
func LookupUser(name string) (*User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(g))
			}
		}
	}
	return &User{Name: u.Username, Home: u.HomeDir, Credential: cred}, nil
}

// Run starts spec.Argv in a new process group and waits for it. When ctx
// ends first, the group gets SIGTERM and, if any of it is left after the
// grace, SIGKILL. When the leader exits on its own, what it left running in
// its group is ended the same way: a run ends with its group.
func Run(ctx context.Context, spec Spec) Result {
	res := Result{ExitCode: -1}
	if len(spec.Argv) == 0 {
		res.Err = errors.New("empty command line")
		return res
	}
	if err := CheckExecutable(spec.Argv[0]); err != nil {
		res.Err = err
		return res
	}
	r, w, err := os.Pipe()
	if err != nil {
		res.Err = err
		return res
	}
	cmd := &exec.Cmd{
		Path:        spec.Argv[0],
		Args:        spec.Argv,
		Env:         spec.Env,
		Stdout:      w,
		Stderr:      w,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Credential: spec.Credential},
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		res.Err = err
		return res
	}
	w.Close()
	res.PID = cmd.Process.Pid
	if spec.Started != nil {
		spec.Started(res.PID)
	}
	tail := NewTail(TailSize)
	copied := make(chan struct{})
	go func() {
		io.Copy(tail, r) //nolint:errcheck // the pipe ends with the group
		close(copied)
	}()
	var waitErr error
	exited := make(chan struct{})
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()

	select {
	case <-exited:
		// Whatever the leader left in its group ends with it.
		res.Killed = endGroup(res.PID, exited, spec.Grace)
	case <-ctx.Done():
		res.Stopped = true
		res.Killed = endGroup(res.PID, exited, spec.Grace)
		<-exited
	}
	// The group is gone, so every writer of the pipe is closed, unless a
	// process left the group (setsid) with the pipe: do not wait for it.
	t := time.NewTimer(100 * time.Millisecond)
	select {
	case <-copied:
	case <-t.C:
	}
	t.Stop()
	r.Close()
	<-copied
	res.Output = tail.Bytes()
	res.Err = waitErr
	if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		switch {
		case st.Exited():
			res.ExitCode = st.ExitStatus()
		case st.Signaled():
			res.Signal = st.Signal()
		}
	}
	return res
}

// endGroup ends the process group pgid: SIGTERM, then SIGKILL when any of
// it is left after grace. leader is closed once the group's leader has been
// reaped (until then the group exists). It reports whether SIGKILL was sent.
func endGroup(pgid int, leader <-chan struct{}, grace time.Duration) bool {
	select {
	case <-leader:
		if !groupAlive(pgid) {
			return false
		}
	default:
	}
	syscall.Kill(-pgid, syscall.SIGTERM) //nolint:errcheck // ESRCH: gone already
	// A stopped process acts on SIGTERM only once continued.
	syscall.Kill(-pgid, syscall.SIGCONT) //nolint:errcheck
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	select {
	case <-leader:
	case <-deadline.C:
		syscall.Kill(-pgid, syscall.SIGKILL) //nolint:errcheck
		return true
	}
	// The leader is gone; members it left may still be there. Nothing
	// tells of a group's end, so look with a short backoff.
	wait := time.Millisecond
	for groupAlive(pgid) {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-deadline.C:
			t.Stop()
			syscall.Kill(-pgid, syscall.SIGKILL) //nolint:errcheck
			return true
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
	return false
}

// groupAlive reports whether a live process of group pgid exists. Zombies
// do not count: their orphans are reaped by init, when init reaps.
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	members, err := Members(pgid)
	if err != nil {
		return true // no /proc: the kill(2) probe is all there is
	}
	return len(members) > 0
}

// Members returns the live (not zombie) processes of group pgid, from /proc.
func Members(pgid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...; comm may hold anything, so
		// parse from the last ')'.
		i := bytes.LastIndexByte(data, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Tail is an io.Writer that keeps the last n bytes written to it. It is
// safe for concurrent use.
type Tail struct {
	mu    sync.Mutex
	buf   []byte
	n     int
	start int // index of the oldest byte once full
	full  bool
}

// NewTail returns a Tail that keeps n bytes.
func NewTail(n int) *Tail { return &Tail{n: n} }

// Write keeps the last bytes of p; it never fails.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.n {
		t.buf = append(t.buf[:0], p[len(p)-t.n:]...)
		t.start, t.full = 0, true
		return n, nil
	}
	if !t.full {
		if len(t.buf)+len(p) <= t.n {
			t.buf = append(t.buf, p...)
			return n, nil
		}
		// Fill up, then wrap.
		k := t.n - len(t.buf)
		t.buf = append(t.buf, p[:k]...)
		p = p[k:]
		t.full = true
	}
	for len(p) > 0 {
		k := copy(t.buf[t.start:], p)
		p = p[k:]
		t.start = (t.start + k) % t.n
	}
	return n, nil
}

// Bytes returns a copy of the bytes kept, oldest first.
func (t *Tail) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]byte, 0, len(t.buf))
	if !t.full {
		return append(out, t.buf...)
	}
	out = append(out, t.buf[t.start:]...)
	return append(out, t.buf[:t.start]...)
}
