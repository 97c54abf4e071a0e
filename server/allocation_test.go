package server

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Clients that join and leave one at a time are placed with the fleet's
// Allocators as the whole fleet's allocation would place them: a fleet
// whose Allocators are dropped before every change (so that each change
// allocates every client again) ends with the same bases, change after
// change. A failed store and a new day drop the Allocators.
func TestFleetPlacesIncrementally(t *testing.T) {
	const nSites, nClients = 12, 300
	config := string(benchConfig(nSites, nClients/4)) // tight: some wait
	store := &failingStore{MemStore: NewMemStore()}
	inc := testFleet(t, store, config)
	full := testFleet(t, NewMemStore(), config)
	rng := rand.New(rand.NewPCG(1, 2))
	client := func(i int) Client {
		si := rng.IntN(nSites)
		return Client{ID: fmt.Sprintf("client-%04d", i), Site: fmt.Sprintf("site-%03d", si), LAN: fmt.Sprintf("lan-%d-%d", si, rng.IntN(2))}
	}
	same := func(step string) {
		t.Helper()
		a, b := placementsOf(t, inc), placementsOf(t, full)
		require.Equal(t, len(b), len(a), step)
		for id, pb := range b {
			pa := a[id]
			require.Equal(t, pb["pkg-repo"].Base, pa["pkg-repo"].Base, "%s: %s", step, id)
			require.Equal(t, pb["pkg-repo"].Unplaced == "", pa["pkg-repo"].Unplaced == "", "%s: %s", step, id)
		}
	}
	var ids []string
	for i := range nClients {
		c := client(i)
		_, err := inc.Register(c)
		require.NoError(t, err)
		full.allocs = allocCache{}
		_, err = full.Register(c)
		require.NoError(t, err)
		ids = append(ids, c.ID)
		if i%25 == 0 {
			same(fmt.Sprintf("join %d", i))
		}
	}
	same("joined")
	require.True(t, inc.allocsCurrent(inc.today()), "the allocators hold the placements")
	waiting := 0
	for _, p := range placementsOf(t, inc) {
		if p["pkg-repo"].Unplaced != "" {
			waiting++
		}
	}
	require.NotZero(t, waiting, "nobody waits: the test tests no retry")

	for i := range 40 {
		k := rng.IntN(len(ids))
		id := ids[k]
		ids = append(ids[:k], ids[k+1:]...)
		require.NoError(t, inc.Remove(id))
		full.allocs = allocCache{}
		require.NoError(t, full.Remove(id))
		if i%5 == 0 {
			// A client changes LAN.
			c := Client{ID: ids[rng.IntN(len(ids))], Site: "site-001", LAN: "lan-moved"}
			_, err := inc.Register(c)
			require.NoError(t, err)
			full.allocs = allocCache{}
			_, err = full.Register(c)
			require.NoError(t, err)
		}
		same(fmt.Sprintf("leave %d", i))
	}

	// A change that fails to store drops the allocators.
	store.fail = true
	_, err := inc.Register(client(9999))
	require.ErrorIs(t, err, errDisk)
	require.False(t, inc.allocsCurrent(inc.today()))
	store.fail = false
	c := client(10000)
	_, err = inc.Register(c)
	require.NoError(t, err)
	full.allocs = allocCache{}
	_, err = full.Register(c)
	require.NoError(t, err)
	same("after a failure")
	require.True(t, inc.allocsCurrent(inc.today()))

	// So does a new day.
	inc.clk.(interface{ Add(time.Duration) }).Add(24 * time.Hour)
	require.False(t, inc.allocsCurrent(inc.today()))
}

// A replica's Allocators hold its own view of the placements: a change
// another replica stores that moves clients without changing how many
// there are (a client moved to another LAN) drops them when the replica
// catches up, so that its next join is placed against the stored
// placements, not the ones it last made.
func TestReplicaCatchUpDropsAllocators(t *testing.T) {
	const nSites, nClients = 6, 60
	store, a, b := twoReplicas(t)
	require.NoError(t, a.SetConfig(benchConfig(nSites, nClients/8)))
	client := func(i int, lan string) Client {
		return Client{ID: fmt.Sprintf("client-%04d", i), Site: fmt.Sprintf("site-%03d", i%nSites), LAN: lan}
	}
	for i := range nClients {
		_, err := a.Register(client(i, fmt.Sprintf("lan-%d", i%3)))
		require.NoError(t, err)
	}
	a.wmu.Lock()
	current := a.allocsCurrent(a.today())
	a.wmu.Unlock()
	require.True(t, current, "the allocators hold a's placements")

	caughtUp(t, b)
	for i := 0; i < nClients; i += 7 {
		_, err := b.Register(client(i, "lan-moved"))
		require.NoError(t, err)
	}
	caughtUp(t, a)
	a.wmu.Lock()
	current = a.allocsCurrent(a.today())
	a.wmu.Unlock()
	require.False(t, current, "a kept allocators that b's moves made stale")

	for i := nClients; i < nClients+10; i++ {
		_, err := a.Register(client(i, "lan-moved"))
		require.NoError(t, err)
	}
	// Allocating every token again from the stored state moves and
	// places nobody: no base holds more than its capacity.
	st := loadStored(t, store)
	redo := map[string]bool{}
	for _, r := range st.cfg.Resources() {
		redo[r.Token] = true
	}
	next, err := placements(st.cfg, st.clients, redo, a.today())
	require.NoError(t, err)
	require.Empty(t, next)
}
