package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// receiver is an httptest webhook receiver answering status, recording
// what it got.
type receiver struct {
	mu     sync.Mutex
	status int
	auth   []string
	ctype  []string
	bodies []map[string]any
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.auth = append(rc.auth, r.Header.Get("Authorization"))
	rc.ctype = append(rc.ctype, r.Header.Get("Content-Type"))
	rc.bodies = append(rc.bodies, m)
	w.WriteHeader(rc.status)
	io.WriteString(w, "receiver says hello\n")
}

func TestWebhook(t *testing.T) {
	rc := &receiver{status: http.StatusNoContent}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	n := windowNotice("leeds-1.2026-11-23.failures.window.1")
	n.Client, n.Site, n.Received = "leeds-1", "leeds", time.Date(2026, 11, 24, 8, 0, 1, 0, time.UTC)

	wh := &Webhook{URL: srv.URL, Token: "hook-secret"}
	require.NoError(t, wh.Notify(context.Background(), n))
	require.Equal(t, []string{"Bearer hook-secret"}, rc.auth)
	require.Equal(t, []string{"application/json"}, rc.ctype)
	b := rc.bodies[0]
	require.Equal(t, "leeds-1.2026-11-23.failures.window.1", b["id"])
	require.Equal(t, "leeds-1", b["client"])
	require.Equal(t, "leeds", b["site"])
	require.Equal(t, "failures", b["kind"])
	require.Equal(t, "2026-11-23", b["day"])
	require.Equal(t, "2026-11-24T08:00:00Z", b["at"])
	require.Equal(t, "2026-11-24T08:00:01Z", b["received"])
	require.Equal(t, "leeds-1 (leeds), cycle 2026-11-23: 1 failed at the window's end: backup (exit status 2)", b["summary"])
	failed := b["failed"].([]any)
	require.Len(t, failed, 1)
	require.Equal(t, "backup", failed[0].(map[string]any)["task"])
	require.Equal(t, float64(2), failed[0].(map[string]any)["exit_code"])

	// Without a token, no Authorization header.
	require.NoError(t, (&Webhook{URL: srv.URL}).Notify(context.Background(), n))
	require.Equal(t, "", rc.auth[1])

	// Any answer but 2xx is an error, with the status and the body's start.
	rc.status = http.StatusBadGateway
	err := wh.Notify(context.Background(), n)
	require.ErrorIs(t, err, ErrWebhookStatus)
	require.ErrorContains(t, err, "502 Bad Gateway: receiver says hello")
	rc.status = http.StatusMultipleChoices
	require.ErrorIs(t, wh.Notify(context.Background(), n), ErrWebhookStatus)

	// An unreachable URL is an error too.
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	require.Error(t, (&Webhook{URL: dead.URL}).Notify(context.Background(), n))
}

func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	err := (&Webhook{URL: srv.URL, Timeout: 50 * time.Millisecond}).Notify(context.Background(), windowNotice("a"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestWebhookDelivery: a receiver that answers 503 twice, then 200, gets
// the notice through DeliverNotices, which retries on the fleet's clock.
func TestWebhookDelivery(t *testing.T) {
	var mu sync.Mutex
	calls, ids := 0, []string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		id, _ := m["id"].(string)
		ids = append(ids, id)
	}))
	t.Cleanup(srv.Close)
	o := newOpsFleet(t)
	f := o.h.Fleet()
	_, err := f.PutNotice("leeds-1", windowNotice("w1"))
	require.NoError(t, err)
	delivering(t, f, &Webhook{URL: srv.URL})
	require.Eventually(t, func() bool {
		o.clk.Add(250 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return len(ids) == 1
	}, 10*time.Second, time.Millisecond)
	require.Equal(t, []string{"w1"}, ids)
	require.Eventually(t, func() bool {
		ns, err := f.Notices()
		require.NoError(t, err)
		return !ns[0].Delivered.IsZero() && ns[0].Attempts == 3
	}, 10*time.Second, time.Millisecond)
}
