package e2e_test

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/server"
	"github.com/stretchr/testify/require"
)

// TestWeekOfFleet is issue 12's acceptance: a server on the bbolt store
// behind the real HTTP stack, fleetSize agents in three zones on one
// manual clock, a week simulated with commands queued through the admin
// API and the server stopped and started again on the same file on day 3;
// then every client's housekeeping ran in its own window every day, no
// minute had more clients in the pkg-repo token's slot than its capacity
// (nor on one LAN than its lan_capacity), every command ran once on each
// of its clients and was acknowledged, every failure reached the server
// once, and the restart lost nothing.
func TestWeekOfFleet(t *testing.T) {
	s := newSim(t, fleetSize)
	exe, err := os.Executable()
	require.NoError(t, err)
	cmdLog := filepath.Join(t.TempDir(), "commands.log")
	var cmds []queuedCommand
	queue := func(id string, clients, tags []string) {
		t.Helper()
		var q struct {
			ID      string   `json:"id"`
			Clients []string `json:"clients"`
		}
		s.srv.admin(http.MethodPost, "/v1/commands", server.NewCommand{ID: id,
			Run: []string{exe, helperArg, cmdLog, id}, Clients: clients, Tags: tags}, &q)
		require.Equal(t, id, q.ID)
		require.NotEmpty(t, q.Clients)
		cmds = append(cmds, queuedCommand{id: id, clients: q.Clients})
	}
	someOfEachSite := func(n int) []string {
		var ids []string
		for i, a := range s.agents {
			if i/len(sites) < n {
				ids = append(ids, a.id)
			}
		}
		return ids
	}

	s.runUntil(simStart.Add(2 * time.Hour))
	queue("flush-dns", someOfEachSite(3), nil)
	s.runUntil(simStart.Add(26 * time.Hour))
	queue("rotate-keys-nepal", nil, []string{"nepal"})
	s.runUntil(restartAt)

	// The restart: a command queued just before it reaches some agents
	// and not others, or is run and not yet acknowledged; the server goes
	// down (connections cut), the agents retry on the clock, and a new
	// server on the same file takes over.
	queue("restart-across-uk", nil, []string{"uk"})
	var before snapshot
	ranBefore := 0
	s.srv.stop(func() {
		before = s.snapshot()
		ranBefore = countHaving(s, "restart-across-uk")
	})
	s.quiet()
	s.runUntil(restartAt.Add(restartDown))
	s.srv.start()
	after := s.snapshot()
	requireNothingLost(t, before, after)
	s.runUntil(restartAt.Add(2 * time.Hour))
	requireAllBack(t, s, restartAt.Add(restartDown))
	acked := 0
	for _, cs := range before.commands {
		for _, c := range cs {
			if c.ID == "restart-across-uk" && c.State != server.CommandQueued {
				acked++
			}
		}
	}
	t.Logf("restart-across-uk: when the server stopped, %d of its %d clients had it and %d had acknowledged it",
		ranBefore, len(cmds[len(cmds)-1].clients), acked)

	queue("late-audit", someOfEachSite(2), nil)
	s.runUntil(simEnd)
	t.Logf("%d agents, %d steps of the clock, %v waiting for quiet", len(s.agents), s.steps, s.quietTime)

	// Everything below reads what the agents did (their journals) and what
	// they reported (the server's store), once they have stopped.
	s.stopAgents()
	checkHousekeepingInWindows(t, s)
	checkSlotCapacity(t, s)
	checkCommands(t, s, cmds, readCommandLog(t, cmdLog))
	checkReports(t, s)
}

// countHaving returns how many agents' executors have accepted the
// command of the given id.
func countHaving(s *sim, id string) int {
	n := 0
	for _, a := range s.agents {
		st := a.exec.Status()
		if slices.ContainsFunc(st.Queued, func(c afterhours.Command) bool { return c.ID == id }) {
			n++
			continue
		}
	journal:
		for _, cj := range a.exec.Journal() {
			for _, r := range cj.Records {
				if r.Command == id {
					n++
					break journal
				}
			}
		}
	}
	return n
}

// requireAllBack checks that every agent was heard from by the new server
// (GET /v1/status) after it started at back: the agents retried on the
// shared clock and found it.
func requireAllBack(t *testing.T, s *sim, back time.Time) {
	t.Helper()
	var status []server.ClientStatus
	s.srv.admin(http.MethodGet, "/v1/status", nil, &status)
	require.Len(t, status, len(s.agents))
	for _, st := range status {
		require.False(t, st.LastSeen.Before(back), "%s last seen %v, before the restart", st.Client, st.LastSeen)
	}
}

type queuedCommand struct {
	id      string
	clients []string
}

// readCommandLog counts the runs of each command the helper logged.
func readCommandLog(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	runs := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, run, ok := strings.Cut(sc.Text(), " ")
		require.True(t, ok, "log line %q", sc.Text())
		require.Contains(t, run, "/"+id+"#", "AFTERHOURS_RUN of %s", id)
		runs[id]++
	}
	require.NoError(t, sc.Err())
	return runs
}

// snapshot is what the server holds of every client: its stored reports
// and its commands with their states.
type snapshot struct {
	reports  map[string][]server.StoredReport
	commands map[string][]server.QueuedCommand
}

func (s *sim) snapshot() snapshot {
	s.t.Helper()
	f := s.srv.h.Fleet()
	snap := snapshot{reports: map[string][]server.StoredReport{}, commands: map[string][]server.QueuedCommand{}}
	for _, a := range s.agents {
		rs, err := f.Reports(a.id)
		require.NoError(s.t, err)
		snap.reports[a.id] = rs
		cs, err := f.Commands(a.id, false)
		require.NoError(s.t, err)
		snap.commands[a.id] = cs
	}
	return snap
}

// requireNothingLost checks that the server started again on the same
// file has every report and command, in the same state, that the one
// stopped had.
func requireNothingLost(t *testing.T, before, after snapshot) {
	t.Helper()
	nReports, nCommands := 0, 0
	for id, rs := range before.reports {
		require.Equal(t, rs, after.reports[id], "reports of %s", id)
		nReports += len(rs)
	}
	for id, cs := range before.commands {
		require.Equal(t, len(cs), len(after.commands[id]), "commands of %s", id)
		for i, c := range cs {
			a := after.commands[id][i]
			require.Equal(t, c.ID, a.ID)
			require.Equal(t, c.State, a.State, "command %s of %s", c.ID, id)
			require.True(t, c.Queued.Equal(a.Queued) && c.Acked.Equal(a.Acked), "command %s of %s", c.ID, id)
		}
		nCommands += len(cs)
	}
	require.NotZero(t, nReports)
	require.NotZero(t, nCommands)
}
