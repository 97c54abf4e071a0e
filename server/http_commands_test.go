package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// opsFleet is a server on a bbolt file with three enrolled clients:
// leeds-1 and leeds-2 at leeds (tags uk, retail), austin-1 at austin (us,
// kiosk).
type opsFleet struct {
	t      *testing.T
	path   string
	clk    *clock.Mock
	store  *BoltStore
	h      *Handler
	srv    *httptest.Server
	tokens map[string]string
}

func newOpsFleet(t *testing.T) *opsFleet {
	t.Helper()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	o := &opsFleet{t: t, path: filepath.Join(t.TempDir(), "fleet.db"), clk: clk, tokens: map[string]string{}}
	o.open()
	f := o.h.Fleet()
	require.NoError(t, f.SetConfig([]byte(testConfig)))
	ids := []string{"austin-1", "leeds-1", "leeds-2"}
	codes, err := f.Register(Client{ID: ids[0], Site: "austin"}, Client{ID: ids[1], Site: "leeds"}, Client{ID: ids[2], Site: "leeds"})
	require.NoError(t, err)
	for i, code := range codes {
		_, tok, err := f.Enroll(code)
		require.NoError(t, err)
		o.tokens[ids[i]] = tok
	}
	return o
}

// open opens the store and serves it.
func (o *opsFleet) open() {
	t := o.t
	s, err := OpenBoltStore(o.path)
	require.NoError(t, err)
	h, err := New(s, WithClock(o.clk), WithAdminToken(viewToken, RoleView), WithAdminToken(operateToken, RoleOperate))
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	o.store, o.h, o.srv = s, h, httptest.NewServer(h)
	t.Cleanup(o.close)
}

func (o *opsFleet) close() {
	if o.srv != nil {
		o.srv.Close()
		require.NoError(o.t, o.store.Close())
		o.srv = nil
	}
}

// restart closes the server and its store, and opens them again.
func (o *opsFleet) restart() {
	o.close()
	o.open()
}

func (o *opsFleet) call(method, path, token, body string) response {
	o.t.Helper()
	return call(o.t, o.srv, method, path, token, strings.NewReader(body))
}

func (o *opsFleet) agentCommands(client string) []afterhours.Command {
	o.t.Helper()
	r := o.call("GET", "/v1/agent/clients/"+client+"/commands", o.tokens[client], "")
	require.Equal(o.t, http.StatusOK, r.status, "%s", r.body)
	var cmds []afterhours.Command
	require.NoError(o.t, json.Unmarshal(r.body, &cmds))
	return cmds
}

func (o *opsFleet) states(client string) map[string]string {
	o.t.Helper()
	r := o.call("GET", "/v1/clients/"+client+"/commands", viewToken, "")
	require.Equal(o.t, http.StatusOK, r.status, "%s", r.body)
	var qs []QueuedCommand
	require.NoError(o.t, json.Unmarshal(r.body, &qs))
	out := map[string]string{}
	for _, q := range qs {
		out[q.ID] = q.State
		if q.Reason != "" {
			out[q.ID] += ": " + q.Reason
		}
	}
	return out
}

func TestHTTPQueueCommands(t *testing.T) {
	o := newOpsFleet(t)
	// By client id.
	r := o.call("POST", "/v1/commands", operateToken,
		`{"id": "fix-1", "name": "restart till", "run": ["/usr/bin/systemctl", "restart", "till"], "user": "root", "timeout": "5m", "clients": ["leeds-2"]}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"id": "fix-1", "clients": ["leeds-2"]}`, string(r.body))
	// By tags: the sites' tags select the clients.
	r = o.call("POST", "/v1/commands", operateToken, `{"id": "fix-2", "run": ["/bin/true"], "tags": ["uk"]}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"id": "fix-2", "clients": ["leeds-1", "leeds-2"]}`, string(r.body))
	r = o.call("POST", "/v1/commands", operateToken, `{"run": ["/bin/true"], "tags": ["!retail"]}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var q queued
	require.NoError(t, json.Unmarshal(r.body, &q))
	require.Equal(t, []string{"austin-1"}, q.Clients)
	require.Len(t, q.ID, 26, "a random id")

	cmds := o.agentCommands("leeds-2")
	require.Len(t, cmds, 2)
	require.Equal(t, afterhours.Command{ID: "fix-1", Name: "restart till", Run: []string{"/usr/bin/systemctl", "restart", "till"},
		User: "root", Timeout: afterhours.Duration(5 * time.Minute)}, cmds[0])
	require.Equal(t, "fix-2", cmds[1].ID)
	require.Equal(t, map[string]string{"fix-2": "queued"}, o.states("leeds-1"))

	// The same request again changes nothing; another command of that id
	// is a conflict, and nothing of it is queued.
	r = o.call("POST", "/v1/commands", operateToken, `{"id": "fix-2", "run": ["/bin/true"], "tags": ["uk"]}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = o.call("POST", "/v1/commands", operateToken, `{"id": "fix-2", "run": ["/bin/false"], "clients": ["leeds-1", "austin-1"]}`)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	r.errorBody(t)
	require.Len(t, o.agentCommands("austin-1"), 1)

	// Problems, each with its path; view may not queue.
	tests := []struct {
		name, token, body string
		status            int
		paths             []string
	}{
		{"relative path, NUL, no target", operateToken, `{"run": ["true", "a\u0000b"]}`, 400, []string{"run[0]", "run[1]", "clients"}},
		{"both targets", operateToken, `{"run": ["/bin/true"], "clients": ["leeds-1"], "tags": ["uk"]}`, 400, []string{"tags"}},
		{"no run, bad timeout", operateToken, `{"timeout": "soon", "clients": ["leeds-1"]}`, 400, []string{"timeout"}},
		{"negative timeout, empty run", operateToken, `{"run": [], "timeout": "-1m", "clients": ["leeds-1"]}`, 400, []string{"run", "timeout"}},
		{"unknown field", operateToken, `{"run": ["/bin/true"], "clients": ["leeds-1"], "shell": true}`, 400, []string{"shell"}},
		{"no client matches", operateToken, `{"run": ["/bin/true"], "tags": ["fr"]}`, 400, []string{"tags"}},
		{"unknown client", operateToken, `{"run": ["/bin/true"], "clients": ["nope"]}`, 404, nil},
		{"view may not queue", viewToken, `{"run": ["/bin/true"], "clients": ["leeds-1"]}`, 403, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := o.call("POST", "/v1/commands", tt.token, tt.body)
			require.Equal(t, tt.status, r.status, "%s", r.body)
			e := r.errorBody(t)
			var paths []string
			for _, p := range e.Problems {
				paths = append(paths, p.Path)
			}
			require.Equal(t, tt.paths, paths, "%s", r.body)
		})
	}
	require.Equal(t, map[string]string{"fix-2": "queued"}, o.states("leeds-1"))

	// A client registered later does not get the commands its tags would
	// have selected.
	_, err := o.h.Fleet().Register(Client{ID: "leeds-3", Site: "leeds"})
	require.NoError(t, err)
	require.Empty(t, o.states("leeds-3"))
}

func TestHTTPAckCommands(t *testing.T) {
	o := newOpsFleet(t)
	r := o.call("POST", "/v1/commands", operateToken, `{"id": "c1", "run": ["/bin/true"], "tags": ["retail"]}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = o.call("POST", "/v1/commands", operateToken, `{"id": "c2", "run": ["/bin/true"], "clients": ["leeds-1"]}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	tok := o.tokens["leeds-1"]
	ack := func(client, cid, token, body string) response {
		return o.call("POST", "/v1/agent/clients/"+client+"/commands/"+cid+"/ack", token, body)
	}

	// Another client's commands are not this agent's to read or ack.
	r = o.call("GET", "/v1/agent/clients/leeds-2/commands", tok, "")
	require.Equal(t, http.StatusForbidden, r.status)
	r = ack("leeds-2", "c1", tok, `{"result": "accepted"}`)
	require.Equal(t, http.StatusForbidden, r.status)
	r.errorBody(t)

	r = ack("leeds-1", "c1", tok, `{"result": "accepted"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = ack("leeds-1", "c1", tok, `{"result": "accepted"}`)
	require.Equal(t, http.StatusOK, r.status, "the same ack twice: %s", r.body)
	r = ack("leeds-1", "c1", tok, `{"result": "refused", "reason": "killed"}`)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	r.errorBody(t)
	r = ack("leeds-1", "c2", tok, `{"result": "refused", "reason": "not for this site"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = ack("leeds-1", "c2", tok, `{"result": "accepted"}`)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)

	for _, tt := range []struct{ cid, body string }{
		{"c1", `{"result": "maybe"}`},
		{"c1", `{"result": "refused"}`},
		{"c1", `{"result": "accepted", "why": "x"}`},
	} {
		r = ack("leeds-1", tt.cid, tok, tt.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", tt.body, r.body)
		require.NotEmpty(t, r.errorBody(t).Problems)
	}
	r = ack("leeds-1", "c9", tok, `{"result": "accepted"}`)
	require.Equal(t, http.StatusNotFound, r.status)
	r = o.call("GET", "/v1/clients/nope/commands", viewToken, "")
	require.Equal(t, http.StatusNotFound, r.status)
	r.errorBody(t)

	// An acknowledged command is never delivered again.
	require.Empty(t, o.agentCommands("leeds-1"))
	require.Len(t, o.agentCommands("leeds-2"), 1)
	require.Equal(t, map[string]string{"c1": "accepted", "c2": "refused: not for this site"}, o.states("leeds-1"))
}

// The long-poll of commands answers when one is queued, or with none when
// its wait on the fleet's clock ends.
func TestHTTPCommandsLongPoll(t *testing.T) {
	o := newOpsFleet(t)
	poll := func() <-chan response {
		ch := make(chan response, 1)
		go func() {
			r, err := do(o.srv, "GET", "/v1/agent/clients/austin-1/commands?wait=1m", o.tokens["austin-1"], nil)
			if err != nil {
				r.status, r.body = -1, []byte(err.Error())
			}
			ch <- r
		}()
		return ch
	}
	ch := poll()
	r := o.call("POST", "/v1/commands", operateToken, `{"id": "now", "run": ["/bin/true"], "clients": ["austin-1"]}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = receiveResponse(t, ch, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Contains(t, string(r.body), `"id":"now"`)

	r = o.call("POST", "/v1/agent/clients/austin-1/commands/now/ack", o.tokens["austin-1"], `{"result": "accepted"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	ch = poll()
	r = receiveResponse(t, ch, func() { o.clk.Add(time.Minute) })
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "[]\n", string(r.body))

	r = o.call("GET", "/v1/agent/clients/austin-1/commands?wait=1h", o.tokens["austin-1"], "")
	require.Equal(t, http.StatusBadRequest, r.status)
	r.errorBody(t)

	// Every agent request, a poll too, is the client heard from.
	o.clk.Add(time.Hour)
	require.Empty(t, o.agentCommands("austin-1"))
	st := o.status()
	require.Equal(t, "austin-1", st[0].Client)
	require.Equal(t, o.clk.Now().UTC(), st[0].LastSeen.UTC())
	require.True(t, st[1].LastSeen.IsZero(), "leeds-1 never asked")
}

// Only the last KeepAcked acknowledged commands are kept; those not
// acknowledged yet always are.
func TestAckedCommandsPruned(t *testing.T) {
	o := newOpsFleet(t)
	f := o.h.Fleet()
	_, _, err := f.Queue(NewCommand{ID: "pending", Run: []string{"/bin/true"}, Clients: []string{"leeds-1"}})
	require.NoError(t, err)
	for i := range KeepAcked + 3 {
		id := fmt.Sprintf("c%03d", i)
		_, _, err := f.Queue(NewCommand{ID: id, Run: []string{"/bin/true"}, Clients: []string{"leeds-1"}})
		require.NoError(t, err)
		o.clk.Add(time.Second)
		_, err = f.Ack("leeds-1", id, CommandAccepted, "")
		require.NoError(t, err)
	}
	cmds, err := f.Commands("leeds-1", false)
	require.NoError(t, err)
	require.Len(t, cmds, KeepAcked+1)
	require.Equal(t, "c003", cmds[0].ID)
	require.Equal(t, "pending", cmds[len(cmds)-1].ID)
	pending, err := f.Commands("leeds-1", true)
	require.NoError(t, err)
	require.Len(t, pending, 1)
}
