package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func (o *opsFleet) killswitch() killswitchView {
	o.t.Helper()
	r := o.call("GET", "/v1/killswitch", viewToken, "")
	require.Equal(o.t, http.StatusOK, r.status, "%s", r.body)
	var v killswitchView
	require.NoError(o.t, json.Unmarshal(r.body, &v))
	return v
}

// agentKill is an agent's GET of its killswitch, with the query given.
func (o *opsFleet) agentKill(client, query string, header ...string) (ClientKill, response) {
	o.t.Helper()
	r := call(o.t, o.srv, "GET", "/v1/agent/clients/"+client+"/killswitch"+query, o.tokens[client], nil, header...)
	require.Equal(o.t, http.StatusOK, r.status, "%s", r.body)
	var ck ClientKill
	require.NoError(o.t, json.Unmarshal(r.body, &ck))
	return ck, r
}

func TestHTTPKillSwitch(t *testing.T) {
	o := newOpsFleet(t)
	now := o.clk.Now().UTC()

	r := o.call("GET", "/v1/killswitch", viewToken, "")
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"fleet": null, "tags": {}, "killed_clients": 0}`, string(r.body))

	r = o.call("PUT", "/v1/killswitch/tags/uk", operateToken, `{"reason": "bad update"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"fleet": null, "tags": {"uk": {"reason": "bad update", "by": "operate", "since": "2026-11-24T12:00:00Z"}},
		"killed_clients": 2}`, string(r.body))
	ck, _ := o.agentKill("leeds-1", "")
	require.Equal(t, ClientKill{On: true, Reason: "bad update", Since: now, Tags: []string{"uk"}}, ck)
	ck, _ = o.agentKill("austin-1", "")
	require.False(t, ck.On)

	r = o.call("PUT", "/v1/killswitch", operateToken, `{"reason": "all stop"}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	v := o.killswitch()
	require.Equal(t, &KillSwitch{Reason: "all stop", By: "operate", Since: now}, v.Fleet)
	require.Equal(t, 3, v.KilledClients)
	for _, s := range o.status() {
		require.True(t, s.KillSwitch, s.Client)
	}

	// The switches survive a restart of the server on its bbolt file.
	o.restart()
	v = o.killswitch()
	require.NotNil(t, v.Fleet)
	require.Len(t, v.Tags, 1)
	require.Equal(t, 3, v.KilledClients)

	r = o.call("DELETE", "/v1/killswitch", operateToken, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, 2, o.killswitch().KilledClients)
	held := map[string]bool{}
	for _, s := range o.status() {
		held[s.Client] = s.KillSwitch
	}
	require.Equal(t, map[string]bool{"austin-1": false, "leeds-1": true, "leeds-2": true}, held)
	r = o.call("DELETE", "/v1/killswitch/tags/uk", operateToken, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"fleet": null, "tags": {}, "killed_clients": 0}`, string(r.body))
	require.Contains(t, string(o.call("GET", "/v1/status", viewToken, "").body), `"killswitch":false`)
}

// Only operate and admin change the switch; view reads it; a wrong token
// is 401; agents cannot use the admin endpoints, nor read another's state.
func TestHTTPKillSwitchAuth(t *testing.T) {
	o := newOpsFleet(t)
	tests := []struct {
		method, path, token string
		status              int
	}{
		{"PUT", "/v1/killswitch", viewToken, http.StatusForbidden},
		{"DELETE", "/v1/killswitch", viewToken, http.StatusForbidden},
		{"PUT", "/v1/killswitch/tags/uk", viewToken, http.StatusForbidden},
		{"DELETE", "/v1/killswitch/tags/uk", viewToken, http.StatusForbidden},
		{"PUT", "/v1/killswitch", "wrong-token-0123456789", http.StatusUnauthorized},
		{"GET", "/v1/killswitch", "wrong-token-0123456789", http.StatusUnauthorized},
		{"GET", "/v1/killswitch", "", http.StatusUnauthorized},
		{"PUT", "/v1/killswitch", o.tokens["leeds-1"], http.StatusUnauthorized},
		{"GET", "/v1/agent/clients/leeds-2/killswitch", o.tokens["leeds-1"], http.StatusForbidden},
		{"GET", "/v1/agent/clients/leeds-1/killswitch", viewToken, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		r := o.call(tt.method, tt.path, tt.token, `{"reason": "x"}`)
		require.Equal(t, tt.status, r.status, "%s %s: %s", tt.method, tt.path, r.body)
		r.errorBody(t)
	}
	v := o.killswitch()
	require.Nil(t, v.Fleet)
	require.Empty(t, v.Tags)
}

// Bodies are decoded strictly and the reason checked, with paths.
func TestHTTPKillSwitchBadRequests(t *testing.T) {
	o := newOpsFleet(t)
	tests := []struct {
		path, body string
		paths      []string
	}{
		{"/v1/killswitch", `{}`, []string{"reason"}},
		{"/v1/killswitch", `{"reason": "  "}`, []string{"reason"}},
		{"/v1/killswitch", `{"reason": "x", "by": "me"}`, []string{"by"}},
		{"/v1/killswitch", `{"reason": 3}`, []string{"reason"}},
		{"/v1/killswitch", `not json`, []string{""}},
		{"/v1/killswitch", `{"reason": "` + strings.Repeat("x", 501) + `"}`, []string{"reason"}},
		{"/v1/killswitch/tags/%21uk", `{"reason": "x"}`, []string{"tag"}},
	}
	for _, tt := range tests {
		r := o.call("PUT", tt.path, operateToken, tt.body)
		require.Equal(t, http.StatusBadRequest, r.status, "%s %s: %s", tt.path, tt.body, r.body)
		var got []string
		for _, p := range r.errorBody(t).Problems {
			got = append(got, p.Path)
		}
		require.Equal(t, tt.paths, got, "%s %s", tt.path, tt.body)
	}
	r := o.call("PUT", "/v1/killswitch", operateToken, `{"reason": "`+strings.Repeat("x", 2<<20)+`"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	r = o.call("GET", "/v1/agent/clients/leeds-1/killswitch?wait=1h", o.tokens["leeds-1"], "")
	require.Equal(t, http.StatusBadRequest, r.status)
	v := o.killswitch()
	require.Nil(t, v.Fleet)
	require.Empty(t, v.Tags)
}

// The agent's long-poll answers at once for an ETag other than the
// state's, when a switch changes, and with the same state when its wait
// ends on the fleet's clock.
func TestHTTPKillSwitchLongPoll(t *testing.T) {
	o := newOpsFleet(t)
	_, r := o.agentKill("leeds-1", "")
	etag := r.header.Get("ETag")
	require.NotEmpty(t, etag)

	ck, r := o.agentKill("leeds-1", `?wait=1m&since="stale"`)
	require.False(t, ck.On)
	require.Equal(t, etag, r.header.Get("ETag"))

	poll := func(query string, header ...string) <-chan response {
		ch := make(chan response, 1)
		go func() {
			r, err := do(o.srv, "GET", "/v1/agent/clients/leeds-1/killswitch"+query, o.tokens["leeds-1"], nil, header...)
			if err != nil {
				r.status, r.body = -1, []byte(err.Error())
			}
			ch <- r
		}()
		return ch
	}
	// since= without the quotes names the same ETag.
	ch := poll("?wait=1m&since=" + strings.Trim(etag, `"`))
	require.Equal(t, http.StatusOK, o.call("PUT", "/v1/killswitch/tags/retail", operateToken, `{"reason": "till bug"}`).status)
	r = receiveResponse(t, ch, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"on": true, "reason": "till bug", "since": "2026-11-24T12:00:00Z", "tags": ["retail"]}`, string(r.body))
	onTag := r.header.Get("ETag")
	require.NotEqual(t, etag, onTag)

	// If-None-Match names it too; a switch off ends the wait.
	ch = poll("?wait=1m", "If-None-Match", onTag)
	require.Equal(t, http.StatusOK, o.call("DELETE", "/v1/killswitch/tags/retail", operateToken, "").status)
	r = receiveResponse(t, ch, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, etag, r.header.Get("ETag"))

	// No change: the same state once the fake clock passes the wait.
	ch = poll("?wait=1m&since=" + etag)
	r = receiveResponse(t, ch, func() { o.clk.Add(time.Minute) })
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, etag, r.header.Get("ETag"))
	require.JSONEq(t, `{"on": false}`, string(r.body))
}
