package e2e_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The harness's own parts, checked alone: the simulation is only as good
// as its clock and its idea of quiet.

func TestSimClockStepsAndFires(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	gen := new(atomic.Int64)
	c := newSimClock(t0, gen)
	exec, link, srv := c.view(precise), c.view(loose), c.view(untracked)

	wake := exec.After(10 * time.Minute)
	retry := link.After(2 * time.Minute)
	poll := srv.After(5 * time.Minute)
	now := exec.After(0)
	require.Equal(t, t0, <-now, "a wait of 0 fires at once")

	limit := t0.Add(time.Hour)
	require.Equal(t, t0.Add(2*time.Minute+looseSlack), c.next(t0, limit), "a loose deadline plus the slack comes first")
	c.set(t0.Add(3*time.Minute), false)
	require.Equal(t, t0.Add(2*time.Minute), <-retry, "a timer fires with its own deadline")
	require.Equal(t, t0.Add(10*time.Minute), c.next(c.now(), limit), "then the precise one")
	c.set(t0.Add(10*time.Minute), false)
	require.Equal(t, t0.Add(10*time.Minute), <-wake)
	require.Empty(t, poll, "untracked timers wait for a sweep")
	require.Equal(t, limit, c.next(c.now(), limit), "nothing tracked left: the limit")
	c.set(limit, true)
	require.Equal(t, t0.Add(5*time.Minute), <-poll)
	require.Equal(t, limit, exec.Now())
	require.Positive(t, gen.Load(), "every call counts as activity")
}

func TestRequestsParkOnlyLongPolls(t *testing.T) {
	gen := new(atomic.Int64)
	rq := newRequests(gen)
	entered := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(rq.handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, "answer")
	})))
	defer srv.Close()
	hc := &http.Client{Transport: rq.transport(http.DefaultTransport)}

	for _, tc := range []struct {
		path       string
		busyInside int
	}{
		{"/plain", 1},        // a request being served is work under way
		{"/poll?wait=5m", 0}, // a long-poll waiting in the handler is parked
	} {
		type result struct {
			resp *http.Response
			err  error
		}
		done := make(chan result)
		go func() {
			resp, err := hc.Get(srv.URL + tc.path)
			done <- result{resp, err}
		}()
		<-entered
		require.Equal(t, tc.busyInside, rq.busy(), tc.path)
		release <- struct{}{}
		res := <-done
		require.NoError(t, res.err)
		resp := res.resp
		require.Equal(t, 1, rq.busy(), "%s: answered, its body not yet closed", tc.path)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, 0, rq.busy(), tc.path)
	}
}

func TestScanIdle(t *testing.T) {
	dump := []byte("goroutine 1 [running]:\nmain.main()\n\n" +
		"goroutine 7 [select, 2 minutes]:\nx()\n\n" +
		"goroutine 9 [IO wait]:\ny()\n\n" +
		"goroutine 12 [chan receive]:\nz()\n")
	idle, why := scanIdle(dump)
	require.True(t, idle, why)

	for _, state := range []string{"runnable", "running", "syscall", "syscall, 3 minutes"} {
		idle, why = scanIdle(append(dump, []byte("\ngoroutine 30 ["+state+"]:\nw()\n")...))
		require.False(t, idle, state)
		require.Contains(t, why, "goroutine 30", state)
	}
}
