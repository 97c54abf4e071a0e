// Package proc runs a command line in a process group of its own, and in a
// cgroup v2 leaf of its own where the hierarchy is writable ([Cgroups]),
// and ends all of it: SIGTERM first, SIGKILL (cgroup.kill) after a grace
// measured in real time, and then a wait until its processes are gone. It
// keeps the tail of the combined output. It never uses a shell. It also
// ends what a crashed executor left running ([EndOrphan]), telling its
// processes by their start time ([Identity]) so that a reused PID is never
// signalled.
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
	"slices"
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
	// Cgroup, when set, is the empty cgroup to run the command in: see
	// [Start].
	Cgroup *Cgroup
	// Started, when set, is called by [Run] with the process id once the
	// process has started.
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
	// Left lists the processes of the run still there [KillWait] after
	// SIGKILL; empty when the run ended with all of its processes.
	Left []int
	// Isolation is [IsolationCgroup] or [IsolationProcessGroup]; empty
	// when the command did not start.
	Isolation string
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
	Name string
	Home string
	// Shell is the login shell of the user's /etc/passwd entry, /bin/sh
	// when it has none there (a user from another name service).
	Shell      string
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
	return &User{Name: u.Username, Home: u.HomeDir, Shell: loginShell("/etc/passwd", u.Username), Credential: cred}, nil
}

// loginShell returns the shell of user name in the passwd file, or
// /bin/sh. os/user does not tell it.
func loginShell(passwd, name string) string {
	data, err := os.ReadFile(passwd)
	if err != nil {
		return "/bin/sh"
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) == 7 && f[0] == name && f[6] != "" {
			return f[6]
		}
	}
	return "/bin/sh"
}

// Isolations: how a run's processes are held together and ended.
const (
	// IsolationCgroup: a cgroup v2 leaf of its own, ended through
	// cgroup.kill, so that a descendant that left the process group
	// (setsid) ends too.
	IsolationCgroup = "cgroup"
	// IsolationProcessGroup: a process group of its own, ended with
	// kill(-pgid).
	IsolationProcessGroup = "process-group"
)

// KillWait is how long, in real time, a run's processes have to be gone
// after SIGKILL: a process in uninterruptible sleep can outlive it.
const KillWait = 5 * time.Second

// Process is a started run.
type Process struct {
	spec    Spec
	cmd     *exec.Cmd
	r       *os.File
	tail    *Tail
	copied  chan struct{}
	exited  chan struct{}
	waitErr error
	// Identity is the run's leader's; Cgroup is its cgroup, nil when it
	// runs in its process group alone.
	Identity Identity
	Cgroup   *Cgroup
	// Fallback says why the run is not in its cgroup although Spec.Cgroup
	// was set (the kernel refused clone3 into it); empty otherwise.
	Fallback string
}

// Isolation returns [IsolationCgroup] or [IsolationProcessGroup].
func (p *Process) Isolation() string {
	if p.Cgroup != nil {
		return IsolationCgroup
	}
	return IsolationProcessGroup
}

// Start starts spec.Argv in a new process group and, with spec.Cgroup,
// in that cgroup from its first instruction (clone3 with
// CLONE_INTO_CGROUP). When the kernel refuses the cgroup, the run starts
// in its process group alone and Fallback says why. The error says why
// the command did not start.
func Start(spec Spec) (*Process, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("empty command line")
	}
	if err := CheckExecutable(spec.Argv[0]); err != nil {
		return nil, err
	}
	p := &Process{spec: spec, Cgroup: spec.Cgroup}
	err := p.start()
	if err != nil && p.Cgroup != nil {
		// clone3 into a cgroup may be refused (seccomp in containers, an
		// old kernel): the process group alone still holds the run.
		p.Fallback = "cannot start in cgroup " + p.Cgroup.Path + ": " + err.Error()
		p.Cgroup.Remove() //nolint:errcheck // empty: nothing started in it
		p.Cgroup = nil
		err = p.start()
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Process) start() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	attr := &syscall.SysProcAttr{Setpgid: true, Credential: p.spec.Credential}
	if p.Cgroup != nil {
		fd, err := syscall.Open(p.Cgroup.Path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
		if err != nil {
			r.Close()
			w.Close()
			return err
		}
		defer syscall.Close(fd)
		attr.UseCgroupFD, attr.CgroupFD = true, fd
	}
	cmd := &exec.Cmd{
		Path:        p.spec.Argv[0],
		Args:        p.spec.Argv,
		Env:         p.spec.Env,
		Stdout:      w,
		Stderr:      w,
		SysProcAttr: attr,
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return err
	}
	w.Close()
	p.cmd, p.r = cmd, r
	p.Identity = Identity{PID: cmd.Process.Pid}
	// The leader is our child and not reaped before Wait: its /proc entry
	// is there, whatever it does meanwhile.
	if id, err := Identify(cmd.Process.Pid); err == nil {
		p.Identity = id
	}
	p.tail = NewTail(TailSize)
	p.copied = make(chan struct{})
	go func() {
		io.Copy(p.tail, r) //nolint:errcheck // the pipe ends with the group
		close(p.copied)
	}()
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return nil
}

// Run starts spec.Argv as [Start] does and waits for it as [Process.Wait]
// does. A command that does not start is a Result with its Err and PID 0.
func Run(ctx context.Context, spec Spec) Result {
	p, err := Start(spec)
	if err != nil {
		return Result{ExitCode: -1, Err: err}
	}
	if spec.Started != nil {
		spec.Started(p.Identity.PID)
	}
	return p.Wait(ctx)
}

// Wait waits for the run to end. When ctx ends first, its processes get
// SIGTERM and, if any of them is left after the grace, SIGKILL. When the
// leader exits on its own, what it left running is ended the same way: a
// run ends with its group, and with its cgroup when it has one. Wait
// returns once they are gone, or [KillWait] after SIGKILL with Left
// saying which are not. A run's cgroup is removed once empty.
func (p *Process) Wait(ctx context.Context) Result {
	res := Result{ExitCode: -1, PID: p.Identity.PID, Isolation: p.Isolation()}
	g := group{pgid: res.PID, cg: p.Cgroup}
	select {
	case <-p.exited:
		// Whatever the leader left in its group ends with it.
		res.Killed, res.Left = g.end(p.exited, p.spec.Grace)
	case <-ctx.Done():
		res.Stopped = true
		res.Killed, res.Left = g.end(p.exited, p.spec.Grace)
		<-p.exited
	}
	if p.Cgroup != nil && len(res.Left) == 0 {
		p.Cgroup.Remove() //nolint:errcheck // kept while populated
	}
	// The group is gone, so every writer of the pipe is closed, unless a
	// process left the group (setsid) with the pipe and no cgroup ended
	// it: do not wait for it.
	t := time.NewTimer(100 * time.Millisecond)
	select {
	case <-p.copied:
	case <-t.C:
	}
	t.Stop()
	p.r.Close()
	<-p.copied
	res.Output = p.tail.Bytes()
	res.Err = p.waitErr
	if st, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		switch {
		case st.Exited():
			res.ExitCode = st.ExitStatus()
		case st.Signaled():
			res.Signal = st.Signal()
		}
	}
	return res
}

// group is what a run's processes are: its process group, and its cgroup
// when it has one.
type group struct {
	pgid int
	cg   *Cgroup
}

// alive reports whether a live process of the group or the cgroup exists.
func (g group) alive() bool {
	return groupAlive(g.pgid) || g.cg != nil && g.cg.Populated()
}

// signal signals the group while it has live members (which keep its id
// from being reused), and each process of the cgroup.
func (g group) signal(sig syscall.Signal) {
	if groupAlive(g.pgid) {
		syscall.Kill(-g.pgid, sig) //nolint:errcheck // ESRCH: gone already
	}
	if g.cg != nil {
		g.cg.Signal(sig)
	}
}

func (g group) kill() {
	if g.cg != nil {
		g.cg.Kill() //nolint:errcheck // gone already
	}
	if groupAlive(g.pgid) {
		syscall.Kill(-g.pgid, syscall.SIGKILL) //nolint:errcheck
	}
}

// left returns the live processes still there.
func (g group) left() []int {
	pids, _ := Members(g.pgid)
	if g.cg != nil {
		procs, _ := g.cg.Procs()
		for _, pid := range procs {
			if !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// end ends the group: SIGTERM, then SIGKILL when any of it is left after
// grace, and then a wait of up to KillWait for it to be gone. leader is
// closed once the group's leader has been reaped (until then the process
// group exists). It reports whether SIGKILL was sent, and what is left.
func (g group) end(leader <-chan struct{}, grace time.Duration) (killed bool, left []int) {
	select {
	case <-leader:
		if !g.alive() {
			return false, nil
		}
	default:
	}
	g.signal(syscall.SIGTERM)
	// A stopped process acts on SIGTERM only once continued.
	g.signal(syscall.SIGCONT)
	reaped := false
	gone := func() bool {
		if !reaped {
			select {
			case <-leader:
				reaped = true
			default:
				return false
			}
		}
		return !g.alive()
	}
	if waitFor(grace, gone) {
		return false, nil
	}
	g.kill()
	// SIGKILL is delivered, not yet acted on, when kill(2) returns: the
	// run ends when its processes are gone.
	if waitFor(KillWait, gone) {
		return true, nil
	}
	return true, g.left()
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
