package server

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// tightConfig has one site open 06:00 to 22:00 every day (after hours: 8h
// a night) and a token of 5h slots, one client at a time: one client fits.
const tightConfig = `{
  "sites": [{"name": "depot", "timezone": "Europe/Berlin", "tags": ["eu"],
    "business_hours": {"mon": ["06:00-22:00"], "tue": ["06:00-22:00"], "wed": ["06:00-22:00"],
      "thu": ["06:00-22:00"], "fri": ["06:00-22:00"], "sat": ["06:00-22:00"], "sun": ["06:00-22:00"]}}],
  "sharing": [{"token": "backup", "zone": "site", "duration": "5h", "capacity": 1,
    "tasks": [{"name": "backup", "run": ["/usr/lib/agent/backup"]}]}],
  "sets": [{"name": "all", "housekeeping": [{"name": "rotate", "run": ["/x"], "estimate": "5m"}]}]
}`

// fixedClock is a fake clock at a Monday noon of November 2026.
func fixedClock() *clock.Mock {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	return clk
}

func testFleet(t testing.TB, store Store, config string) *Fleet {
	t.Helper()
	f, err := OpenFleet(store, WithClock(fixedClock()))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	if config != "" {
		require.NoError(t, f.SetConfig([]byte(config)))
	}
	return f
}

func placementsOf(t *testing.T, f *Fleet) map[string]map[string]Placement {
	out := map[string]map[string]Placement{}
	for _, c := range f.Clients() {
		out[c.ID] = c.Placements
	}
	return out
}

// A client that joins is placed and moves nobody; one that cannot fit is
// unplaced with the reason, and its profile says so; removing a client
// places it in the capacity freed.
func TestFleetRegisterPlaces(t *testing.T) {
	f := testFleet(t, NewMemStore(), testConfig)
	var shops []Client
	for _, id := range []string{"shop-1", "shop-2", "shop-3"} {
		shops = append(shops, Client{ID: id, Site: "leeds", LAN: "leeds-lan"})
	}
	codes, err := f.Register(shops...)
	require.NoError(t, err)
	require.Len(t, codes, 3)
	before := placementsOf(t, f)
	bases := map[string]bool{}
	for _, id := range []string{"shop-1", "shop-2", "shop-3"} {
		for _, tok := range []string{"pkg-repo", "lan"} {
			pl := before[id][tok]
			require.NotEmpty(t, pl.Base, "%s %s: %+v", id, tok, pl)
			require.Empty(t, pl.Unplaced)
		}
		bases[before[id]["pkg-repo"].Base] = true
	}
	require.Len(t, bases, 3, "one client of the LAN at a time")

	_, err = f.Register(Client{ID: "kiosk-1", Site: "austin"})
	require.NoError(t, err)
	after := placementsOf(t, f)
	for id, p := range before {
		require.Equal(t, p, after[id], "client %s moved", id)
	}
	require.NotEmpty(t, after["kiosk-1"]["pkg-repo"].Base)

	// One fits the tight site; the second is unplaced.
	g := testFleet(t, NewMemStore(), tightConfig)
	_, err = g.Register(Client{ID: "a", Site: "depot"}, Client{ID: "b", Site: "depot"})
	require.NoError(t, err)
	pa, pb := placementsOf(t, g)["a"]["backup"], placementsOf(t, g)["b"]["backup"]
	require.NotEmpty(t, pa.Base)
	require.True(t, strings.HasPrefix(pb.Unplaced, "capacity: "), "%+v", pb)
	data, _, err := g.Profile("b")
	require.NoError(t, err)
	p, err := afterhours.ParseProfile(data)
	require.NoError(t, err)
	require.Equal(t, pb.Unplaced, p.Sharing[0].Unplaced)
	plan, err := afterhours.PlanAt(p, time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Empty(t, plan.Slots)
	require.Equal(t, afterhours.ReasonNoSlot, plan.Deferred[0].Reason)
	require.Equal(t, "unplaced: "+pb.Unplaced, plan.Deferred[0].Detail)

	require.NoError(t, g.Remove("a"))
	require.NotEmpty(t, placementsOf(t, g)["b"]["backup"].Base)
	require.ErrorIs(t, g.Remove("a"), ErrNoClient)
	_, _, err = g.Profile("a")
	require.ErrorIs(t, err, ErrNoClient)
}

func TestFleetRegisterRefuses(t *testing.T) {
	f := testFleet(t, NewMemStore(), testConfig)
	for _, c := range []Client{
		{ID: "", Site: "leeds"},
		{ID: "a/b", Site: "leeds"},
		{ID: strings.Repeat("x", 129), Site: "leeds"},
		{ID: "ok", Site: "paris"},
		{ID: "ok", Site: "leeds", LAN: "a\nb"},
	} {
		_, err := f.Register(Client{ID: "fine", Site: "leeds"}, c)
		require.ErrorIs(t, err, ErrBadClient, "%+v", c)
	}
	_, err := f.Register(Client{ID: "x", Site: "leeds"}, Client{ID: "x", Site: "austin"})
	require.ErrorIs(t, err, ErrBadClient)
	require.Empty(t, f.Clients(), "nothing half-applied")
}

// A site change places again only the clients whose base left its
// windows; a config that drops a site with clients is refused whole.
func TestFleetConfigChange(t *testing.T) {
	f := testFleet(t, NewMemStore(), testConfig)
	_, err := f.Register(Client{ID: "shop-1", Site: "leeds", LAN: "l1"}, Client{ID: "kiosk-1", Site: "austin", LAN: "k1"})
	require.NoError(t, err)
	before := placementsOf(t, f)
	_, etag, err := f.Profile("kiosk-1")
	require.NoError(t, err)

	// A set changes: no placement does, the profiles do.
	require.NoError(t, f.PutSet("kiosk", []byte(`{"tags": ["kiosk"], "updates": [{"name": "k-1", "run": ["/x"]}]}`)))
	require.Equal(t, before, placementsOf(t, f))
	data, etag2, err := f.Profile("kiosk-1")
	require.NoError(t, err)
	require.NotEqual(t, etag, etag2)
	require.Contains(t, string(data), `"k-1"`)

	// Austin now opens around the clock but on Sundays: the kiosk's bases
	// left its windows and it is placed again; Leeds's clients stay.
	austin := `{"timezone": "America/Chicago", "tags": ["us", "kiosk"], "business_hours": {` +
		`"mon": ["00:00-24:00"], "tue": ["00:00-24:00"], "wed": ["00:00-24:00"], "thu": ["00:00-24:00"],` +
		`"fri": ["00:00-24:00"], "sat": ["00:00-24:00"]}}`
	require.NoError(t, f.PutSite("austin", []byte(austin)))
	after := placementsOf(t, f)
	require.Equal(t, before["shop-1"], after["shop-1"], "leeds did not change")
	for tok, pl := range after["kiosk-1"] {
		require.NotEqual(t, before["kiosk-1"][tok], pl, "token %s of a kiosk open all week but Sunday", tok)
	}

	// Dropping austin is refused, and nothing changes.
	cfg := f.Config()
	err = f.SetConfig([]byte(`{"sites": [` + string(cfg.sites[0].raw) + `]}`))
	require.Equal(t, []string{"sites"}, problemPaths(t, err))
	require.Same(t, cfg, f.Config())
	require.Equal(t, after, placementsOf(t, f))
	require.Error(t, f.ValidateConfig([]byte(`{"sites": [`+string(cfg.sites[0].raw)+`]}`)))
	require.NoError(t, f.ValidateConfig([]byte(testConfig)))

	// A config with problems: all of them, nothing applied.
	err = f.SetConfig([]byte(strings.Replace(testConfig, `"capacity": 1}`, `"capacity": -1, "colour": "red"}`, 1)))
	require.Equal(t, []string{"sharing[1].capacity", "sharing[1].colour"}, problemPaths(t, err))
	require.Same(t, cfg, f.Config())

	// A token that goes leaves no placement behind.
	require.NoError(t, f.SetConfig([]byte(strings.Replace(testConfig,
		`{"token": "lan", "zone": "site", "duration": "15m", "uses": ["lan"], "capacity": 1}`,
		`{"token": "lan2", "zone": "site", "duration": "15m", "uses": ["lan"], "capacity": 1}`, 1))))
	for _, p := range placementsOf(t, f) {
		require.NotContains(t, p, "lan")
		require.NotEmpty(t, p["lan2"].Base)
	}
}

func TestFleetEnrolment(t *testing.T) {
	f := testFleet(t, NewMemStore(), testConfig)
	codes, err := f.Register(Client{ID: "shop-1", Site: "leeds"}, Client{ID: "shop-2", Site: "leeds"})
	require.NoError(t, err)
	require.Len(t, codes[0], 26) // 128 bits in base32
	require.NotEqual(t, codes[0], codes[1])

	_, err = f.Authenticate("")
	require.ErrorIs(t, err, ErrBadToken)
	id, token, err := f.Enroll(codes[0])
	require.NoError(t, err)
	require.Equal(t, "shop-1", id)
	got, err := f.Authenticate(token)
	require.NoError(t, err)
	require.Equal(t, "shop-1", got)
	_, _, err = f.Enroll(codes[0])
	require.ErrorIs(t, err, ErrBadCode, "a code is used once")
	_, _, err = f.Enroll("nonsense")
	require.ErrorIs(t, err, ErrBadCode)
	info, err := f.Client("shop-1")
	require.NoError(t, err)
	require.True(t, info.Enrolled)

	// Registering again gives a new code; the token works until it is used.
	again, err := f.Register(Client{ID: "shop-1", Site: "leeds"})
	require.NoError(t, err)
	_, err = f.Authenticate(token)
	require.NoError(t, err)
	_, token2, err := f.Enroll(again[0])
	require.NoError(t, err)
	_, err = f.Authenticate(token)
	require.ErrorIs(t, err, ErrBadToken)
	_, err = f.Authenticate(token2)
	require.NoError(t, err)

	// Nothing secret is stored in the clear.
	require.NoError(t, f.store.View(func(tx Tx) error {
		return tx.Scan("", func(k string, v []byte) error {
			for _, s := range []string{codes[0], codes[1], token, token2} {
				require.NotContains(t, string(v), s, k)
			}
			return nil
		})
	}))

	// A removed client's token stops working.
	require.NoError(t, f.Remove("shop-1"))
	_, err = f.Authenticate(token2)
	require.ErrorIs(t, err, ErrBadToken)
}

// A fleet on a reopened bbolt file is the fleet that was closed.
func TestFleetReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	s, err := OpenBoltStore(path)
	require.NoError(t, err)
	f := testFleet(t, s, testConfig)
	codes, err := f.Register(Client{ID: "shop-1", Site: "leeds", LAN: "l"}, Client{ID: "kiosk-1", Site: "austin"})
	require.NoError(t, err)
	_, token, err := f.Enroll(codes[0])
	require.NoError(t, err)
	data, etag, err := f.Profile("shop-1")
	require.NoError(t, err)
	clients := f.Clients()
	require.NoError(t, s.Close())

	s, err = OpenBoltStore(path)
	require.NoError(t, err)
	defer s.Close()
	g := testFleet(t, s, "")
	require.Equal(t, clients, g.Clients())
	data2, etag2, err := g.Profile("shop-1")
	require.NoError(t, err)
	require.Equal(t, string(data), string(data2))
	require.Equal(t, etag, etag2)
	id, err := g.Authenticate(token)
	require.NoError(t, err)
	require.Equal(t, "shop-1", id)
	_, _, err = g.Enroll(codes[1])
	require.NoError(t, err)
}

// A store that fails a transaction leaves the fleet as it was.
func TestFleetStoreFailure(t *testing.T) {
	store := &failingStore{MemStore: NewMemStore()}
	f := testFleet(t, store, testConfig)
	store.fail = true
	_, err := f.Register(Client{ID: "shop-1", Site: "leeds"})
	require.ErrorIs(t, err, errDisk)
	require.Empty(t, f.Clients())
	cfg := f.Config()
	require.ErrorIs(t, f.PutSet("new", []byte(`{}`)), errDisk)
	require.Same(t, cfg, f.Config())
}

var errDisk = errors.New("disk full")

type failingStore struct {
	*MemStore
	fail bool
}

func (s *failingStore) Update(f func(Tx) error) error {
	if s.fail {
		return s.MemStore.Update(func(tx Tx) error {
			if err := f(tx); err != nil {
				return err
			}
			return errDisk
		})
	}
	return s.MemStore.Update(f)
}

// Reads and changes in parallel (run with -race).
func TestFleetConcurrent(t *testing.T) {
	f := testFleet(t, NewMemStore(), testConfig)
	_, err := f.Register(Client{ID: "shop-0", Site: "leeds"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range 20 {
				data, etag, err := f.Profile("shop-0")
				if err != nil || len(data) == 0 || etag == "" {
					t.Errorf("profile: %v", err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			id := []string{"a", "b", "c", "d"}[i]
			if _, err := f.Register(Client{ID: id, Site: "austin"}); err != nil {
				t.Error(err)
			}
			if err := f.PutSet("s-"+id, []byte(`{"tags": ["nowhere"]}`)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	require.Len(t, f.Clients(), 5)
	require.Len(t, f.Config().sets, 7)
}

// Reads do not wait for the work of a change: a profile is served while
// a registration has allocated and not yet stored, and shows the state
// before it.
func TestFleetReadsDuringChange(t *testing.T) {
	f := testFleet(t, NewMemStore(), testConfig)
	_, err := f.Register(Client{ID: "shop-1", Site: "leeds"})
	require.NoError(t, err)
	working, release := make(chan struct{}), make(chan struct{})
	f.beforeCommit = func() {
		close(working)
		<-release
	}
	done := make(chan error, 1)
	go func() {
		_, err := f.Register(Client{ID: "shop-2", Site: "leeds"})
		done <- err
	}()
	<-working
	_, _, err = f.Profile("shop-1")
	require.NoError(t, err)
	require.Len(t, f.Clients(), 1)
	close(release)
	require.NoError(t, <-done)
	require.Len(t, f.Clients(), 2)
}
