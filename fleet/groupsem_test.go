package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/fleet"
	"github.com/afterhours-go/afterhours/server"
)

// fleetlockServer is an afterhours server with the FleetLock groups of
// config ("" for none), over HTTP.
func fleetlockServer(t *testing.T, config string) (*server.Handler, *httptest.Server) {
	t.Helper()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	h, err := server.New(server.NewMemStore(), server.WithClock(clk))
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	if config != "" {
		require.NoError(t, h.Fleet().SetConfig([]byte(config)))
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

// zincatiCall makes a FleetLock request as Zincati does and returns the
// status code and the body.
func zincatiCall(t *testing.T, url, op, group, id string) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"client_params": {"id": %q, "group": %q}}`, id, group)
	req, err := http.NewRequest("POST", url+"/v1/"+op, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("fleet-lock-protocol", "true")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var sb strings.Builder
	_, _ = fmt.Fprint(&sb, resp.Status)
	return resp.StatusCode, sb.String()
}

// holders returns the holders of group on the server.
func holders(t *testing.T, h *server.Handler, group string) []string {
	t.Helper()
	groups, err := h.Fleet().FleetLock()
	require.NoError(t, err)
	var ids []string
	for _, g := range groups {
		if g.Group == group {
			for _, hd := range g.Holders {
				ids = append(ids, hd.ID)
			}
		}
	}
	return ids
}

// occupancy counts the slots of a group known to be held: a rollout's
// running actions and the Zincati holder's time between its lock's answer
// and its release's request, each inside the true holding, so that its
// peak never exceeds the true peak.
type occupancy struct {
	mu        sync.Mutex
	now, peak int
	started   int
}

func (o *occupancy) add(d int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.now += d
	o.peak = max(o.peak, o.now)
}

// eventually polls cond until it holds, failing the test after 10 s of
// real time; each poll first calls step (which advances a fake clock).
func eventually(t *testing.T, step func(), cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		step()
		<-time.After(time.Millisecond)
	}
}

// waitEvent returns the first event of events that match accepts, failing
// after 10 s.
func waitEvent(t *testing.T, events <-chan fleet.Event, match func(fleet.Event) bool) fleet.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			require.True(t, ok, "the rollout ended first")
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatal("timed out waiting for an event")
		}
	}
}

// A rollout of 20 nodes of cluster-a and Zincati share the group's 2
// slots through the FleetLock protocol: while two Zincati nodes hold both,
// the rollout waits; it goes on, one at a time, when one releases, and two
// at a time after the other does; the rollout's running targets plus the
// Zincati holders never exceed 2, and every slot is free at the end.
func TestGroupSemaphoreSharedWithZincati(t *testing.T) {
	h, srv := fleetlockServer(t, `{"fleetlock": {"cluster-a": 2}}`)
	sem, err := fleet.NewFleetLockSemaphore(srv.URL, srv.Client())
	require.NoError(t, err)

	var occ occupancy
	for _, id := range []string{"zincati-1", "zincati-2"} {
		code, status := zincatiCall(t, srv.URL, "pre-reboot", "cluster-a", id)
		require.Equal(t, http.StatusOK, code, status)
		occ.add(1)
	}
	targets := make([]fleet.Target, 20)
	for i := range targets {
		targets[i] = fleet.Target{ID: fmt.Sprintf("node-%02d", i), Group: "cluster-a"}
	}
	var done atomic.Int32
	act := func(ctx context.Context, tg fleet.Target) error {
		occ.mu.Lock()
		occ.started++
		occ.mu.Unlock()
		occ.add(1)
		defer occ.add(-1)
		done.Add(1)
		return nil
	}
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 2, 22, 0, 0, 0, time.UTC))
	const retry = time.Minute
	r, err := fleet.NewRollout(targets, []fleet.Phase{{Name: "reboot", Run: act}},
		fleet.WithConcurrency(fleet.Count(5)), fleet.WithClock(clk), fleet.WithGroupSemaphore(sem, retry))
	require.NoError(t, err)
	events, stop := r.Subscribe()
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(context.Background()) }()

	ev := waitEvent(t, events, func(ev fleet.Event) bool { return ev.Kind == fleet.EventWaiting })
	require.Equal(t, "cluster-a", ev.Group)
	require.Contains(t, ev.Reason, "semaphore is full")
	require.NoError(t, ev.Err)
	require.Equal(t, ev.At.Add(retry), ev.Until)
	occ.mu.Lock()
	require.Zero(t, occ.started, "no target starts while Zincati holds every slot")
	occ.mu.Unlock()
	require.Zero(t, r.Status().Counts.Succeeded)

	// One Zincati node is back: the rollout takes the freed slot at its
	// next retry, then goes on at each of its own ends.
	occ.add(-1)
	code, status := zincatiCall(t, srv.URL, "steady-state", "cluster-a", "zincati-1")
	require.Equal(t, http.StatusOK, code, status)
	eventually(t, func() { clk.Add(retry) }, func() bool { return done.Load() >= 5 }, "5 targets done with one slot")

	occ.add(-1)
	code, status = zincatiCall(t, srv.URL, "steady-state", "cluster-a", "zincati-2")
	require.Equal(t, http.StatusOK, code, status)
	select {
	case err := <-runErr:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		// No retry is needed: a target refused while zincati-2 held a
		// slot found the other held by one of the rollout's, whose end
		// lets it try again.
		t.Fatal("the rollout did not finish after the release")
	}
	rep := r.Report()
	require.Equal(t, 20, rep.Stats.Counts.Succeeded)
	require.LessOrEqual(t, occ.peak, 2, "rollout targets plus Zincati holders over the group's slots")
	require.Empty(t, holders(t, h, "cluster-a"), "every slot given back")
}

// Killing a rollout whose targets hold slots gives every slot back; the
// targets that never started hold none and stay pending.
func TestGroupSemaphoreKillReleases(t *testing.T) {
	h, srv := fleetlockServer(t, `{"fleetlock": {"cluster-a": 2}}`)
	sem, err := fleet.NewFleetLockSemaphore(srv.URL, nil)
	require.NoError(t, err)
	targets := make([]fleet.Target, 20)
	for i := range targets {
		targets[i] = fleet.Target{ID: fmt.Sprintf("node-%02d", i), Group: "cluster-a"}
	}
	var running atomic.Int32
	act := func(ctx context.Context, tg fleet.Target) error {
		running.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}
	clk := clock.NewMock()
	r, err := fleet.NewRollout(targets, []fleet.Phase{{Name: "reboot", Run: act}},
		fleet.WithConcurrency(fleet.Count(5)), fleet.WithClock(clk), fleet.WithGroupSemaphore(sem, time.Minute))
	require.NoError(t, err)
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(context.Background()) }()
	eventually(t, func() {}, func() bool { return running.Load() == 2 }, "two targets holding the two slots")
	require.Len(t, holders(t, h, "cluster-a"), 2)
	require.Equal(t, int32(2), running.Load())

	r.Kill("test")
	select {
	case err := <-runErr:
		require.ErrorIs(t, err, fleet.ErrKilled)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Kill")
	}
	counts := r.Report().Stats.Counts
	require.Equal(t, 2, counts.Killed)
	require.Equal(t, 18, counts.Pending)
	require.Empty(t, holders(t, h, "cluster-a"), "the killed targets' slots given back")
}

// A semaphore that fails (FleetLock off on the server) fails no target:
// they wait, with the error in their EventWaiting, and start once the
// server has the group; targets without a group never wait for it.
func TestGroupSemaphoreErrorWaits(t *testing.T) {
	h, srv := fleetlockServer(t, "")
	sem, err := fleet.NewFleetLockSemaphore(srv.URL+"/", srv.Client())
	require.NoError(t, err)
	targets := []fleet.Target{{ID: "a1", Group: "cluster-a"}, {ID: "free"}, {ID: "a2", Group: "cluster-a"}}
	var mu sync.Mutex
	var ran []string
	act := func(ctx context.Context, tg fleet.Target) error {
		mu.Lock()
		ran = append(ran, tg.ID)
		mu.Unlock()
		return nil
	}
	clk := clock.NewMock()
	r, err := fleet.NewRollout(targets, []fleet.Phase{{Name: "reboot", Run: act}},
		fleet.WithConcurrency(fleet.Count(3)), fleet.WithClock(clk), fleet.WithGroupSemaphore(sem, time.Minute))
	require.NoError(t, err)
	events, stop := r.Subscribe()
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(context.Background()) }()
	ev := waitEvent(t, events, func(ev fleet.Event) bool { return ev.Kind == fleet.EventWaiting })
	require.Error(t, ev.Err)
	require.Contains(t, ev.Err.Error(), "fleetlock")
	require.Contains(t, ev.Reason, "semaphore failed")
	eventually(t, func() {}, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ran) == 1
	}, "the target without a group")
	mu.Lock()
	require.Equal(t, []string{"free"}, ran)
	mu.Unlock()

	require.NoError(t, h.Fleet().SetConfig([]byte(`{"fleetlock": {"cluster-a": 1}}`)))
	eventually(t, func() { clk.Add(time.Minute) }, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ran) == 3
	}, "the group's targets, once the server has the group")
	require.NoError(t, <-runErr)
	require.Equal(t, 3, r.Report().Stats.Counts.Succeeded)
	require.Empty(t, holders(t, h, "cluster-a"))
}

// A bad server URL or option is refused.
func TestGroupSemaphoreInvalid(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "http://", "::"} {
		_, err := fleet.NewFleetLockSemaphore(u, nil)
		require.ErrorIs(t, err, fleet.ErrInvalidOption, u)
	}
	_, err := fleet.NewRollout(nil, []fleet.Phase{{Name: "p", Run: func(context.Context, fleet.Target) error { return nil }}},
		fleet.WithGroupSemaphore(nil, 0))
	require.ErrorIs(t, err, fleet.ErrInvalidOption)
	h, _ := fleetlockServer(t, "")
	_, err = fleet.NewRollout(nil, []fleet.Phase{{Name: "p", Run: func(context.Context, fleet.Target) error { return nil }}},
		fleet.WithGroupSemaphore(h.Fleet().GroupSemaphore(), -time.Second))
	require.True(t, errors.Is(err, fleet.ErrInvalidOption))
}
