package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Cgroups is an executor's own cgroup in a writable cgroup v2 hierarchy:
// a directory afterhours-<pid>-<random> below the process's own cgroup,
// holding one leaf cgroup per run. The executor itself stays where it is,
// so the parent holds no process and its leaves may (cgroup v2's "no
// internal processes" rule). It is safe for concurrent use.
type Cgroups struct {
	dir string
	n   atomic.Int64
}

// OpenCgroups finds the cgroup v2 hierarchy through /proc/self/mountinfo
// (/sys/fs/cgroup on a pure v2 host, /sys/fs/cgroup/unified on a hybrid
// one), and creates the executor's cgroup below the process's own. The
// error says why cgroups cannot be used: no cgroup2 mount, not writable,
// or no cgroup.kill (Linux before 5.14).
func OpenCgroups() (*Cgroups, error) {
	mount, err := cgroup2Mount()
	if err != nil {
		return nil, err
	}
	own, err := ownCgroup()
	if err != nil {
		return nil, err
	}
	base := filepath.Join(mount, own)
	sweep(base)
	dir, err := os.MkdirTemp(base, "afterhours-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("cgroup v2 at %s not writable: %w", base, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cgroup.kill")); err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("cgroup v2 at %s has no cgroup.kill (Linux 5.14 or later needed)", base)
	}
	return &Cgroups{dir: dir}, nil
}

// sweep removes what executors that are gone (a crash) left in base: their
// empty cgroups. A run's cgroup that still holds processes stays, for
// [EndOrphan].
func sweep(base string) {
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), "afterhours-")
		pid, _, ok2 := strings.Cut(rest, "-")
		n, err := strconv.Atoi(pid)
		if !ok || !ok2 || err != nil || !e.IsDir() || n == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); err == nil {
			continue // its executor may still run
		}
		dir := filepath.Join(base, e.Name())
		runs, _ := os.ReadDir(dir)
		for _, r := range runs {
			if r.IsDir() && strings.HasPrefix(r.Name(), "run-") {
				os.Remove(filepath.Join(dir, r.Name())) // fails while populated
			}
		}
		os.Remove(dir)
	}
}

// Dir returns the executor's cgroup directory.
func (c *Cgroups) Dir() string { return c.dir }

// New creates the leaf cgroup of a run.
func (c *Cgroups) New() (*Cgroup, error) {
	dir := filepath.Join(c.dir, "run-"+strconv.FormatInt(c.n.Add(1), 10))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	return &Cgroup{Path: dir}, nil
}

// Close removes the executor's cgroup, which must hold no run's cgroup by
// then: those that could not be emptied stay, and so does it.
func (c *Cgroups) Close() error {
	entries, _ := os.ReadDir(c.dir)
	for _, e := range entries {
		if e.IsDir() {
			os.Remove(filepath.Join(c.dir, e.Name())) // fails while populated
		}
	}
	if err := os.Remove(c.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Cgroup is the leaf cgroup of one run.
type Cgroup struct {
	// Path is the cgroup's directory.
	Path string
}

// Procs returns the processes in the cgroup.
func (g *Cgroup) Procs() ([]int, error) {
	data, err := os.ReadFile(filepath.Join(g.Path, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// Populated reports whether a live process is in the cgroup; a cgroup
// that is gone is not.
func (g *Cgroup) Populated() bool {
	data, err := os.ReadFile(filepath.Join(g.Path, "cgroup.events"))
	if err != nil {
		return false
	}
	return bytes.Contains(data, []byte("populated 1"))
}

// Signal sends sig to every process in the cgroup. Each is opened as a
// pidfd and checked to be in the cgroup still, so that a PID reused
// meanwhile is never signalled.
func (g *Cgroup) Signal(sig syscall.Signal) {
	pids, _ := g.Procs()
	for _, pid := range pids {
		signalIf(pid, sig, func() bool { return g.holds(pid) })
	}
}

// holds reports whether process pid is in the cgroup.
func (g *Cgroup) holds(pid int) bool {
	pids, _ := g.Procs()
	for _, p := range pids {
		if p == pid {
			return true
		}
	}
	return false
}

// Kill kills every process in the cgroup and its descendants at once
// through cgroup.kill.
func (g *Cgroup) Kill() error {
	return os.WriteFile(filepath.Join(g.Path, "cgroup.kill"), []byte("1"), 0)
}

// Remove removes the cgroup once it is empty; a cgroup that is gone
// already is no error.
func (g *Cgroup) Remove() error {
	err := os.Remove(g.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// signalIf sends sig to pid when ok, asked after pid was opened as a
// pidfd, still holds: the signal reaches the very process that was
// checked, never one that got its PID later.
func signalIf(pid int, sig syscall.Signal, ok func() bool) bool {
	p, err := os.FindProcess(pid) // a pidfd on Linux
	if err != nil {
		return false
	}
	defer p.Release()
	if !ok() {
		return false
	}
	return p.Signal(sig) == nil
}

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted.
func cgroup2Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source super
		left, right, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		lf, rf := strings.Fields(left), strings.Fields(right)
		if len(lf) >= 5 && len(rf) >= 1 && rf[0] == "cgroup2" && lf[3] == "/" {
			return unescapeMount(lf[4]), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no cgroup v2 hierarchy mounted")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ownCgroup returns the process's cgroup v2 path, from the "0::" line of
// /proc/self/cgroup.
func ownCgroup() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			if strings.HasSuffix(p, " (deleted)") {
				return "", errors.New("the process's cgroup was removed")
			}
			return p, nil
		}
	}
	return "", errors.New("the process is in no cgroup v2")
}

// waitFor polls done with a short backoff until it holds or d of real time
// has passed, and reports whether it held. Nothing tells of a group's end
// or of another process's exit, so looking is all there is.
func waitFor(d time.Duration, done func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	wait := time.Millisecond
	for !done() {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-deadline.C:
			t.Stop()
			return done()
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
	return true
}
