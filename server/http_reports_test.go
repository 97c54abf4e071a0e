package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/stretchr/testify/require"
)

const failedReport = `{"cycle": "2026-11-24", "seq": %d, "sent": "2026-11-24T23:40:00Z",
  "counts": {"completed": 4, "failed": 1, "deferred": 2},
  "failed": [{"task": "vacuum-db", "kind": "housekeeping", "error": "exit status 2", "exit_code": 2,
              "start": "2026-11-24T23:00:00Z", "end": "2026-11-24T23:20:00Z"}],
  "killed": %v}`

func (o *opsFleet) report(client, body string) response {
	o.t.Helper()
	return o.call("POST", "/v1/agent/clients/"+client+"/reports", o.tokens[client], body)
}

func (o *opsFleet) status() []ClientStatus {
	o.t.Helper()
	r := o.call("GET", "/v1/status", viewToken, "")
	require.Equal(o.t, http.StatusOK, r.status, "%s", r.body)
	var st []ClientStatus
	require.NoError(o.t, json.Unmarshal(r.body, &st))
	return st
}

func TestHTTPReports(t *testing.T) {
	o := newOpsFleet(t)
	result := func(r response) string {
		t.Helper()
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var res reported
		require.NoError(t, json.Unmarshal(r.body, &res))
		return string(res.Result)
	}
	require.Equal(t, "stored", result(o.report("leeds-1", fmt.Sprintf(failedReport, 2, false))))
	o.clk.Add(time.Minute)
	// A repeat changes nothing, even with other contents; an older seq is
	// ignored.
	require.Equal(t, "duplicate", result(o.report("leeds-1", fmt.Sprintf(failedReport, 2, true))))
	require.Equal(t, "stale", result(o.report("leeds-1", `{"cycle": "2026-11-24", "seq": 1, "counts": {"to-do": 7}}`)))
	reps, err := o.h.Fleet().Reports("leeds-1")
	require.NoError(t, err)
	require.Len(t, reps, 1)
	require.Equal(t, int64(2), reps[0].Seq)
	require.False(t, reps[0].Killed)
	require.Equal(t, time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), reps[0].Received)
	require.Equal(t, []FailedRun{{Task: "vacuum-db", Kind: afterhours.Housekeeping, Error: "exit status 2", ExitCode: 2,
		Start: time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 24, 23, 20, 0, 0, time.UTC)}}, reps[0].Failed)

	// leeds-2 had a failure, then a newer report of the cycle without one.
	require.Equal(t, "stored", result(o.report("leeds-2", fmt.Sprintf(failedReport, 1, false))))
	require.Equal(t, "stored", result(o.report("leeds-2", `{"cycle": "2026-11-24", "seq": 5, "counts": {"completed": 5}, "killed": true}`)))

	st := o.status()
	require.Len(t, st, 3)
	require.Equal(t, "austin-1", st[0].Client)
	require.Nil(t, st[0].Last)
	require.True(t, st[0].LastSeen.IsZero(), "never heard from")
	require.Equal(t, "leeds-1", st[1].Client)
	require.Equal(t, "leeds", st[1].Site)
	require.Equal(t, o.clk.Now().UTC(), st[1].LastSeen.UTC(), "the stale report was a request too")
	require.Equal(t, map[afterhours.State]int{"completed": 4, "failed": 1, "deferred": 2}, st[1].Last.Counts)
	require.True(t, st[2].Last.Killed)

	r := o.call("GET", "/v1/failed", viewToken, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `[{"client": "leeds-1", "site": "leeds", "cycle": "2026-11-24", "failed": [
	  {"task": "vacuum-db", "kind": "housekeeping", "error": "exit status 2", "exit_code": 2,
	   "start": "2026-11-24T23:00:00Z", "end": "2026-11-24T23:20:00Z"}]}]`, string(r.body))

	// A newer cycle is the last one; only KeepCycles are kept.
	for d := 25; d < 25+KeepCycles+2; d++ {
		day := time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		require.Equal(t, "stored", result(o.report("leeds-1", `{"cycle": "`+day+`", "seq": 1, "counts": {"completed": 6}}`)))
	}
	reps, err = o.h.Fleet().Reports("leeds-1")
	require.NoError(t, err)
	require.Len(t, reps, KeepCycles)
	require.Equal(t, "2026-12-26", reps[len(reps)-1].Cycle)
	require.Equal(t, "2026-11-27", reps[0].Cycle)
	require.Equal(t, "2026-12-26", o.status()[1].Last.Cycle)
	// A late report of an older cycle is that cycle's, not the newest; one
	// older than every cycle kept is ignored.
	require.Equal(t, "stored", result(o.report("leeds-1", `{"cycle": "2026-11-30", "seq": 2, "counts": {"failed": 1}}`)))
	require.Equal(t, "stale", result(o.report("leeds-1", `{"cycle": "2026-11-01", "seq": 9, "counts": {"failed": 1}}`)))
	require.Equal(t, "2026-12-26", o.status()[1].Last.Cycle)
	reps, err = o.h.Fleet().Reports("leeds-1")
	require.NoError(t, err)
	require.Len(t, reps, KeepCycles)
	require.Equal(t, "2026-11-27", reps[0].Cycle)
	require.Equal(t, map[afterhours.State]int{"failed": 1}, reps[3].Counts)
	r = o.call("GET", "/v1/failed", viewToken, "")
	require.JSONEq(t, `[]`, string(r.body))

	// Problems, with their paths; another client's reports are not this
	// agent's to post.
	for _, tt := range []struct {
		body  string
		paths []string
	}{
		{`{"cycle": "24 Nov", "seq": 0, "counts": {"done": 1, "failed": -1}}`, []string{"cycle", "seq", "counts.done", "counts.failed"}},
		{`{"cycle": "2026-11-24", "seq": 3, "failed": [{"kind": "housekeeping"}, {"task": "x"}]}`, []string{"failed[0].task", "failed[1].kind"}},
		{`{"cycle": "2026-11-24", "seq": 3, "extra": 1}`, []string{"extra"}},
		{`{"cycle": "2026-11-24", "seq": 3, "seq": 4}`, []string{"seq"}},
		{`{"cycle": "2026-11-24", "seq": "3"}`, []string{"seq"}},
		{`{"cycle": "2026-11-24", "seq": 3, "failed": [{"task": "x", "exit": 1}]}`, []string{"failed"}},
		{`{"cycle": "2026-11-24", "seq": 3, "shared": [{"state": "done", "start": "2026-11-24T01:40:00Z"},
		  {"task": "fetch", "state": "completed"}, {"task": "fetch", "state": "completed",
		  "start": "2026-11-24T01:40:00Z", "end": "2026-11-24T01:00:00Z"}]}`,
			[]string{"shared[0].task", "shared[0].state", "shared[1].start", "shared[2].end"}},
	} {
		r := o.report("leeds-1", tt.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", tt.body, r.body)
		var paths []string
		for _, p := range r.errorBody(t).Problems {
			paths = append(paths, p.Path)
		}
		require.ElementsMatch(t, tt.paths, paths, "%s", r.body)
	}
	r = o.call("POST", "/v1/agent/clients/leeds-2/reports", o.tokens["leeds-1"], fmt.Sprintf(failedReport, 9, false))
	require.Equal(t, http.StatusForbidden, r.status)
	r = o.call("POST", "/v1/agent/clients/leeds-1/reports", viewToken, fmt.Sprintf(failedReport, 9, false))
	require.Equal(t, http.StatusUnauthorized, r.status)
}

// Queued commands, acknowledgements, reports and last-seen times survive
// a restart of the server on the same bbolt file.
func TestHTTPCommandsAndReportsSurviveRestart(t *testing.T) {
	o := newOpsFleet(t)
	r := o.call("POST", "/v1/commands", operateToken, `{"id": "c1", "run": ["/bin/true"], "tags": ["uk"]}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = o.call("POST", "/v1/agent/clients/leeds-1/commands/c1/ack", o.tokens["leeds-1"], `{"result": "accepted"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = o.report("leeds-2", fmt.Sprintf(failedReport, 3, false))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	seen := o.clk.Now().UTC()
	before := o.status()

	o.clk.Add(time.Hour)
	o.restart()
	require.Equal(t, before, o.status())
	require.Equal(t, seen, o.status()[2].LastSeen.UTC())
	require.Empty(t, o.agentCommands("leeds-1"), "acknowledged: never delivered again")
	cmds := o.agentCommands("leeds-2")
	require.Len(t, cmds, 1)
	require.Equal(t, "c1", cmds[0].ID)
	require.Equal(t, map[string]string{"c1": "accepted"}, o.states("leeds-1"))
	r = o.report("leeds-2", fmt.Sprintf(failedReport, 3, false))
	require.JSONEq(t, `{"result": "duplicate"}`, string(r.body))
	r = o.report("leeds-2", fmt.Sprintf(failedReport, 2, false))
	require.JSONEq(t, `{"result": "stale"}`, string(r.body))
	r = o.call("POST", "/v1/agent/clients/leeds-1/commands/c1/ack", o.tokens["leeds-1"], `{"result": "refused", "reason": "killed"}`)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
}

// A removed client's commands and reports go with it: registered again
// under its ID, it starts afresh.
func TestRemoveClientDropsCommandsAndReports(t *testing.T) {
	o := newOpsFleet(t)
	r := o.call("POST", "/v1/commands", operateToken, `{"id": "c1", "run": ["/bin/true"], "tags": ["uk"]}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = o.report("leeds-1", fmt.Sprintf(failedReport, 1, false))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	f := o.h.Fleet()
	require.NoError(t, f.Remove("leeds-1"))
	_, err := f.Register(Client{ID: "leeds-1", Site: "leeds"})
	require.NoError(t, err)
	cmds, err := f.Commands("leeds-1", false)
	require.NoError(t, err)
	require.Empty(t, cmds)
	reps, err := f.Reports("leeds-1")
	require.NoError(t, err)
	require.Empty(t, reps)
	st := o.status()
	require.Equal(t, "leeds-1", st[1].Client)
	require.Nil(t, st[1].Last)
	require.True(t, st[1].LastSeen.IsZero())
	require.Len(t, o.agentCommands("leeds-2"), 1, "another client keeps its commands")
}
