package fleet_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/fleet"
)

// A slot left held by a crashed run's target (node-00) is taken again
// recursively by the rollout that runs the target again, and given back
// when it ends; the group's other node waits for it, then runs.
func TestGroupSemaphoreResumedHolder(t *testing.T) {
	h, srv := fleetlockServer(t, `{"fleetlock": {"cluster-a": 1}}`)
	require.NoError(t, h.Fleet().FleetLockLock("cluster-a", "node-00")) // left by the crash
	sem, err := fleet.NewFleetLockSemaphore(srv.URL, srv.Client())
	require.NoError(t, err)
	targets := []fleet.Target{{ID: "node-00", Group: "cluster-a"}, {ID: "node-01", Group: "cluster-a"}}
	var occ occupancy
	act := func(ctx context.Context, tg fleet.Target) error {
		occ.add(1)
		occ.add(-1)
		return nil
	}
	r, err := fleet.NewRollout(targets, []fleet.Phase{{Name: "reboot", Run: act}},
		fleet.WithConcurrency(fleet.Count(2)), fleet.WithClock(clock.NewMock()), fleet.WithGroupSemaphore(sem, time.Hour))
	require.NoError(t, err)
	// No retry of the fake clock is needed: node-01, refused while node-00
	// holds the slot, tries again when node-00 ends.
	require.NoError(t, r.Run(context.Background()))
	require.Equal(t, 2, r.Report().Stats.Counts.Succeeded)
	require.Equal(t, 1, occ.peak)
	require.Empty(t, holders(t, h, "cluster-a"))
}

// With a coordinator, a target that waits for its group's semaphore gives
// its claim back (ended pending), so that it is claimed again, here by the
// same controller once the slot is free, rather than lost as taken.
func TestGroupSemaphoreCoordinatorGivesClaimBack(t *testing.T) {
	h, srv := fleetlockServer(t, `{"fleetlock": {"cluster-a": 1}}`)
	require.NoError(t, h.Fleet().FleetLockLock("cluster-a", "zincati-node"))
	sem, err := fleet.NewFleetLockSemaphore(srv.URL, srv.Client())
	require.NoError(t, err)
	targets := []fleet.Target{{ID: "node-00", Group: "cluster-a"}, {ID: "node-01", Group: "cluster-a"}}
	clk := clock.NewMock()
	r, err := fleet.NewRollout(targets, []fleet.Phase{{Name: "reboot", Run: func(context.Context, fleet.Target) error { return nil }}},
		fleet.WithConcurrency(fleet.Count(2)), fleet.WithClock(clk), fleet.WithGroupSemaphore(sem, time.Minute),
		fleet.WithCoordinator(fleet.NewMemoryCoordinator()))
	require.NoError(t, err)
	events, stop := r.Subscribe()
	defer stop()
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(context.Background()) }()
	waitEvent(t, events, func(ev fleet.Event) bool { return ev.Kind == fleet.EventWaiting })
	require.NoError(t, h.Fleet().FleetLockUnlock("cluster-a", "zincati-node"))
	var err2 error
	eventually(t, func() { clk.Add(time.Minute) }, func() bool {
		select {
		case err2 = <-runErr:
			return true
		default:
			return false
		}
	}, "the rollout's end")
	require.NoError(t, err2)
	counts := r.Report().Stats.Counts
	require.Equal(t, 2, counts.Succeeded)
	require.Zero(t, counts.Elsewhere)
	require.Empty(t, holders(t, h, "cluster-a"))
}

// A target abandoned after the killswitch gives its slot back at once,
// though its action still runs.
func TestGroupSemaphoreAbandonReleases(t *testing.T) {
	h, srv := fleetlockServer(t, `{"fleetlock": {"cluster-a": 2}}`)
	sem, err := fleet.NewFleetLockSemaphore(srv.URL, srv.Client())
	require.NoError(t, err)
	stuck := make(chan struct{})
	returned := make(chan struct{})
	var started atomic.Int32
	act := func(ctx context.Context, tg fleet.Target) error {
		started.Add(1)
		<-stuck // ignores its context
		close(returned)
		return nil
	}
	r, err := fleet.NewRollout([]fleet.Target{{ID: "node-00", Group: "cluster-a"}}, []fleet.Phase{{Name: "reboot", Run: act}},
		fleet.WithKillGrace(0), fleet.WithGroupSemaphore(sem, time.Minute))
	require.NoError(t, err)
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(context.Background()) }()
	eventually(t, func() {}, func() bool { return started.Load() == 1 }, "the action's start")
	require.Equal(t, []string{"node-00"}, holders(t, h, "cluster-a"))
	r.Kill("test")
	require.ErrorIs(t, <-runErr, fleet.ErrKilled)
	require.Equal(t, 1, r.Report().Stats.Counts.Abandoned)
	require.Empty(t, holders(t, h, "cluster-a"), "given back as Run abandoned it")
	close(stuck)
	<-returned
}
