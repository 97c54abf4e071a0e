package etcd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/afterhours-go/afterhours/fleet"
	"github.com/afterhours-go/afterhours/server"
	"github.com/stretchr/testify/require"
)

// raceConfig has room, in the token "backup" (2 h slots, one client at a
// time), for fewer clients than the race registers.
const raceConfig = `{
  "sites": [{"name": "leeds", "timezone": "Europe/London", "tags": ["uk"],
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
      "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]}}],
  "sharing": [{"token": "backup", "zone": "site", "duration": "2h", "capacity": 1,
    "tasks": [{"name": "backup", "run": ["/usr/lib/agent/backup"]}]}],
  "sets": [{"name": "all", "housekeeping": [{"name": "rotate", "run": ["/x"], "estimate": "5m"}]}]
}`

// Two fleets on two etcd stores (two clients) of one prefix, each its own
// leader, race to register clients and to add sets: every registration
// and set is kept, both replicas end up serving what the store holds with
// the same ETags, no base is given beyond the capacity (allocating again
// from the end state changes nothing), and no client ever moves.
func TestFleetReplicasRace(t *testing.T) {
	prefix := etcdtest.Prefix(t)
	clk := afterhoursClock{time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)}
	open := func() *server.Fleet {
		s, err := etcd.NewStore(etcdtest.Client(t), prefix)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		f, err := server.OpenFleet(s, server.WithClock(clk))
		require.NoError(t, err)
		t.Cleanup(func() { f.Close() })
		return f
	}
	fs := []*server.Fleet{open(), open()}
	require.NoError(t, fs[0].SetConfig([]byte(raceConfig)))

	const perReplica = 8
	var (
		mu   sync.Mutex
		seen = map[string]string{} // client -> its base
		errs = make(chan error, 4*perReplica)
		wg   sync.WaitGroup
	)
	observe := func(f *server.Fleet) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range f.Clients() {
			b := c.Placements["backup"].Base
			if b == "" {
				continue
			}
			if old, ok := seen[c.ID]; ok && old != b {
				errs <- fmt.Errorf("client %s moved from %s to %s", c.ID, old, b)
			}
			seen[c.ID] = b
		}
	}
	for r, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perReplica {
				if _, err := f.Register(server.Client{ID: fmt.Sprintf("r%d-%02d", r, i), Site: "leeds"}); err != nil {
					errs <- err
					return
				}
				observe(f)
				if i%4 == 0 {
					set := `{"tags": ["uk"], "housekeeping": [{"name": "extra", "run": ["/x"]}]}`
					if err := f.PutSet(fmt.Sprintf("extra-%d-%d", r, i), []byte(set)); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	// The store's state, as a replica opened now reads it.
	truth := open()
	want := truth.Clients()
	require.Len(t, want, 2*perReplica)
	var stored struct {
		Sets []struct {
			Name string `json:"name"`
		} `json:"sets"`
	}
	data, err := json.Marshal(truth.Config())
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &stored))
	var sets []string
	for _, s := range stored.Sets {
		sets = append(sets, s.Name)
	}
	slices.Sort(sets)
	require.Equal(t, []string{"all", "extra-0-0", "extra-0-4", "extra-1-0", "extra-1-4"}, sets, "no replica's set was lost")
	var a *fleet.Allocation
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, f := range fs {
		for _, c := range want {
			_, etag, err := truth.Profile(c.ID)
			require.NoError(t, err)
			// Wait for the replica to serve the store's profile: each
			// long-poll returns at its next change.
			got := ""
			for got != etag {
				_, got, _, err = f.WaitProfile(ctx, c.ID, got, time.Hour)
				require.NoError(t, err)
				require.NoError(t, ctx.Err(), "client %s: the replica serves %s, the store %s", c.ID, got, etag)
			}
		}
		observe(f)
		require.Equal(t, want, f.Clients())
	}

	// Allocating again from the end state keeps every base and places
	// nobody new: no base holds more than the capacity, and nobody was
	// left unplaced where it fits.
	cfg := truth.Config()
	res := cfg.Resources()[0]
	var list []fleet.Client
	prev := map[string]string{}
	unplaced := 0
	for _, c := range want {
		list = append(list, fleet.Client{ID: c.ID, Site: cfg.Site(c.Site), LAN: c.LAN})
		if b := c.Placements["backup"].Base; b != "" {
			prev[c.ID] = b
		} else {
			unplaced++
		}
	}
	require.NotZero(t, unplaced, "the race filled the capacity")
	a, err = fleet.Allocate(list, res, afterhours.DateOf(clk.Now()), prev)
	require.NoError(t, err)
	require.Equal(t, prev, a.Bases())
	require.Equal(t, slices.Sorted(maps.Keys(prev)), slices.Sorted(maps.Keys(a.Bases())))
}

// afterhoursClock is a clock stopped at an instant.
type afterhoursClock struct{ t time.Time }

func (c afterhoursClock) Now() time.Time { return c.t }
func (c afterhoursClock) After(d time.Duration) <-chan time.Time {
	return make(chan time.Time) // never: the test waits on the store, not the clock
}
