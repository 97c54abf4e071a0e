package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Identity tells a process apart from every other that may get its PID
// later: a PID is reused, a PID with its start time within one boot is
// not.
type Identity struct {
	// PID is the process id, which is also its group's id for a run.
	PID int
	// Start is when the process started, in clock ticks since boot
	// (field 22 of /proc/<pid>/stat).
	Start uint64
	// Session is the process's session id.
	Session int
	// Boot is the boot id (/proc/sys/kernel/random/boot_id): after a
	// reboot nothing of the process can be left.
	Boot string
}

// stat is what Identify and the group scans read of /proc/<pid>/stat.
type stat struct {
	state   string
	pgrp    int
	session int
	start   uint64
}

func readStat(pid int) (stat, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice threads
	// itrealvalue starttime; comm may hold anything, so parse from the
	// last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 {
		return stat{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	var s stat
	s.state = f[0]
	s.pgrp, err = strconv.Atoi(f[2])
	if err == nil {
		s.session, err = strconv.Atoi(f[3])
	}
	if err == nil {
		s.start, err = strconv.ParseUint(f[19], 10, 64)
	}
	if err != nil {
		return stat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return s, nil
}

// live reports whether the process is neither a zombie nor dead.
func (s stat) live() bool { return s.state != "Z" && s.state != "X" }

// BootID returns the id of the running boot.
func BootID() (string, error) {
	data, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

// Identify returns the identity of the live process pid.
func Identify(pid int) (Identity, error) {
	s, err := readStat(pid)
	if err != nil {
		return Identity{}, err
	}
	boot, err := BootID()
	if err != nil {
		return Identity{}, err
	}
	return Identity{PID: pid, Start: s.start, Session: s.session, Boot: boot}, nil
}

// Orphan is a run a previous executor left behind: its group's leader and
// its cgroup, as its journal recorded them.
type Orphan struct {
	// Leader is the identity of the run's process, whose PID is its group's
	// id; a zero Start means it is not known.
	Leader Identity
	// Cgroup is the run's cgroup directory; empty when it had none.
	Cgroup string
}

// ErrUnverifiable is returned by [EndOrphan] for an orphan whose identity
// was not recorded: it is not signalled, whatever has its PID now.
var ErrUnverifiable = errors.New("no start time or boot id recorded: its PID is not signalled")

// EndOrphan ends what is left of an orphaned run: SIGTERM to each of its
// processes, then, when any is left after the grace (real time), SIGKILL
// (cgroup.kill for its cgroup), and a wait of up to [KillWait] for them
// to be gone. It returns the processes that were found, and an error when
// some are left or it could not look.
//
// A process is the run's when it is in the run's cgroup, or in its process
// group while the group's leader is the recorded one (same boot, same
// start time); once the leader is gone, a member of the group counts only
// when it is in the recorded session and started after the leader. A PID
// that was reused is never signalled, and each signal goes through a pidfd
// opened before the check.
func EndOrphan(o Orphan, grace time.Duration) (found []int, err error) {
	members, cg, err := o.members()
	if err != nil {
		return nil, err
	}
	first := members()
	for pid := range first {
		found = append(found, pid)
	}
	signal := func(m map[int]uint64, sig syscall.Signal) {
		for pid, start := range m {
			signalIf(pid, sig, func() bool {
				s, err := readStat(pid)
				return err == nil && s.start == start
			})
		}
	}
	gone := func() bool { return len(members()) == 0 && (cg == nil || !cg.Populated()) }
	if len(first) > 0 {
		signal(first, syscall.SIGTERM)
		signal(first, syscall.SIGCONT) // a stopped process acts on SIGTERM once continued
		if !waitFor(grace, gone) {
			if cg != nil {
				cg.Kill() //nolint:errcheck // gone meanwhile
			}
			signal(members(), syscall.SIGKILL)
			if !waitFor(KillWait, gone) {
				var left []int
				for pid := range members() {
					left = append(left, pid)
				}
				return found, fmt.Errorf("still running after SIGKILL: %v", left)
			}
		}
	}
	if cg != nil {
		if err := cg.Remove(); err != nil && !errors.Is(err, syscall.EBUSY) {
			return found, err
		}
		// The executor's cgroup goes with its last run's.
		if parent := filepath.Dir(cg.Path); strings.HasPrefix(filepath.Base(parent), "afterhours-") {
			os.Remove(parent) // fails while other runs of it are there
		}
	}
	return found, nil
}

// Alive returns the live processes of an orphaned run, as [EndOrphan]
// tells them; none for one whose identity was not recorded.
func Alive(o Orphan) []int {
	members, _, err := o.members()
	if err != nil {
		return nil
	}
	var pids []int
	for pid := range members() {
		pids = append(pids, pid)
	}
	return pids
}

// members returns the function that lists the orphan's live processes
// with their start times, and its cgroup when it has one.
func (o Orphan) members() (func() map[int]uint64, *Cgroup, error) {
	boot, err := BootID()
	if err != nil {
		return nil, nil, err
	}
	var cg *Cgroup
	if o.Cgroup != "" && (o.Leader.Boot == boot || o.Leader.Boot == "") {
		if !isRunCgroup(o.Cgroup) {
			return nil, nil, fmt.Errorf("%s: not a run's cgroup", o.Cgroup)
		}
		cg = &Cgroup{Path: filepath.Clean(o.Cgroup)}
	}
	verified := o.Leader.PID > 0 && o.Leader.Start > 0 && o.Leader.Boot != ""
	if o.Leader.PID > 0 && !verified && cg == nil {
		return nil, nil, ErrUnverifiable
	}
	if verified && o.Leader.Boot != boot {
		verified = false // rebooted since: nothing of the group is left
	}
	return func() map[int]uint64 {
		out := map[int]uint64{}
		if cg != nil {
			pids, _ := cg.Procs()
			for _, pid := range pids {
				if s, err := readStat(pid); err == nil && s.live() {
					out[pid] = s.start
				}
			}
		}
		if verified {
			for pid, s := range groupOf(o.Leader) {
				out[pid] = s
			}
		}
		return out
	}, cg, nil
}

// groupOf returns the live members of the process group of leader, with
// their start times, as EndOrphan's rule has them.
func groupOf(leader Identity) map[int]uint64 {
	out := map[int]uint64{}
	s, err := readStat(leader.PID)
	leaderAlive := err == nil
	if leaderAlive && s.start != leader.Start {
		// The PID was reused, which it cannot be while the group is
		// there: the group is gone.
		return out
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		m, err := readStat(pid)
		if err != nil || !m.live() || m.pgrp != leader.PID {
			continue
		}
		if leaderAlive || m.session == leader.Session && m.start >= leader.Start {
			out[pid] = m.start
		}
	}
	return out
}

// isRunCgroup reports whether path names a run's cgroup as [Cgroups] makes
// them: run-<n> in afterhours-* in the cgroup v2 hierarchy.
func isRunCgroup(path string) bool {
	path = filepath.Clean(path)
	mount, err := cgroup2Mount()
	if err != nil || !filepath.IsAbs(path) || !strings.HasPrefix(path, mount+"/") {
		return false
	}
	base := filepath.Base(path)
	n, ok := strings.CutPrefix(base, "run-")
	if _, err := strconv.Atoi(n); !ok || err != nil {
		return false
	}
	return strings.HasPrefix(filepath.Base(filepath.Dir(path)), "afterhours-")
}
