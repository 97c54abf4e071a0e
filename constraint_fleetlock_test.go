package afterhours_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/server"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// fleetlockServer is a fleet server whose config has the FleetLock group
// "tills" of one slot.
func fleetlockServer(t *testing.T, clk afterhours.Clock) (*httptest.Server, *server.Fleet) {
	t.Helper()
	const admin = "admin-token-0123456789"
	h, err := server.New(server.NewMemStore(), server.WithClock(clk), server.WithAdminToken(admin, server.RoleAdmin))
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := `{"sites": [{"name": "leeds", "timezone": "Europe/London"}], "fleetlock": {"tills": 1}}`
	req, _ := http.NewRequest("PUT", srv.URL+"/v1/config", strings.NewReader(cfg))
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return srv, h.Fleet()
}

// Two tills of one group of one slot, each with a reboot step due at the
// same time: the second waits while the first reboots, and starts once the
// first's run ended and gave the slot back. A step that does not use the
// reboot resource is not held back.
func TestFleetLockConstraint(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)) // a Monday evening: the window
	srv, fleet := fleetlockServer(t, clk)

	type till struct {
		e       *afterhours.Executor
		release chan struct{}
		events  <-chan afterhours.Event
	}
	var mu sync.Mutex
	rebooting := 0
	most := 0
	newTill := func(id string) *till {
		var p afterhours.Profile
		require.NoError(t, json.Unmarshal([]byte(`{"client": "`+id+`", "site": {"timezone": "Europe/London"},
		  "housekeeping": [{"name": "rotate-logs", "estimate": "1m"},
		    {"name": "reboot", "estimate": "10m", "uses": ["reboot"]}]}`), &p))
		tl := &till{release: make(chan struct{})}
		p.Housekeeping[0].Action = afterhours.ActionFunc(func(context.Context) error { return nil })
		p.Housekeeping[1].Action = afterhours.ActionFunc(func(context.Context) error {
			mu.Lock()
			rebooting++
			most = max(most, rebooting)
			mu.Unlock()
			<-tl.release
			mu.Lock()
			rebooting--
			mu.Unlock()
			return nil
		})
		require.NoError(t, p.Validate())
		fl, err := afterhours.FleetLock(srv.URL, id, "tills", srv.Client())
		require.NoError(t, err)
		tl.e, err = afterhours.NewExecutor(&p, afterhours.WithClock(clk), afterhours.WithConstraints(fl))
		require.NoError(t, err)
		var unsubscribe func()
		tl.events, unsubscribe = tl.e.Subscribe()
		t.Cleanup(unsubscribe)
		return tl
	}
	a, b := newTill("till-a"), newTill("till-b")
	ctx, cancel := context.WithCancel(context.Background())
	var runs sync.WaitGroup
	defer func() { cancel(); runs.Wait() }()
	runs.Go(func() { a.e.Run(ctx) })
	wait := func(tl *till, kind afterhours.EventKind, task string) afterhours.Event {
		t.Helper()
		for ev := range tl.events {
			if ev.Kind == kind && ev.Task == task {
				return ev
			}
		}
		t.Fatalf("no %v %s", kind, task)
		return afterhours.Event{}
	}
	wait(a, afterhours.EventStarted, "reboot")
	holders := func() []string {
		groups, err := fleet.FleetLock()
		require.NoError(t, err)
		var ids []string
		for _, h := range groups[0].Holders {
			ids = append(ids, h.ID)
		}
		return ids
	}
	require.Equal(t, []string{"till-a"}, holders())

	runs.Go(func() { b.e.Run(ctx) })
	wait(b, afterhours.EventFinished, "rotate-logs") // not held back
	held := wait(b, afterhours.EventHeld, "reboot")
	require.Equal(t, "constraint:fleetlock", held.Reason)
	require.Contains(t, held.Detail, "every slot is held")

	close(a.release)
	wait(a, afterhours.EventFinished, "reboot")
	require.Eventually(t, func() bool { return len(holders()) == 0 }, 10*time.Second, 10*time.Millisecond,
		"a's slot given back when its run ended")
	clk.Add(30 * time.Second) // b's backoff: it checks again
	wait(b, afterhours.EventStarted, "reboot")
	require.Equal(t, []string{"till-b"}, holders())
	close(b.release)
	wait(b, afterhours.EventFinished, "reboot")
	require.Eventually(t, func() bool { return len(holders()) == 0 }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, 1, most, "never two tills rebooting at once")
}

// At its first check after a start, the constraint releases what the
// machine held before (an agent that died while its reboot step ran).
func TestFleetLockReleasesAtStart(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	srv, fleet := fleetlockServer(t, clk)
	require.NoError(t, fleet.FleetLockLock("tills", "till-a")) // held by the agent that died
	fl, err := afterhours.FleetLock(srv.URL, "till-a", "tills", srv.Client())
	require.NoError(t, err)
	other := &afterhours.Task{Name: "other"}
	require.Equal(t, afterhours.Allow, fl.Check(context.Background(), afterhours.Check{Task: other}).Decision)
	groups, _ := fleet.FleetLock()
	require.Len(t, groups[0].Holders, 1, "a task that does not reboot touches nothing")

	reboot := &afterhours.Task{Name: "reboot", Uses: []string{"reboot"}}
	clk.Add(time.Minute)
	v := fl.Check(context.Background(), afterhours.Check{Task: reboot})
	require.Equal(t, afterhours.Allow, v.Decision, v.Reason)
	groups, _ = fleet.FleetLock()
	require.Equal(t, "till-a", groups[0].Holders[0].ID)
	require.True(t, groups[0].Holders[0].Since.Equal(clk.Now()), "released and taken again, a minute later")
	fl.Release(context.Background(), afterhours.Check{Task: reboot})
	groups, _ = fleet.FleetLock()
	require.Empty(t, groups[0].Holders)

	// A server that cannot be reached makes the step wait, not fail.
	srv.Close()
	fl, err = afterhours.FleetLock(srv.URL, "till-a", "tills", nil)
	require.NoError(t, err)
	v = fl.Check(context.Background(), afterhours.Check{Task: reboot})
	require.Equal(t, afterhours.Wait, v.Decision)

	_, err = afterhours.FleetLock("ftp://x", "till-a", "tills", nil)
	require.Error(t, err)
	_, err = afterhours.FleetLock("https://x", "till a", "tills", nil)
	require.Error(t, err)
	_, err = afterhours.FleetLock("https://x", "till-a", "t/s", nil)
	require.Error(t, err)
}
