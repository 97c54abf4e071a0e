package e2e_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/server"
	"github.com/stretchr/testify/require"
)

// fullCycles returns the site's cycles whose windows lie wholly in the
// simulated week, from the fleet config's own site.
func fullCycles(t *testing.T, site *afterhours.Site) []afterhours.Cycle {
	t.Helper()
	var out []afterhours.Cycle
	for d := afterhours.DateOf(simStart.In(site.Location())).AddDays(-1); ; d = d.AddDays(1) {
		c := site.Cycle(d)
		if c.Window.Start.After(simEnd) {
			return out
		}
		if !c.Window.Start.Before(simStart) && !c.Window.End.After(simEnd) {
			out = append(out, c)
		}
	}
}

func siteOf(t *testing.T, s *sim, name string) *afterhours.Site {
	t.Helper()
	site := s.srv.h.Fleet().Config().Site(name)
	require.NotNil(t, site, name)
	return site
}

// checkHousekeepingInWindows: every client ran each of its housekeeping
// tasks once in each cycle of the week, inside that cycle's window as its
// site's calendar gives it; the till report, due on Tuesday and Thursday
// mornings at the Kathmandu site, failed in the cycles before them and ran
// in no other.
func checkHousekeepingInWindows(t *testing.T, s *sim) {
	t.Helper()
	ran := 0
	for _, a := range s.agents {
		site := siteOf(t, s, a.site)
		journal := map[string]afterhours.CycleJournal{}
		for _, cj := range a.exec.Journal() {
			journal[cj.Day] = cj
		}
		cycles := fullCycles(t, site)
		require.GreaterOrEqual(t, len(cycles), 6, a.site)
		for _, c := range cycles {
			day := c.Day.String()
			cj, ok := journal[day]
			require.True(t, ok, "%s has no journal of cycle %s", a.id, day)
			require.True(t, cj.Window.Start.Equal(c.Window.Start) && cj.Window.End.Equal(c.Window.End),
				"%s %s: window %v, the site's %v", a.id, day, cj.Window, c.Window)
			want := []string{"rotate-logs", "vacuum-db"}
			till := a.site == "kathmandu" && (c.Day.Weekday() == time.Monday || c.Day.Weekday() == time.Wednesday)
			if till {
				want = append(want, "till-report")
			}
			var got []string
			for _, r := range cj.Records {
				if r.Kind != afterhours.Housekeeping || r.State == afterhours.StateDeferred {
					continue
				}
				got = append(got, r.Task)
				wantState := afterhours.StateCompleted
				if r.Task == "till-report" {
					wantState = afterhours.StateFailed
				}
				require.Equal(t, wantState, r.State, "%s %s %s: %s", a.id, day, r.Task, r.Error)
				require.False(t, r.Start.Before(c.Window.Start) || r.End.After(c.Window.End),
					"%s %s %s ran %v-%v outside its window %v", a.id, day, r.Task, r.Start, r.End, c.Window)
				ran++
			}
			slices.Sort(got)
			slices.Sort(want)
			require.Equal(t, want, got, "%s %s: the housekeeping runs", a.id, day)
		}
	}
	t.Logf("%d housekeeping runs, each in its window", ran)
}

// checkSlotCapacity: at no minute of the week did more clients run the
// pkg-repo token's task than its capacity, nor more of one LAN than its
// lan_capacity, read from the slot runs the agents reported to the server
// (the closed report of each cycle, server.Report.Shared), which must be
// those of their journals. A run takes the minutes from its start's to its
// end's (at least one).
func checkSlotCapacity(t *testing.T, s *sim) {
	t.Helper()
	f := s.srv.h.Fleet()
	load := map[time.Time]int{}
	lanLoad := map[string]int{}
	runs := 0
	for i, a := range s.agents {
		lan := fmt.Sprintf("%s-lan%d", a.site, i/len(sites)/lanSize)
		// The runs the agent reported (the closed report of each cycle),
		// which must be the runs of its journal.
		stored, err := f.Reports(a.id)
		require.NoError(t, err)
		reported := map[string][]server.SharedRun{}
		for _, r := range stored {
			if r.Closed {
				reported[r.Cycle] = r.Shared
			}
		}
		for _, cj := range a.exec.Journal() {
			if !cj.Closed {
				continue
			}
			var journal []server.SharedRun
			for _, r := range cj.Records {
				if r.Kind == afterhours.Shared && !r.Start.IsZero() {
					journal = append(journal, server.SharedRun{Task: r.Task, State: r.State, Start: r.Start.UTC(), End: r.End.UTC()})
				}
			}
			var got []server.SharedRun
			for _, sr := range reported[cj.Day] {
				sr.Start, sr.End = sr.Start.UTC(), sr.End.UTC()
				got = append(got, sr)
			}
			require.Equal(t, journal, got, "%s %s: the slot runs reported are the journal's", a.id, cj.Day)
			for _, r := range got {
				require.Equal(t, afterhours.StateCompleted, r.State, "%s %s %s", a.id, cj.Day, r.Task)
				runs++
				for m := r.Start.Truncate(time.Minute); ; m = m.Add(time.Minute) {
					load[m]++
					lanLoad[lan+" "+m.Format(time.RFC3339)]++
					if !m.Add(time.Minute).Before(r.End) {
						break
					}
				}
			}
		}
	}
	peak, lanPeak := 0, 0
	for m, n := range load {
		require.LessOrEqual(t, n, pkgCapacity, "pkg-repo at %v", m)
		peak = max(peak, n)
	}
	for k, n := range lanLoad {
		require.LessOrEqual(t, n, lanCapacity, "pkg-repo on %s", k)
		lanPeak = max(lanPeak, n)
	}
	require.GreaterOrEqual(t, runs, 6*len(s.agents), "each client fetched packages every day")
	t.Logf("%d pkg-repo runs; peak %d a minute (capacity %d), %d on one LAN (lan_capacity %d)", runs, peak, pkgCapacity, lanPeak, lanCapacity)
}

// checkCommands: each command ran exactly once on each of its clients (its
// helper's log and the client's journal agree), and the server has it
// acknowledged "accepted" (GET /v1/clients/{id}/commands).
func checkCommands(t *testing.T, s *sim, cmds []queuedCommand, logged map[string]int) {
	t.Helper()
	byID := map[string]*agent{}
	for _, a := range s.agents {
		byID[a.id] = a
	}
	for _, c := range cmds {
		if len(c.clients) != logged[c.id] {
			for _, id := range c.clients {
				for _, cj := range byID[id].exec.Journal() {
					for _, r := range cj.Records {
						if r.Command == c.id {
							t.Logf("%s %s %+v", id, cj.Day, r)
						}
					}
				}
			}
		}
		require.Equal(t, len(c.clients), logged[c.id], "runs of %s logged by its helper", c.id)
		for _, id := range c.clients {
			n := 0
			for _, cj := range byID[id].exec.Journal() {
				for _, r := range cj.Records {
					if r.Command == c.id {
						n++
						require.Equal(t, afterhours.StateCompleted, r.State, "%s on %s: %s", c.id, id, r.Error)
					}
				}
			}
			require.Equal(t, 1, n, "runs of %s on %s", c.id, id)
			var qs []server.QueuedCommand
			s.srv.admin(http.MethodGet, "/v1/clients/"+url.PathEscape(id)+"/commands", nil, &qs)
			i := slices.IndexFunc(qs, func(q server.QueuedCommand) bool { return q.ID == c.id })
			require.GreaterOrEqual(t, i, 0, "%s of %s on the server", c.id, id)
			require.Equal(t, server.CommandAccepted, qs[i].State, "%s of %s: %s", c.id, id, qs[i].Reason)
		}
	}
	t.Logf("%d commands, each run once on each of its clients and acknowledged", len(cmds))
}

// checkReports: the server holds a closed report of every cycle each
// agent closed, with the counts of its journal, and its failed list has
// each failed run of the cycle once.
func checkReports(t *testing.T, s *sim) {
	t.Helper()
	f := s.srv.h.Fleet()
	failures := map[string][]server.FailedRun{} // "client cycle" -> failed runs reported
	reports := 0
	for _, a := range s.agents {
		stored, err := f.Reports(a.id)
		require.NoError(t, err)
		byCycle := map[string]server.StoredReport{}
		for _, r := range stored {
			byCycle[r.Cycle] = r
		}
		for _, cj := range a.exec.Journal() {
			if !cj.Closed {
				continue
			}
			r, ok := byCycle[cj.Day]
			require.True(t, ok, "%s reported no cycle %s", a.id, cj.Day)
			require.True(t, r.Closed, "%s %s: the last report is of the closed cycle", a.id, cj.Day)
			counts := map[afterhours.State]int{}
			var failed []string
			for _, rec := range cj.Records {
				counts[rec.State]++
				if rec.State == afterhours.StateFailed {
					failed = append(failed, rec.Task+" "+rec.Start.UTC().Format(time.RFC3339))
				}
			}
			require.Equal(t, counts, r.Counts, "%s %s: counts", a.id, cj.Day)
			var got []string
			for _, fr := range r.Failed {
				got = append(got, fr.Task+" "+fr.Start.UTC().Format(time.RFC3339))
			}
			require.Equal(t, failed, got, "%s %s: the failed list has each failure once", a.id, cj.Day)
			if len(r.Failed) > 0 {
				failures[a.id+" "+cj.Day] = r.Failed
			}
			reports++
		}
	}
	require.NotEmpty(t, failures)
	checkFailuresNotified(t, s, failures)
	t.Logf("%d closed cycles reported, %d of them with failures", reports, len(failures))
}

// checkFailuresNotified: the failed lists reached the server's Notifier,
// each failure once. For every closed cycle of every agent, the failures
// notices of that client and day list exactly the failed runs of its
// journal, none in two notices; and GET /v1/failed lists, for each client
// whose newest report has failures, exactly the failures of that report.
func checkFailuresNotified(t *testing.T, s *sim, reported map[string][]server.FailedRun) {
	t.Helper()
	notified := map[string]int{} // "client day task start" -> notices that listed it
	noticesOf := map[string]int{}
	for _, n := range s.srv.notified.all() {
		if n.Kind != server.NoticeFailures {
			continue
		}
		noticesOf[n.Client+" "+n.Day]++
		for _, fr := range n.Failed {
			notified[n.Client+" "+n.Day+" "+fr.Task+" "+fr.Start.UTC().Format(time.RFC3339)]++
		}
	}
	listed := 0
	for _, a := range s.agents {
		for _, cj := range a.exec.Journal() {
			if !cj.Closed {
				continue
			}
			for _, rec := range cj.Records {
				if rec.State != afterhours.StateFailed {
					continue
				}
				key := a.id + " " + cj.Day + " " + rec.Task + " " + rec.Start.UTC().Format(time.RFC3339)
				require.Equal(t, 1, notified[key], "%s: notified %d times, want once", key, notified[key])
				delete(notified, key)
				listed++
			}
		}
	}
	for key, n := range notified {
		if cycleClosed(s, key) {
			t.Errorf("%s notified %d times but not failed in its journal", key, n)
		}
	}
	require.NotZero(t, listed)
	t.Logf("%d failures notified once each, in %d notices", listed, len(noticesOf))

	var failed []server.ClientFailures
	s.srv.admin(http.MethodGet, "/v1/failed", nil, &failed)
	var status []server.ClientStatus
	s.srv.admin(http.MethodGet, "/v1/status", nil, &status)
	require.Len(t, status, len(s.agents))
	want := map[string]int{}
	for _, st := range status {
		if st.Last != nil && len(st.Last.Failed) > 0 {
			want[st.Client] = len(st.Last.Failed)
		}
	}
	got := map[string]int{}
	for _, cf := range failed {
		_, dup := got[cf.Client]
		require.False(t, dup, "%s listed twice in /v1/failed", cf.Client)
		got[cf.Client] = len(cf.Failed)
		if r, ok := reported[cf.Client+" "+cf.Cycle]; ok {
			require.Equal(t, r, cf.Failed, "%s %s", cf.Client, cf.Cycle)
		}
	}
	require.Equal(t, want, got)
}

// cycleClosed reports whether the cycle of key ("client day ...") is
// closed in its agent's journal: a cycle still open may have notified its
// window's failures already.
func cycleClosed(s *sim, key string) bool {
	f := strings.Fields(key)
	for _, a := range s.agents {
		if a.id != f[0] {
			continue
		}
		for _, cj := range a.exec.Journal() {
			if cj.Day == f[1] {
				return cj.Closed
			}
		}
	}
	return false
}
