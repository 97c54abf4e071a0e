package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// A long-poll of the profile answers when a change makes a new profile,
// or with 304 when its wait on the fleet's clock ends.
func TestHTTPProfileLongPoll(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	h, err := New(NewMemStore(), WithClock(clk), WithAdminToken(adminTok, RoleAdmin))
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	srv := httptest.NewServer(h)
	defer srv.Close()
	require.NoError(t, h.Fleet().SetConfig([]byte(testConfig)))
	codes, err := h.Fleet().Register(Client{ID: "shop-1", Site: "leeds"})
	require.NoError(t, err)
	_, token, err := h.Fleet().Enroll(codes[0])
	require.NoError(t, err)
	_, etag, err := h.Fleet().Profile("shop-1")
	require.NoError(t, err)

	poll := func() <-chan response {
		ch := make(chan response, 1)
		go func() {
			r, err := do(srv, "GET", "/v1/agent/clients/shop-1/profile?wait=1m", token, nil, "If-None-Match", etag)
			if err != nil {
				r.status = -1
				r.body = []byte(err.Error())
			}
			ch <- r
		}()
		return ch
	}
	// A change ends the wait with the new profile. The change may come
	// before the poll waits: it still sees a new ETag.
	ch := poll()
	require.NoError(t, h.Fleet().PutSet("retail", []byte(`{"tags": ["retail"], "updates": [{"name": "u-9", "run": ["/x"]}]}`)))
	r := receiveResponse(t, ch, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, string(r.body), `"u-9"`)
	etag = r.header.Get("ETag")

	// No change: 304 once the fake clock passes the wait. The poll may not
	// wait yet when the clock moves, so it moves until the answer comes.
	ch = poll()
	r = receiveResponse(t, ch, func() { clk.Add(time.Minute) })
	require.Equal(t, http.StatusNotModified, r.status)

	r = call(t, srv, "GET", "/v1/agent/clients/shop-1/profile?wait=1h", token, nil, "If-None-Match", etag)
	require.Equal(t, http.StatusBadRequest, r.status)
	r.errorBody(t)
	// Without a matching ETag there is nothing to wait for.
	r = call(t, srv, "GET", "/v1/agent/clients/shop-1/profile?wait=1m", token, nil, "If-None-Match", `"other"`)
	require.Equal(t, http.StatusOK, r.status)
	require.True(t, strings.HasPrefix(string(r.body), `{"client":"shop-1"`))
}

// receiveResponse waits for the answer, calling nudge (when given) between
// looks, up to a deadline.
func receiveResponse(t *testing.T, ch <-chan response, nudge func()) response {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case r := <-ch:
			return r
		case <-time.After(10 * time.Millisecond):
			if nudge != nil {
				nudge()
			}
		}
	}
	t.Fatal("no answer to the long-poll")
	return response{}
}
