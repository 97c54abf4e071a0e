// Command fleet runs a whole afterhours fleet in one process: the fleet
// server of package server on a loopback listener, and 50 agents, each an
// Executor linked to the server with package agentlink, over a simulated
// week on a fast clock, so that a newcomer sees the whole system in a
// minute.
//
//	go run ./examples/fleet                  # a week in about a minute
//	go run ./examples/fleet -days 1 -speed 10000      # a day in about 9 s
//
// The clients are spread over three sites in three zones (London, New
// York, Tokyo), open 07:00-23:00 every day: each night, 23:00-07:00 local,
// is a maintenance window. Every client runs three housekeeping tasks a
// night and fetches packages in its slot of the shared package repository
// (capacity 10 clients at once), whose base the server allocates. The
// tasks are Go actions that take simulated time and fail now and then
// (-fail runs in 100, decided by a hash of -seed, the client and the run's
// id, so that the same flags inject failures into the same runs). Midway,
// an operator's command is queued for the sites tagged "uk". Every 6
// simulated hours the example prints the fleet's status as the admin API
// gives it, and at the end a summary read from the agents' journals:
// housekeeping runs completed and failed, whether every client ran all its
// due housekeeping (and, for any that did not, why), the command's runs,
// and the shared repository's peak load against its capacity, measured
// from the runs themselves.
//
// The clock runs -speed times faster than real time (default 10080: a week
// in 60 seconds) from Monday 23 November 2026 12:30 UTC; the executors,
// their actions and the links' retries follow it. The server reads its
// instants from the same clock but waits its long-polls in real time (see
// serverClock). The operator's command is a real process (/bin/true), since
// commands come from the server as command lines. The agents' tasks run Go
// actions, which agentlink.WithPrepare sets on every profile they get.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/afterhours-go/afterhours/server"
)

// simStart is when the simulation starts: a Monday, in business hours at
// every site, before the night's windows of Tokyo (14:00-22:00 UTC), London
// (23:00-07:00 UTC) and New York (04:00-12:00 UTC): each simulated day
// holds a whole window of each site.
var simStart = time.Date(2026, 11, 23, 12, 30, 0, 0, time.UTC)

// statusEvery is how often, in simulated time, the status is printed.
const statusEvery = 6 * time.Hour

// adminToken is the admin's token of the in-process server.
const adminToken = "example-fleet-admin-token-0123456789"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// options are the example's flags.
type options struct {
	days   int
	speed  float64
	agents int
	seed   uint64
	fail   int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.days, "days", 7, "how many days to simulate")
	fs.Float64Var(&o.speed, "speed", 7*24*60, "how many times faster than real time the clock runs (10080: a week in a minute)")
	fs.IntVar(&o.agents, "agents", 50, "how many agents")
	fs.Uint64Var(&o.seed, "seed", 1, "the seed of the injected failures")
	fs.IntVar(&o.fail, "fail", 5, "how many runs in 100 fail")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	switch {
	case o.days < 1:
		return fmt.Errorf("-days %d: want 1 or more", o.days)
	case !(o.speed >= 1):
		return fmt.Errorf("-speed %v: want 1 or more", o.speed)
	case o.agents < 1 || o.agents > 1000:
		return fmt.Errorf("-agents %d: want 1 to 1000", o.agents)
	case o.fail < 0 || o.fail > 100:
		return fmt.Errorf("-fail %d: want 0 to 100", o.fail)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	clk := newFastClock(simStart, o.speed)

	// The server, on a loopback listener.
	h, err := server.New(server.NewMemStore(), server.WithClock(serverClock{clk}), server.WithAdminToken(adminToken, server.RoleAdmin))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stopServer := context.WithCancel(context.Background())
	srv := &http.Server{Handler: h, BaseContext: func(net.Listener) context.Context { return sctx }}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		stopServer() // long-polls answer at once
		srv.Shutdown(context.Background())
		<-served
	}()
	base := "http://" + ln.Addr().String()
	admin := &adminClient{base: base}
	if err := admin.do("PUT", "/v1/config", fleetConfig(), nil); err != nil {
		return fmt.Errorf("config: %w", err)
	}

	// Register the clients, then enrol an agent for each.
	m := &meter{}
	agents := make([]*simAgent, o.agents)
	for i := range agents {
		id := fmt.Sprintf("shop-%03d", i)
		body, _ := json.Marshal(server.Client{Site: sites[i%len(sites)].name})
		var reg struct{ Code string }
		if err := admin.do("PUT", "/v1/clients/"+id, body, &reg); err != nil {
			return fmt.Errorf("register %s: %w", id, err)
		}
		if agents[i], err = newSimAgent(ctx, base, reg.Code, clk, o.seed, o.fail, m, log); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "fleet: server at %s, %d agents in %d sites, %d day(s) from %s at %v× real time\n",
		base, o.agents, len(sites), o.days, simStart.Format(time.RFC3339), o.speed)

	// Run them all on the clock, from simStart.
	clk.begin()
	end := simStart.Add(time.Duration(o.days) * 24 * time.Hour)
	actx, stopAgents := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Go(func() { a.run(actx, log) })
	}
	commandAt := simStart.Add(time.Duration(o.days) * 12 * time.Hour)
	const commandID, commandTag = "restart-printers", "uk"
	var commandFor []string
	realStart := time.Now()
	for next := simStart.Add(statusEvery); ; next = next.Add(statusEvery) {
		next = minTime(next, end)
		if commandFor == nil && !commandAt.After(next) {
			if err := waitUntil(ctx, clk, commandAt); err != nil {
				break
			}
			body, _ := json.Marshal(map[string]any{"id": commandID, "run": []string{"/bin/true"}, "timeout": "24h", "tags": []string{commandTag}})
			var q struct{ Clients []string }
			if err := admin.do("POST", "/v1/commands", body, &q); err != nil {
				stopAgents()
				wg.Wait()
				return fmt.Errorf("command: %w", err)
			}
			commandFor = q.Clients
			fmt.Fprintf(stdout, "[%s] operator: command %s queued for tag %q: %d clients\n", stamp(commandAt), commandID, commandTag, len(q.Clients))
		}
		if err := waitUntil(ctx, clk, next); err != nil {
			break
		}
		if err := printStatus(stdout, admin, m, next); err != nil {
			fmt.Fprintln(stderr, "fleet: status:", err)
		}
		if !next.Before(end) {
			break
		}
	}
	now := clk.Now()
	stopAgents()
	wg.Wait()
	// Interrupted (Ctrl-C), the example still prints the summary so far.
	summary(stdout, agents, m, now, commandID, commandTag, commandFor, time.Since(realStart))
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// waitUntil waits until the clock reads t, or ctx ends.
func waitUntil(ctx context.Context, clk *fastClock, t time.Time) error {
	for {
		d := t.Sub(clk.Now())
		if d <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clk.After(d):
		}
	}
}

func stamp(t time.Time) string { return t.UTC().Format("Mon 02 Jan 15:04 UTC") }

// adminClient calls the server's admin API.
type adminClient struct{ base string }

func (c *adminClient) do(method, path string, body []byte, out any) error {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// printStatus prints a line of the fleet's status, as the admin API gives
// it: the clients by state (from their last reports), the counts of their
// newest reported cycles, the failed list's size, and the shared
// repository's peak load so far.
func printStatus(w io.Writer, admin *adminClient, m *meter, at time.Time) error {
	var st []server.ClientStatus
	if err := admin.do("GET", "/v1/status", nil, &st); err != nil {
		return err
	}
	var failed []server.ClientFailures
	if err := admin.do("GET", "/v1/failed", nil, &failed); err != nil {
		return err
	}
	onList := map[string]bool{}
	for _, f := range failed {
		onList[f.Client] = true
	}
	var ok, failing, killed, silent, completed, failedRuns int
	for _, c := range st {
		switch {
		case c.LastSeen.IsZero():
			silent++
		case c.Last != nil && c.Last.Killed:
			killed++
		case onList[c.Client]:
			failing++
		default:
			ok++
		}
		if c.Last != nil {
			completed += c.Last.Counts["completed"]
			failedRuns += c.Last.Counts["failed"]
		}
	}
	_, peak, _ := m.load(sharedCapacity)
	fmt.Fprintf(w, "[%s] clients: %d ok, %d with failures, %d killed, %d never seen | last reported cycles: %d completed, %d failed | failed list: %d clients | %s peak %d/%d\n",
		stamp(at), ok, failing, killed, silent, completed, failedRuns, len(failed), sharedToken, peak, sharedCapacity)
	return nil
}

// summary prints what the agents' journals and the meter say at the end.
func summary(w io.Writer, agents []*simAgent, m *meter, now time.Time, commandID, tag string, commandFor []string, took time.Duration) {
	var completed, failed, injected, done, ran int
	var missed []string
	deferred := map[string]int{}
	for _, a := range agents {
		t := a.count(simStart, now)
		for why, n := range t.sharedDeferred {
			deferred[why] += n
		}
		if t.missed != "" {
			missed = append(missed, a.id+": "+strings.TrimSpace(t.missed))
		}
		completed += t.completed
		failed += t.failed
		injected += t.injected
		if t.done {
			done++
		}
		if t.commands[commandID] {
			ran++
		}
	}
	runs, peak, over := m.load(sharedCapacity)
	fmt.Fprintf(w, "summary at %s (%s of real time):\n", stamp(now), took.Round(time.Millisecond))
	fmt.Fprintf(w, "  housekeeping runs: %d completed, %d failed (%d of them injected)\n", completed, failed, injected)
	fmt.Fprintf(w, "  clients that ran all their due housekeeping: %d/%d\n", done, len(agents))
	for _, m := range missed {
		fmt.Fprintf(w, "    missed: %s\n", m)
	}
	fmt.Fprintf(w, "  %s: %d runs, peak %d clients at once, capacity %d, minutes over capacity: %d\n", sharedToken, runs, peak, sharedCapacity, over)
	for _, why := range slices.Sorted(maps.Keys(deferred)) {
		fmt.Fprintf(w, "    %s deferred: %d (%s)\n", sharedToken, deferred[why], why)
	}
	if commandFor == nil {
		fmt.Fprintf(w, "  command %s: not queued (the run ended first)\n", commandID)
	} else {
		fmt.Fprintf(w, "  command %s (tag %q): completed on %d of %d clients\n", commandID, tag, ran, len(commandFor))
	}
	if want := clientsOf(agents, tag); commandFor != nil && len(want) != len(commandFor) {
		fmt.Fprintf(w, "  (the server chose %d clients, the sites tagged %q have %d)\n", len(commandFor), tag, len(want))
	}
}
