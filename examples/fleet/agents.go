package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/agentlink"
)

// sites are the fleet's three sites, in three zones; the clients are
// spread over them in turn.
var sites = []struct{ name, zone, tag string }{
	{"london", "Europe/London", "uk"},
	{"newyork", "America/New_York", "us"},
	{"tokyo", "Asia/Tokyo", "jp"},
}

// Capacity of the shared package repository: at most this many clients
// fetch at once.
const (
	sharedToken    = "pkg-repo"
	sharedCapacity = 10
)

// work is how long each task's simulated run takes, on the fast clock.
var work = map[string]time.Duration{
	"rotate-logs":    2 * time.Minute,
	"vacuum-db":      15 * time.Minute,
	"check-disk":     4 * time.Minute,
	"fetch-packages": 5 * time.Minute,
}

// fleetConfig is the server's config: every site is open 07:00-23:00 every
// day, so each night 23:00-07:00 local is a window; one sharing token with
// a capacity; housekeeping for every site. The command lines are those a
// real fleet would run; the example's agents replace them by Go actions.
func fleetConfig() []byte {
	hours := map[string][]string{}
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		hours[d] = []string{"07:00-23:00"}
	}
	var ss []map[string]any
	for _, s := range sites {
		ss = append(ss, map[string]any{"name": s.name, "timezone": s.zone, "tags": []string{s.tag, "retail"}, "business_hours": hours})
	}
	task := func(name, estimate string, uses ...string) map[string]any {
		return map[string]any{"name": name, "run": []string{"/bin/true"}, "estimate": estimate, "timeout": "6h", "uses": uses}
	}
	cfg := map[string]any{
		"sites": ss,
		"sharing": []map[string]any{{"token": sharedToken, "zone": "UTC", "duration": "20m", "buffer": "5m",
			"capacity": sharedCapacity, "uses": []string{"network"},
			"tasks": []map[string]any{task("fetch-packages", "5m", "network")}}},
		"sets": []map[string]any{{"name": "base", "housekeeping": []map[string]any{
			task("rotate-logs", "2m", "disk"), task("vacuum-db", "20m", "db"), task("check-disk", "5m", "disk")}}},
	}
	data, _ := json.Marshal(cfg)
	return data
}

// housekeepingTasks is how many housekeeping tasks fleetConfig gives.
const housekeepingTasks = 3

// errInjected is the failure the example injects.
var errInjected = errors.New("injected failure")

// failing decides, deterministically from the seed, the client and the
// run's id (cycle/task#attempt), whether a run fails: rate runs in 100.
func failing(seed uint64, client, run string, rate int) bool {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%s", seed, client, run)
	return int(h.Sum64()%100) < rate
}

// meter records the runs of the shared token's tasks on the fast clock,
// to check the capacity against what ran (not against the plan).
type meter struct {
	mu   sync.Mutex
	runs []afterhours.Interval
}

func (m *meter) add(iv afterhours.Interval) {
	m.mu.Lock()
	m.runs = append(m.runs, iv)
	m.mu.Unlock()
}

// load returns how many runs there were, the most that ran in one minute,
// and how many minutes had more than capacity.
func (m *meter) load(capacity int) (runs, peak, over int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	perMinute := map[time.Time]int{}
	for _, iv := range m.runs {
		for t := iv.Start.Truncate(time.Minute); t.Before(iv.End); t = t.Add(time.Minute) {
			perMinute[t]++
		}
	}
	for _, n := range perMinute {
		peak = max(peak, n)
		if n > capacity {
			over++
		}
	}
	return len(m.runs), peak, over
}

// simAction is a task's simulated run: it takes the task's work time on
// the fast clock, then fails when failing says so. Runs of the shared
// token's task are recorded in the meter.
type simAction struct {
	clk    *fastClock
	client string
	task   string
	seed   uint64
	rate   int
	meter  *meter
}

func (a simAction) Run(ctx context.Context) error {
	if a.meter != nil {
		start := a.clk.Now()
		defer func() { a.meter.add(afterhours.Interval{Start: start, End: a.clk.Now()}) }()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-a.clk.After(work[a.task]):
	}
	ri, _ := afterhours.RunInfoFrom(ctx)
	if failing(a.seed, a.client, ri.Run, a.rate) {
		return errInjected
	}
	return nil
}

// simAgent is an in-process agent: an executor on a memory store with Go
// actions, and its link to the server.
type simAgent struct {
	id   string
	site string
	exec *afterhours.Executor
	link *agentlink.Link
}

// newSimAgent enrols with code, fetches the client's profile, gives its
// tasks simulated actions and wires the executor and the link.
func newSimAgent(ctx context.Context, base, code string, clk *fastClock, seed uint64, rate int, m *meter, log *slog.Logger) (*simAgent, error) {
	creds, err := agentlink.Enroll(ctx, base, code, nil)
	if err != nil {
		return nil, err
	}
	data, _, err := fetchProfile(ctx, creds)
	if err != nil {
		return nil, fmt.Errorf("%s: profile: %w", creds.Client, err)
	}
	// The tasks run simulated work: Go actions set on every profile the
	// agent gets, the first and each the link fetches.
	prepare := func(p *afterhours.Profile) error {
		for _, t := range p.Housekeeping {
			t.Action = simAction{clk: clk, client: creds.Client, task: t.Name, seed: seed, rate: rate}
		}
		for _, tok := range p.Sharing {
			for _, t := range tok.Tasks {
				t.Action = simAction{clk: clk, client: creds.Client, task: t.Name, seed: seed, rate: rate, meter: m}
			}
		}
		return p.Validate()
	}
	var p afterhours.Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s: profile: %w", creds.Client, err)
	}
	if err := prepare(&p); err != nil {
		return nil, fmt.Errorf("%s: profile: %w", creds.Client, err)
	}
	store := afterhours.NewMemoryStore()
	e, err := afterhours.NewExecutor(&p, afterhours.WithClock(clk), afterhours.WithStore(store), afterhours.WithLogger(log))
	if err != nil {
		return nil, err
	}
	l, err := agentlink.New(e, store, creds, agentlink.WithClock(clk), agentlink.WithLogger(log), agentlink.WithPrepare(prepare))
	if err != nil {
		return nil, err
	}
	return &simAgent{id: creds.Client, site: p.Site.Name, exec: e, link: l}, nil
}

// fetchProfile gets the client's profile and its ETag.
func fetchProfile(ctx context.Context, creds agentlink.Credentials) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, creds.Server+"/v1/agent/clients/"+creds.Client+"/profile", nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+creds.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%s: %s", resp.Status, data)
	}
	return data, resp.Header.Get("ETag"), nil
}

// run runs the executor and the link until ctx ends.
func (a *simAgent) run(ctx context.Context, log *slog.Logger) {
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := a.link.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("link stopped", "client", a.id, "err", err)
		}
	})
	if err := a.exec.Run(ctx); err != nil {
		log.Error("executor stopped", "client", a.id, "err", err)
	}
	wg.Wait()
}

// tally is what an agent's journal says at the end.
type tally struct {
	completed, failed, injected int // housekeeping runs
	// done: every housekeeping task due so far ran, and every one of at
	// least one cycle did.
	done bool
	// missed says why a due housekeeping task did not run, when one did not.
	missed   string
	commands map[string]bool
	// sharedDeferred counts the shared task's deferrals by reason, in the
	// cycles counted.
	sharedDeferred map[string]int
}

// count reads the agent's journal as of now, the agent having started at
// from: a housekeeping record is due when its cycle's window has ended
// after from and it did not run. The cycle under way when the agent
// started, whose window was over, is not counted.
func (a *simAgent) count(from, now time.Time) tally {
	t := tally{done: true, commands: map[string]bool{}, sharedDeferred: map[string]int{}}
	full := false
	for _, cj := range a.exec.Journal() {
		if !cj.Window.End.After(from) {
			continue
		}
		ran, due := 0, 0
		for _, r := range cj.Records {
			switch {
			case r.Kind == afterhours.CommandKind && r.State == afterhours.StateCompleted:
				t.commands[r.Command] = true
			case r.Kind == afterhours.Shared && r.State == afterhours.StateDeferred:
				t.sharedDeferred[r.Reason]++
			case r.Kind != afterhours.Housekeeping:
			case r.State == afterhours.StateDeferred && (r.Reason == afterhours.ReasonDone || r.Reason == afterhours.ReasonFailed):
				// Its run of the cycle is recorded too: a profile applied
				// after it ran planned the cycle again and found it done.
			case r.State == afterhours.StateCompleted:
				t.completed++
				ran++
				due++
			case r.State == afterhours.StateFailed:
				t.failed++
				if r.Error == errInjected.Error() {
					t.injected++
				}
				ran++
				due++
			case !cj.Window.End.After(now):
				due++ // its window is over and it did not run
				if t.missed == "" {
					t.missed = fmt.Sprintf("%s of %s: %s %s %s", r.Task, cj.Day, r.State, r.Reason, r.Detail)
				}
			}
		}
		if due > ran {
			t.done = false
		}
		if ran > 0 && ran == due && ran == housekeepingTasks {
			full = true
		}
	}
	t.done = t.done && full
	return t
}

// clientsOf returns the ids of the agents at the sites whose tag is tag.
func clientsOf(agents []*simAgent, tag string) []string {
	var ids []string
	for i, a := range agents {
		if sites[i%len(sites)].tag == tag {
			ids = append(ids, a.id)
		}
	}
	slices.Sort(ids)
	return ids
}
