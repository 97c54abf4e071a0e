package server

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// The in-process semaphore is the FleetLock groups: recursive, full when
// others hold every slot, an error for a group the config lacks, and a
// release of what one does not hold is no error.
func TestGroupSemaphore(t *testing.T) {
	h, err := New(NewMemStore())
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	f := h.Fleet()
	sem := f.GroupSemaphore()
	ctx := context.Background()
	_, err = sem.Acquire(ctx, "cluster-a", "node-1")
	require.ErrorIs(t, err, ErrFleetLockOff)
	require.NoError(t, f.SetConfig([]byte(`{"fleetlock": {"cluster-a": 1}}`)))

	require.NoError(t, f.FleetLockLock("cluster-a", "zincati-node")) // as /v1/pre-reboot does
	ok, err := sem.Acquire(ctx, "cluster-a", "node-1")
	require.NoError(t, err)
	require.False(t, ok, "full")
	require.NoError(t, sem.Release(ctx, "cluster-a", "node-1"), "holds none")
	require.NoError(t, f.FleetLockUnlock("cluster-a", "zincati-node"))
	for range 2 {
		ok, err = sem.Acquire(ctx, "cluster-a", "node-1")
		require.NoError(t, err)
		require.True(t, ok, "free, then recursive")
	}
	_, err = sem.Acquire(ctx, "cluster-b", "node-1")
	require.ErrorIs(t, err, ErrFleetLockGroup)
	groups, err := f.FleetLock()
	require.NoError(t, err)
	require.Len(t, groups[0].Holders, 1)
	require.Equal(t, "node-1", groups[0].Holders[0].ID)
	require.NoError(t, sem.Release(ctx, "cluster-a", "node-1"))
	groups, err = f.FleetLock()
	require.NoError(t, err)
	require.Empty(t, groups[0].Holders)
}
