package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/afterhours-go/afterhours/fleet"
	"github.com/stretchr/testify/require"
)

// The acceptance of issue 13 for rollouts across controllers: three
// controller processes run one rollout on one etcd: 3,000 targets whose
// patch takes 100 to 300 ms, concurrency 100, 2 at once per group of 10,
// an error budget of 5 with 6 failures injected (the 6th past midway),
// and one controller SIGKILLed a tenth of the way. From the lines
// each controller appended at every start and end of a patch, and from
// the records on etcd:
//
//   - never more than 100 patches ran at once, nor more than 2 of a group;
//   - no target started after the 6th failure was recorded: every start
//     is a claim, and every claim's etcd revision is below that of the 6th
//     failure's end;
//   - no target ran twice;
//   - targets the killed controller was running are recorded Interrupted
//     by the others, and none is left running;
//   - the others went on after the kill, and stopped on the budget.
//
// Under the race detector, 1,200 targets of 20 to 60 ms.
func TestThreeControllersAcceptance(t *testing.T) {
	urls := strings.Join(etcdtest.Endpoints(t), ",")
	prefix := etcdtest.Prefix(t)
	// The lease TTL is long enough that only the SIGKILL ends a lease on a
	// loaded machine (keep-alives go every third of it).
	targets, workMin, workMax, ttl := 3000, 100*time.Millisecond, 300*time.Millisecond, "3s"
	if raceEnabled {
		targets, workMin, workMax, ttl = 1200, 20*time.Millisecond, 60*time.Millisecond, "5s"
	}
	const conc, groupLimit, budget = 100, 2, 5
	// Controller i starts at its share's first target: the failures are
	// in the shares of the two that live, at 20%, 50% and 80% of each, so
	// that the 6th comes when they are about 80% through theirs, long
	// after the kill and the expiry of the killed controller's lease.
	share := targets / 3
	var fails []string
	failed := map[string]bool{}
	for s := range 2 {
		for _, f := range []float64{0.2, 0.5, 0.8} {
			i := s*share + int(f*float64(share))
			fails = append(fails, strconv.Itoa(i))
			failed[targetID(i)] = true
		}
	}
	dir := t.TempDir()
	args := []string{"-etcd", urls, "-prefix", prefix, "-controllers", "3", "-targets", strconv.Itoa(targets),
		"-concurrency", strconv.Itoa(conc), "-group", strconv.Itoa(groupLimit), "-budget", strconv.Itoa(budget),
		"-fail", strings.Join(fails, ","), "-work-min", workMin.String(), "-work-max", workMax.String(),
		"-ttl", ttl, "-log", dir}

	type proc struct {
		name   string
		cmd    *exec.Cmd
		stderr bytes.Buffer
		done   chan error
	}
	procs := make([]*proc, 3)
	for i := range procs {
		p := &proc{name: fmt.Sprintf("ctl-%d", i+1), done: make(chan error, 1)}
		p.cmd = exec.Command(os.Args[0], args...)
		p.cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s/%d", controllerEnv, p.name, i))
		p.cmd.Stderr = &p.stderr
		require.NoError(t, p.cmd.Start())
		go func() { p.done <- p.cmd.Wait() }()
		t.Cleanup(func() {
			p.cmd.Process.Kill()
			<-p.done
			p.done <- nil
		})
		procs[i] = p
	}
	cli := etcdtest.Client(t)
	ctx := context.Background()

	// A tenth of the way: SIGKILL the third controller.
	var by map[string]fleet.Counts
	waitFor(t, 60*time.Second, "a tenth of the targets claimed, some running at ctl-3", func() bool {
		st, err := etcd.ReadRollout(ctx, cli, prefix)
		require.NoError(t, err)
		by, _ = st.Counts()
		if st.Stopped != nil {
			t.Fatalf("stopped before the kill: %v\n%v\n%s\n%s\n%s", st.Stopped, by,
				procs[0].stderr.String(), procs[1].stderr.String(), procs[2].stderr.String())
		}
		return len(st.Records) >= targets/10 && by["ctl-3"].Running > 0
	}, func() string {
		return fmt.Sprintf("%v\n%s\n%s\n%s", by, procs[0].stderr.String(), procs[1].stderr.String(), procs[2].stderr.String())
	})
	victim := procs[2]
	require.NoError(t, victim.cmd.Process.Kill())
	err := <-victim.done
	victim.done <- err
	killedAt := time.Now()
	require.ErrorContains(t, err, "killed")

	// A survivor stops on the budget, or completes when nothing was left
	// for it to claim before the 6th failure (the others' running targets
	// are theirs to end).
	stoppedOnBudget := 0
	for _, p := range procs[:2] {
		select {
		case err := <-p.done:
			p.done <- err
			if err != nil {
				require.Contains(t, p.stderr.String(), "error budget exhausted", p.name)
				stoppedOnBudget++
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("%s still runs after 90 s\n%s", p.name, p.stderr.String())
		}
	}
	require.Positive(t, stoppedOnBudget, "the 6th failure stops a controller that has targets left")

	st, err := etcd.ReadRollout(ctx, cli, prefix)
	require.NoError(t, err)
	require.ErrorIs(t, st.Stopped, fleet.ErrBudgetExhausted)
	claimedBy := map[string]etcd.TargetRecord{}
	var failures []etcd.TargetRecord
	interrupted := 0
	for _, r := range st.Records {
		claimedBy[r.ID] = r
		require.NotEqual(t, fleet.Running, r.Outcome, "%s left running", r.ID)
		if r.Outcome == fleet.Failed {
			require.True(t, failed[r.ID], "%s failed, not injected: %s", r.ID, r.Error)
			failures = append(failures, r)
		}
		if r.Outcome == fleet.Interrupted {
			require.Equal(t, "ctl-3", r.Controller, "%s interrupted", r.ID)
			interrupted++
		}
	}
	require.Positive(t, interrupted, "the killed controller's running targets are interrupted")
	require.Len(t, failures, budget+1, "every injected failure ran: the 6th stopped the rollout")
	slices.SortFunc(failures, func(a, b etcd.TargetRecord) int { return int(a.Written - b.Written) })
	sixth := failures[budget].Written
	for _, r := range st.Records {
		require.Less(t, r.Claimed, sixth, "%s claimed after the 6th failure was recorded", r.ID)
	}

	// The lines of the controllers: every start is a claim of its
	// controller, once; the limits hold at every instant.
	type edge struct {
		at    time.Time
		delta int
		group string
	}
	var edges []edge
	started := map[string]string{}
	wentOn := 0
	for _, p := range procs {
		starts, ends := readLines(t, filepath.Join(dir, p.name+".log"))
		for id, s := range starts {
			require.Empty(t, started[id], "%s started by %s and by %s", id, started[id], p.name)
			started[id] = p.name
			rec, ok := claimedBy[id]
			require.True(t, ok, "%s started by %s without a claim", id, p.name)
			require.Equal(t, p.name, rec.Controller, "%s started by %s, claimed by %s", id, p.name, rec.Controller)
			end := killedAt // the process died with it
			if e, ok := ends[id]; ok {
				end = e.at
			} else {
				require.Equal(t, victim.name, p.name, "%s started by %s never ended", id, p.name)
			}
			edges = append(edges, edge{s.at, 1, s.group}, edge{end, -1, s.group})
			if p != victim && s.at.After(killedAt) {
				wentOn++
			}
		}
	}
	require.Positive(t, wentOn, "the others go on after the kill")
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // an end before a start at the same instant
	})
	running, most := 0, 0
	groups := map[string]int{}
	for _, e := range edges {
		running += e.delta
		groups[e.group] += e.delta
		most = max(most, running)
		require.LessOrEqual(t, running, conc, "at %v", e.at)
		require.LessOrEqual(t, groups[e.group], groupLimit, "group %s at %v", e.group, e.at)
	}
	t.Logf("%d targets claimed, %d started; at most %d running at once; %d interrupted; %d starts by the others after the kill",
		len(st.Records), len(started), most, interrupted, wentOn)
}

// logLine is a start or end line of a controller's log.
type logLine struct {
	at    time.Time
	group string
}

// readLines reads a controller's log: its starts and ends by target.
func readLines(t *testing.T, path string) (starts, ends map[string]logLine) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	starts, ends = map[string]logLine{}, map[string]logLine{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		require.GreaterOrEqual(t, len(fs), 4, "%s: %q", path, sc.Text())
		ns, err := strconv.ParseInt(fs[0], 10, 64)
		require.NoError(t, err)
		l := logLine{at: time.Unix(0, ns), group: fs[3]}
		switch fs[1] {
		case "start":
			_, twice := starts[fs[2]]
			require.False(t, twice, "%s: %s started twice", path, fs[2])
			starts[fs[2]] = l
		case "end":
			ends[fs[2]] = l
		default:
			t.Fatalf("%s: %q", path, sc.Text())
		}
	}
	require.NoError(t, sc.Err())
	return starts, ends
}

// waitFor polls cond until it holds, for at most d; state says what
// was seen last, when it fails.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s; %s", d, what, state())
		}
		time.Sleep(20 * time.Millisecond) // polling real processes, with a deadline
	}
}
