package proc

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/testenv"
)

// startOrphan starts a run that ignores SIGTERM, with a child in its group
// and, with a cgroup, one that left it; it returns them as an orphan of a
// crashed executor would be recorded, and the sleep's marker.
func startOrphan(t *testing.T, cg *Cgroup) (*Process, Orphan, string) {
	t.Helper()
	arg := marker(t)
	body := "trap '' TERM\n/usr/bin/sleep 1" + arg + " &\n" +
		"while ! /usr/bin/pgrep -f '^/usr/bin/sleep 1" + arg + "' >/dev/null; do :; done\n"
	if cg != nil {
		body += "/usr/bin/setsid /usr/bin/sleep 2" + arg + " &\n" +
			"while ! /usr/bin/pgrep -f '^/usr/bin/sleep 2" + arg + "' >/dev/null; do :; done\n"
	}
	body += "echo ready > \"$1\"\nwait\n"
	path, fifo := script(t, body)
	p, err := Start(Spec{Argv: []string{path, fifo}, Cgroup: cg})
	if err != nil {
		t.Fatal(err)
	}
	awaitReady(t, fifo)
	t.Cleanup(func() {
		syscall.Kill(-p.Identity.PID, syscall.SIGKILL)
		if cg != nil {
			cg.Kill()
		}
		<-p.exited
	})
	o := Orphan{Leader: p.Identity}
	if cg != nil {
		o.Cgroup = cg.Path
	}
	return p, o, arg
}

// An orphaned run is ended, all of it, its identity checked: SIGTERM,
// SIGKILL after the grace, and EndOrphan returns once it is gone.
func TestEndOrphan(t *testing.T) {
	for _, withCgroup := range []bool{false, true} {
		var cg *Cgroup
		if withCgroup {
			c, err := cgroups(t).New()
			if err != nil {
				t.Fatal(err)
			}
			cg = c
		}
		p, o, arg := startOrphan(t, cg)
		// A run keeps its executor's session, which is 0 in a container
		// whose session leader is outside its PID namespace: compare it
		// with ours rather than with 0.
		self, err := readStat(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if o.Leader.Start == 0 || o.Leader.Boot == "" || o.Leader.Session != self.session {
			t.Fatalf("identity not read: %+v (our session %d)", o.Leader, self.session)
		}
		const grace = 200 * time.Millisecond
		t0 := time.Now()
		found, err := EndOrphan(o, grace)
		if err != nil {
			t.Fatalf("cgroup %v: %v", withCgroup, err)
		}
		if took := time.Since(t0); took < grace {
			t.Errorf("cgroup %v: ended in %v, before the grace for SIGTERM", withCgroup, took)
		}
		want := 2
		if withCgroup {
			want = 3
		}
		if len(found) != want {
			t.Errorf("cgroup %v: found %v, want %d processes", withCgroup, found, want)
		}
		if left := pidsOf(arg); len(left) > 0 {
			t.Errorf("cgroup %v: left %v", withCgroup, left)
		}
		<-p.exited
		if cg != nil {
			if _, err := os.Stat(cg.Path); !os.IsNotExist(err) {
				t.Errorf("cgroup %s left: %v", cg.Path, err)
			}
		}
	}
}

// A PID that was reused (another start time), or whose start time was not
// recorded, or that belongs to another boot, is never signalled.
func TestEndOrphanNeverSignalsAReusedPID(t *testing.T) {
	_, o, arg := startOrphan(t, nil)
	boot, _ := BootID()
	for _, tc := range []struct {
		name    string
		id      Identity
		wantErr error
	}{
		{"reused", Identity{PID: o.Leader.PID, Start: o.Leader.Start - 1, Session: o.Leader.Session, Boot: boot}, nil},
		{"unrecorded", Identity{PID: o.Leader.PID}, ErrUnverifiable},
		{"other boot", Identity{PID: o.Leader.PID, Start: o.Leader.Start, Session: o.Leader.Session, Boot: "0" + boot[1:]}, nil},
	} {
		found, err := EndOrphan(Orphan{Leader: tc.id}, 10*time.Millisecond)
		if !errors.Is(err, tc.wantErr) || len(found) > 0 {
			t.Errorf("%s: found %v, err %v; want none and %v", tc.name, found, err, tc.wantErr)
		}
		if n := len(pidsOf(arg)); n != 1 {
			t.Fatalf("%s: %d sleeps run, want the 1 it did not touch", tc.name, n)
		}
	}
	if m, _ := Members(o.Leader.PID); len(m) != 2 {
		t.Errorf("group %d: %v, want its leader and sleep untouched", o.Leader.PID, m)
	}
}

// A member a dead leader left in its group is ended when it is in the
// recorded session and started after the leader.
func TestEndOrphanLeaderGone(t *testing.T) {
	arg := marker(t)
	path, fifo := script(t, "/usr/bin/sleep "+arg+" &\necho $! > \"$1\"\nexit 0\n")
	p, err := Start(Spec{Argv: []string{path, fifo}})
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(awaitReady(t, fifo))
	<-p.exited // the leader is gone, its sleep is left in the group
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
	other := p.Identity
	other.Session++
	if found, err := EndOrphan(Orphan{Leader: other}, time.Second); err != nil || len(found) > 0 {
		t.Fatalf("another session: found %v, %v; want nothing", found, err)
	}
	found, err := EndOrphan(Orphan{Leader: p.Identity}, time.Second)
	if err != nil || len(found) != 1 || found[0] != child {
		t.Errorf("found %v, %v; want [%d]", found, err, child)
	}
	if left := pidsOf(arg); len(left) > 0 {
		t.Errorf("left %v", left)
	}
}

func TestIdentify(t *testing.T) {
	id, err := Identify(os.Getpid())
	testenv.Require(t, err == nil, "/proc: "+errString(err))
	again, _ := Identify(os.Getpid())
	if id != again || id.Start == 0 || len(id.Boot) != 36 {
		t.Errorf("identity %+v, again %+v", id, again)
	}
}
