package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/afterhours-go/afterhours/internal/testenv"
	"github.com/afterhours-go/afterhours/server"
)

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m)) }

// replicasConfig is a fleet of one site whose sharing token has room for
// every agent of the test.
const replicasConfig = `{
  "sites": [{"name": "leeds", "timezone": "Europe/London", "tags": ["retail"],
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"]}}],
  "sharing": [{"token": "pkg-repo", "zone": "UTC", "duration": "10m", "capacity": 100}],
  "sets": [{"name": "base", "housekeeping": [{"name": "rotate-logs", "run": ["/usr/sbin/logrotate"], "estimate": "2m"}]}]
}`

// replicaProc is an `afterhours serve -etcd` process.
type replicaProc struct {
	name    string
	cmd     *exec.Cmd
	addr    string
	log     *syncBuffer
	exited  chan struct{}
	leading atomic.Bool // as its log last said
}

func (r *replicaProc) base() string { return "http://" + r.addr }

// startReplica runs the serve command of bin with args and waits for its
// start line; it follows its log for the lines that say it leads or
// stopped leading.
func startReplica(t *testing.T, bin, name string, args ...string) *replicaProc {
	t.Helper()
	r := &replicaProc{name: name, cmd: exec.Command(bin, append([]string{"serve"}, args...)...), log: &syncBuffer{}, exited: make(chan struct{})}
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrs := make(chan string, 1)
	addrRE := regexp.MustCompile(`listening" addr=(\S+)`)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(r.log, line)
			switch {
			case strings.Contains(line, "leading the fleet's replicas") && !strings.Contains(line, "stopped"):
				r.leading.Store(true)
			case strings.Contains(line, "stopped leading"):
				r.leading.Store(false)
			}
			if m := addrRE.FindStringSubmatch(line); m != nil {
				addrs <- m[1]
			}
		}
		r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(30 * time.Second):
			r.cmd.Process.Kill()
			<-r.exited
		}
		if t.Failed() {
			t.Logf("%s's log:\n%s", r.name, r.log)
		}
	})
	select {
	case r.addr = <-addrs:
	case <-r.exited:
		t.Fatalf("%s ended before listening:\n%s", name, r.log)
	case <-time.After(time.Minute):
		t.Fatalf("%s: no start line within a minute:\n%s", name, r.log)
	}
	return r
}

// theLeader waits until exactly one of the running replicas says it leads.
func theLeader(t *testing.T, reps []*replicaProc) *replicaProc {
	t.Helper()
	var leader *replicaProc
	waitFor(t, "one leader among the replicas", func() bool {
		leader = nil
		n := 0
		for _, r := range reps {
			if r.leading.Load() {
				leader, n = r, n+1
			}
		}
		return n == 1
	})
	return leader
}

// follower is the Leadership of a fleet the test opens only to read.
type follower struct{}

func (follower) Leader() (bool, string)   { return false, "" }
func (follower) Changed() <-chan struct{} { return nil }

// TestServeReplicas is the acceptance test of `afterhours serve -etcd`:
// three replica processes on one etcd, behind a round-robin balancer;
// agents (direct HTTP clients of the agent API) enrol, long-poll their
// profiles and commands, acknowledge the commands and post reports, while
// clients keep registering; the leader is killed with SIGKILL midway. Then
// every agent has its profile, with the same ETag from every replica; no
// client's base moved and none has two; every command ran once, none was
// delivered after its acknowledgement was stored; every report the server
// answered for is there, on every replica. It logs the failover time: from
// the SIGKILL to the first allocating write a new leader accepted.
func TestServeReplicas(t *testing.T) {
	gotool := goTool()
	testenv.Require(t, gotool != "", "the go command is needed to build the binary")
	endpoints := etcdtest.Endpoints(t)
	prefix := etcdtest.Prefix(t)
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "afterhours")
	if out, err := exec.Command(gotool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const admin = "admin-token-0123456789abcdef"
	tokens := filepath.Join(tmp, "tokens")
	writeTokens(t, tokens, "admin "+admin+"\n", 0o600)
	var reps []*replicaProc
	for i := range 3 {
		reps = append(reps, startReplica(t, bin, fmt.Sprintf("replica-%d", i),
			"-data", filepath.Join(tmp, fmt.Sprintf("data-%d", i)), "-tokens", tokens, "-listen", "127.0.0.1:0",
			"-etcd", strings.Join(endpoints, ","), "-etcd-prefix", prefix, "-etcd-lease-ttl", "2s"))
	}
	leader := theLeader(t, reps)
	var bases []string
	for _, r := range reps {
		bases = append(bases, r.base())
	}
	lb := httptest.NewServer(newBalancer(bases))
	defer lb.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4096
	c := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	op := newSimAgent(c, lb.URL, "") // the operator, through the balancer
	if _, err := op.retry(ctx, http.StatusOK, "PUT", "/v1/config", admin, replicasConfig); err != nil {
		t.Fatal(err)
	}

	n := replicaAgents
	agents := make([]*simAgent, n)
	for i := range agents {
		agents[i] = newSimAgent(c, lb.URL, fmt.Sprintf("shop-%04d", i))
	}
	// register registers and enrols agents[from:to], 16 at a time; an
	// agent whose code was spent by an enrolment whose answer was lost is
	// registered again.
	var reenrolled atomic.Int64
	register := func(from, to int) error {
		var wg sync.WaitGroup
		errs := make(chan error, to-from)
		next := atomic.Int64{}
		next.Store(int64(from))
		for range 16 {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < to; i = int(next.Add(1)) - 1 {
					a := agents[i]
					for attempt := 1; ; attempt++ {
						data, err := op.retry(ctx, http.StatusOK, "PUT", "/v1/clients/"+a.id, admin, `{"site":"leeds"}`)
						if err != nil {
							errs <- err
							return
						}
						var reg struct{ Code string }
						if err := json.Unmarshal(data, &reg); err != nil {
							errs <- err
							return
						}
						err = a.enrol(ctx, reg.Code)
						if errors.Is(err, errCodeUsed) && attempt < 3 {
							reenrolled.Add(1)
							continue
						}
						if err != nil {
							errs <- err
							return
						}
						break
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	actx, stopAgents := context.WithCancel(ctx)
	var running sync.WaitGroup
	defer func() { stopAgents(); running.Wait() }()
	startAgents := func(from, to int) {
		for _, a := range agents[from:to] {
			running.Go(func() { a.pollProfile(actx) })
			running.Go(func() { a.pollCommands(actx) })
		}
	}
	// queue queues a command for the agents[from:to].
	queue := func(id string, from, to int) []string {
		var ids []string
		for _, a := range agents[from:to] {
			ids = append(ids, a.id)
		}
		body, _ := json.Marshal(map[string]any{"id": id, "run": []string{"/bin/true"}, "clients": ids})
		data, err := op.retry(ctx, http.StatusOK, "POST", "/v1/commands", admin, string(body))
		if err != nil {
			t.Fatal(err)
		}
		var q struct{ Clients []string }
		if err := json.Unmarshal(data, &q); err != nil {
			t.Fatal(err)
		}
		return q.Clients
	}
	// reportAll posts a report of cycle with seq for agents[from:to].
	reportAll := func(from, to int, cycle string, seq int64) error {
		var wg sync.WaitGroup
		errs := make(chan error, to-from)
		for w := range 32 {
			wg.Go(func() {
				for i := from + w; i < to; i += 32 {
					if err := agents[i].report(ctx, cycle, seq); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}

	// The first half joins and runs; a command for all of them.
	began := time.Now()
	half := n / 2
	if err := register(0, half); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d clients registered and enrolled through the balancer in %v", half, time.Since(began))
	startAgents(0, half)
	cmd1 := queue("cmd-1", 0, half)
	if len(cmd1) != half {
		t.Fatalf("cmd-1 was queued for %d clients, want %d", len(cmd1), half)
	}
	before := placements(t, c, reps[0].base(), admin)

	// Midway: the second half registers, the first reports, and the
	// leader is killed with SIGKILL while that goes on.
	secondDone := make(chan error, 1)
	go func() { secondDone <- register(half, n) }()
	reportsDone := make(chan error, 1)
	go func() { reportsDone <- reportAll(0, half, "2026-11-24", 1) }()
	waitFor(t, "registrations of the second half", func() bool { return countEnrolled(agents[half:]) >= (n-half)/4 })
	killed := time.Now()
	if err := leader.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-leader.exited
	// The failover: until a new leader accepts an allocating write.
	if _, err := op.retry(ctx, http.StatusOK, "PUT", "/v1/clients/probe", admin, `{"site":"leeds"}`); err != nil {
		t.Fatal(err)
	}
	failover := time.Since(killed)
	var alive []*replicaProc
	for _, r := range reps {
		if r != leader {
			alive = append(alive, r)
		}
	}
	newLeader := theLeader(t, alive)
	t.Logf("failover: %v from the SIGKILL of %s to the first allocating write accepted (new leader %s; lease TTL 2s)", failover, leader.name, newLeader.name)
	if err := <-secondDone; err != nil {
		t.Fatal(err)
	}
	if err := <-reportsDone; err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: the second half registered, the first half's reports stored (%d agents registered again: their enrolment's answer was lost)", time.Since(began), reenrolled.Load())
	startAgents(half, n)
	cmd2 := queue("cmd-2", half, n)
	if len(cmd2) != n-half {
		t.Fatalf("cmd-2 was queued for %d clients, want %d", len(cmd2), n-half)
	}
	if err := reportAll(half, n, "2026-11-24", 1); err != nil {
		t.Fatal(err)
	}
	t.Logf("%v: the second half's reports stored", time.Since(began))
	waitFor(t, "every command run and its acknowledgement stored", func() bool {
		for i, a := range agents {
			a.mu.Lock()
			done := (i < half && a.ackStored["cmd-1"]) || (i >= half && a.ackStored["cmd-2"])
			a.mu.Unlock()
			if !done {
				return false
			}
		}
		return true
	})
	stopAgents()
	running.Wait()
	t.Logf("%d agents: done %v after the start", n, time.Since(began))

	checkProfiles(t, c, alive, agents)
	after := placements(t, c, alive[0].base(), admin)
	if other := placements(t, c, alive[1].base(), admin); !mapsEqual(after, other) {
		t.Errorf("the two replicas list different placements")
	}
	checkPlacements(t, before, after, n+1)
	checkCommands(t, agents, half)
	checkReports(t, endpoints, prefix, agents)
	for _, r := range alive {
		checkStatus(t, c, r, admin, agents)
	}
	for _, r := range alive {
		if !strings.Contains(r.log.String(), "listening") {
			t.Errorf("%s did not log its start", r.name)
		}
	}
	if !strings.Contains(newLeader.log.String(), "leading the fleet's replicas") {
		t.Errorf("the new leader did not log that it leads:\n%s", newLeader.log)
	}
}

func countEnrolled(agents []*simAgent) int {
	n := 0
	for _, a := range agents {
		a.mu.Lock()
		if a.token != "" {
			n++
		}
		a.mu.Unlock()
	}
	return n
}

// placements returns every client's placements as a replica lists them.
func placements(t *testing.T, c *http.Client, base, admin string) map[string]string {
	t.Helper()
	r := request(t, c, "GET", base+"/v1/clients", admin, "").want(t, http.StatusOK)
	var infos []server.ClientInfo
	if err := json.Unmarshal(r.body, &infos); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, in := range infos {
		p := in.Placements["pkg-repo"]
		out[in.ID] = p.Base + p.Unplaced
	}
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// checkPlacements: every client listed before the kill has the same base
// after it; every client has a base; no base holds more clients than the
// token's capacity (a client placed twice, by two leaders, would show).
func checkPlacements(t *testing.T, before, after map[string]string, want int) {
	t.Helper()
	if len(after) != want {
		t.Errorf("%d clients listed, want %d", len(after), want)
	}
	moved := 0
	for id, b := range before {
		if after[id] != b {
			moved++
			if moved <= 5 {
				t.Errorf("client %s moved from %q to %q", id, b, after[id])
			}
		}
	}
	perBase := map[string]int{}
	for id, b := range after {
		if !regexp.MustCompile(`^\d\d:\d\d$`).MatchString(b) {
			t.Errorf("client %s has no base: %q", id, b)
		}
		perBase[b]++
	}
	for b, k := range perBase {
		if k > 100 {
			t.Errorf("base %s holds %d clients, more than the capacity 100", b, k)
		}
	}
	t.Logf("placements: %d clients listed before the kill, %d moved; %d after, on %d bases", len(before), moved, len(after), len(perBase))
}

// checkProfiles: every agent's profile has the same ETag from every
// running replica, the one the agent holds.
func checkProfiles(t *testing.T, c *http.Client, alive []*replicaProc, agents []*simAgent) {
	t.Helper()
	// 16 at a time; each agent asks every replica directly.
	problems := make([]string, len(agents))
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < len(agents); i += 16 {
				a := agents[i]
				var tags []string
				for _, r := range alive {
					direct := newSimAgent(c, r.base(), a.id)
					st, tag, body, err := direct.do(context.Background(), "GET", "/v1/agent/clients/"+a.id+"/profile", a.token, "")
					if err != nil || st != http.StatusOK {
						problems[i] = fmt.Sprintf("%s: %s answers %d %s %v", a.id, r.name, st, body, err)
						break
					}
					tags = append(tags, tag)
				}
				if problems[i] == "" && (tags[0] == "" || slices.ContainsFunc(tags, func(s string) bool { return s != tags[0] }) || a.ETag() != tags[0]) {
					problems[i] = fmt.Sprintf("%s: ETags %q from the replicas, %q held by the agent", a.id, tags, a.ETag())
				}
			}
		})
	}
	wg.Wait()
	bad := 0
	for _, p := range problems {
		if p != "" {
			bad++
			if bad <= 5 {
				t.Error(p)
			}
		}
	}
	t.Logf("profiles: %d agents, each with one ETag from %d replicas; %d differ", len(agents), len(alive), bad)
}

// checkCommands: each command ran once on each agent it was for, and none
// was delivered after the server had stored its acknowledgement.
func checkCommands(t *testing.T, agents []*simAgent, half int) {
	t.Helper()
	redelivered := 0
	for i, a := range agents {
		a.mu.Lock()
		id := "cmd-2"
		if i < half {
			id = "cmd-1"
		}
		if a.ran[id] != 1 || len(a.ran) != 1 {
			t.Errorf("%s ran %v, want %s once", a.id, a.ran, id)
		}
		redelivered += a.delivered[id] - 1
		if len(a.afterAck) > 0 {
			t.Errorf("%s got %v again after the server stored its acknowledgement", a.id, a.afterAck)
		}
		a.mu.Unlock()
	}
	t.Logf("commands: each ran once; %d deliveries again before an acknowledgement was stored (at least once)", redelivered)
}

// checkReports: every report the server answered for is stored: for each
// cycle, the one of the highest sequence number.
func checkReports(t *testing.T, endpoints []string, prefix string, agents []*simAgent) {
	t.Helper()
	cli, err := etcd.Dial(endpoints)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	store, err := etcd.NewStore(cli, prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	f, err := server.OpenFleet(store, server.WithLeadership(follower{}))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lost, posted := 0, 0
	for _, a := range agents {
		reps, err := f.Reports(a.id)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, r := range reps {
			got[r.Cycle] = r.Seq
		}
		a.mu.Lock()
		for cycle, seq := range a.stored {
			posted++
			if got[cycle] != seq {
				lost++
				if lost <= 5 {
					t.Errorf("%s: cycle %s has seq %d stored, the server answered for %d", a.id, cycle, got[cycle], seq)
				}
			}
		}
		a.mu.Unlock()
	}
	t.Logf("reports: %d cycles' last reports answered for, %d lost", posted, lost)
}

// checkStatus: a replica's status lists every agent's last report, the
// one the server answered for.
func checkStatus(t *testing.T, c *http.Client, r *replicaProc, admin string, agents []*simAgent) {
	t.Helper()
	rep := request(t, c, "GET", r.base()+"/v1/status", admin, "").want(t, http.StatusOK)
	var st []server.ClientStatus
	if err := json.Unmarshal(rep.body, &st); err != nil {
		t.Fatal(err)
	}
	last := map[string]*server.StoredReport{}
	for _, s := range st {
		last[s.Client] = s.Last
	}
	bad := 0
	for _, a := range agents {
		a.mu.Lock()
		want := a.stored["2026-11-24"]
		a.mu.Unlock()
		if got := last[a.id]; got == nil || got.Cycle != "2026-11-24" || got.Seq != want {
			bad++
			if bad <= 5 {
				t.Errorf("%s lists %s's last report as %+v, want cycle 2026-11-24 seq %d", r.name, a.id, got, want)
			}
		}
	}
}
