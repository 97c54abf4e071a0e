package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const noticeBody = `{"id": "leeds-1.2026-11-23.failures.window.1", "kind": "failures", "day": "2026-11-23",
  "at": "2026-11-24T08:00:00Z",
  "failed": [{"task": "backup", "kind": "housekeeping", "error": "exit status 2", "exit_code": 2}]}`

func (o *opsFleet) notice(client, token, body string) response {
	o.t.Helper()
	return o.call("POST", "/v1/agent/clients/"+client+"/notices", token, body)
}

func TestHTTPNotices(t *testing.T) {
	o := newOpsFleet(t)
	result := func(r response) string {
		t.Helper()
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var res noticed
		require.NoError(t, json.Unmarshal(r.body, &res))
		return res.Result
	}
	require.Equal(t, "stored", result(o.notice("leeds-1", o.tokens["leeds-1"], noticeBody)))
	require.Equal(t, "duplicate", result(o.notice("leeds-1", o.tokens["leeds-1"], noticeBody)))

	r := o.call("GET", "/v1/notices", viewToken, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var ns []QueuedNotice
	require.NoError(t, json.Unmarshal(r.body, &ns))
	require.Len(t, ns, 1)
	require.Equal(t, "leeds-1", ns[0].Client)
	require.Equal(t, "leeds", ns[0].Site)
	require.Equal(t, NoticeFailures, ns[0].Kind)
	require.Equal(t, "backup", ns[0].Failed[0].Task)
	require.True(t, ns[0].Delivered.IsZero())
	require.Equal(t, http.StatusUnauthorized, o.call("GET", "/v1/notices", "", "").status)

	// Another agent's token, and no token, may not post leeds-1's notices.
	require.Equal(t, http.StatusForbidden, o.notice("leeds-1", o.tokens["leeds-2"], noticeBody).status)
	require.Equal(t, http.StatusUnauthorized, o.notice("leeds-1", "", noticeBody).status)

	// Strict decoding: every problem with its path; the server's fields
	// are not the agent's to set.
	r = o.notice("leeds-1", o.tokens["leeds-1"], `{"id": "a b", "kind": "lost", "day": "2026-11-23",
	  "client": "leeds-2", "failed": [{"kind": "housekeeping"}]}`)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	var paths []string
	for _, p := range r.errorBody(t).Problems {
		paths = append(paths, p.Path)
	}
	require.Equal(t, []string{"client"}, paths, "an unknown field is refused before the rest is looked at")
	r = o.notice("leeds-1", o.tokens["leeds-1"], `{"id": "a b", "kind": "lost", "day": "23/11", "failed": [{"kind": "housekeeping"}]}`)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	paths = nil
	for _, p := range r.errorBody(t).Problems {
		paths = append(paths, p.Path)
	}
	require.Equal(t, []string{"id", "kind", "day", "failed[0].task"}, paths)
	// A kill outside a cycle has no day; any other notice needs one.
	require.Equal(t, "stored", result(o.notice("leeds-1", o.tokens["leeds-1"], `{"id": "k1", "kind": "killed", "reason": "incident"}`)))
	r = o.notice("leeds-1", o.tokens["leeds-1"], `{"id": "s1", "kind": "stopped", "reason": "migrate"}`)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	require.Equal(t, "day", r.errorBody(t).Problems[0].Path)
	r = o.notice("leeds-1", o.tokens["leeds-1"], `{"id": "x", "kind": "failures", "id": "y", "failed": []}`)
	require.Equal(t, http.StatusBadRequest, r.status, "a repeated key: %s", r.body)

	// A 10 MB body is refused.
	big := `{"id": "big", "kind": "killed", "reason": "` + strings.Repeat("x", 10<<20) + `"}`
	r = o.notice("leeds-1", o.tokens["leeds-1"], big)
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	r.errorBody(t)

	// A notice survives a restart, and its ID with it.
	o.restart()
	require.Equal(t, "duplicate", result(o.notice("leeds-1", o.tokens["leeds-1"], noticeBody)))
}

// TestHandlerRunDelivers: the notifier of WithNotifier gets the notices
// an agent posts, through Handler.Run.
func TestHandlerRunDelivers(t *testing.T) {
	clk := fixedClock()
	got := make(chan Notice, 10)
	h, err := New(NewMemStore(), WithClock(clk), WithNotifier(NotifierFunc(func(_ context.Context, n Notice) error {
		got <- n
		return nil
	})))
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	require.NoError(t, h.Fleet().SetConfig([]byte(testConfig)))
	codes, err := h.Fleet().Register(Client{ID: "leeds-1", Site: "leeds"})
	require.NoError(t, err)
	_, tok, err := h.Fleet().Enroll(codes[0])
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()

	r := call(t, srv, "POST", "/v1/agent/clients/leeds-1/notices", tok, bytes.NewReader([]byte(noticeBody)))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	select {
	case n := <-got:
		require.Equal(t, "leeds-1.2026-11-23.failures.window.1", n.ID)
		require.Equal(t, "leeds-1", n.Client)
		require.Equal(t, "leeds", n.Site)
		require.Equal(t, time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC), n.At)
	case <-time.After(10 * time.Second):
		t.Fatal("no notice delivered")
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	// Without a notifier, Run waits for its context.
	h2, err := New(NewMemStore())
	require.NoError(t, err)
	t.Cleanup(func() { h2.Close() })
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	require.ErrorIs(t, h2.Run(ctx2), context.Canceled)
}
