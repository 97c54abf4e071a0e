package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// sharedStores are the stores the replica tests run on: one store that
// several fleets share, as replicas in several processes share etcd.
func sharedStores() map[string]func(t *testing.T) Store {
	return map[string]func(t *testing.T) Store{
		"mem": func(*testing.T) Store { return NewMemStore() },
		"bolt": func(t *testing.T) Store {
			s, err := OpenBoltStore(filepath.Join(t.TempDir(), "fleet.db"))
			require.NoError(t, err)
			return s
		},
	}
}

// replicaDeadline bounds the waits for a replica to see a change: a
// failure guard, far above the time it takes.
const replicaDeadline = 10 * time.Second

// openReplicas opens n fleets on store; the caller closes them.
func openReplicas(t *testing.T, store Store, n int, opts ...Option) []*Fleet {
	t.Helper()
	var fs []*Fleet
	for range n {
		f, err := OpenFleet(store, append([]Option{WithClock(fixedClock())}, opts...)...)
		require.NoError(t, err)
		fs = append(fs, f)
	}
	return fs
}

// twoReplicas opens two fleets on one new MemStore. The test's cleanup
// closes them and the store, and then checks that no goroutine is left.
func twoReplicas(t *testing.T) (*MemStore, *Fleet, *Fleet) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	store := NewMemStore()
	t.Cleanup(func() { store.Close() })
	fs := openReplicas(t, store, 2)
	t.Cleanup(func() { closeAll(fs) })
	return store, fs[0], fs[1]
}

func closeAll(fs []*Fleet) {
	for _, f := range fs {
		f.Close()
	}
}

func genOf(f *Fleet) uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.gen
}

func storeGen(t *testing.T, s Store) uint64 {
	var n uint64
	require.NoError(t, s.View(func(tx Tx) (err error) {
		n, err = readGen(tx)
		return err
	}))
	return n
}

// caughtUp waits until f's memory is at its store's generation.
func caughtUp(t *testing.T, f *Fleet) {
	t.Helper()
	deadline := time.After(replicaDeadline)
	for {
		changed := f.bell.changed()
		if genOf(f) == storeGen(t, f.store) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the replica stayed at generation %d, the store is at %d", genOf(f), storeGen(t, f.store))
		}
	}
}

// sameProfiles checks that every replica serves every client's profile
// with the same bytes and ETag, and knows the same clients and config.
func sameProfiles(t *testing.T, fs []*Fleet) {
	t.Helper()
	want := fs[0].Clients()
	for _, f := range fs[1:] {
		require.Equal(t, want, f.Clients())
		require.Equal(t, fs[0].Config().sets, f.Config().sets)
	}
	for _, c := range want {
		data, etag, err := fs[0].Profile(c.ID)
		require.NoError(t, err)
		for _, f := range fs[1:] {
			d, e, err := f.Profile(c.ID)
			require.NoError(t, err)
			require.Equal(t, etag, e, "client %s", c.ID)
			require.Equal(t, string(data), string(d))
		}
	}
}

// A change on one replica is served by the others, with the same ETag:
// the config, registrations, a set, a removal; a long-poll on another
// replica wakes with the new profile; an enrolment code registered on one
// replica is taken at once by another, and the token works at once on the
// first.
func TestReplicasServeTheSameProfile(t *testing.T) {
	for name, open := range sharedStores() {
		t.Run(name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			store := open(t)
			defer store.Close()
			fs := openReplicas(t, store, 3)
			defer closeAll(fs)
			a, b, c := fs[0], fs[1], fs[2]

			require.NoError(t, a.SetConfig([]byte(testConfig)))
			codes, err := a.Register(Client{ID: "shop-1", Site: "leeds", LAN: "lan-1"}, Client{ID: "shop-2", Site: "leeds", LAN: "lan-2"},
				Client{ID: "kiosk-1", Site: "austin"})
			require.NoError(t, err)
			// The code is taken by another replica at once, whether or not
			// it has seen the registration yet; the token works on the
			// first at once.
			id, token, err := c.Enroll(codes[0])
			require.NoError(t, err)
			require.Equal(t, "shop-1", id)
			got, err := a.Authenticate(token)
			require.NoError(t, err)
			require.Equal(t, "shop-1", got)
			_, _, err = b.Enroll(codes[0])
			require.ErrorIs(t, err, ErrBadCode, "a code is used once across replicas")
			for _, f := range fs {
				caughtUp(t, f)
			}
			sameProfiles(t, fs)

			// A long-poll on b wakes when a changes the set every
			// client takes.
			_, etag, err := b.Profile("shop-1")
			require.NoError(t, err)
			type answer struct {
				etag    string
				changed bool
				err     error
			}
			woke := make(chan answer, 1)
			ctx, cancel := context.WithTimeout(context.Background(), replicaDeadline)
			defer cancel()
			waiting := b.bell.changed()
			go func() {
				_, tag, changed, err := b.WaitProfile(ctx, "shop-1", etag, time.Hour)
				woke <- answer{tag, changed, err}
			}()
			set := `{"tags": [], "housekeeping": [{"name": "rotate-logs", "run": ["/usr/sbin/logrotate"], "estimate": "3m"}]}`
			require.NoError(t, a.PutSet("base", []byte(set)))
			ans := <-woke
			require.NoError(t, ans.err)
			require.True(t, ans.changed, "the long-poll on another replica woke with the new profile")
			_, want, err := a.Profile("shop-1")
			require.NoError(t, err)
			require.Equal(t, want, ans.etag)
			<-waiting
			for _, f := range fs {
				caughtUp(t, f)
			}
			sameProfiles(t, fs)

			require.NoError(t, a.Remove("shop-2"))
			for _, f := range fs {
				caughtUp(t, f)
				_, _, err := f.Profile("shop-2")
				require.ErrorIs(t, err, ErrNoClient)
			}
			sameProfiles(t, fs)
		})
	}
}

// raceConfig is testConfig with room for fewer clients than the race
// registers: some are left unplaced.
var raceConfig = strings.NewReplacer(`"duration": "20m", "buffer": "10m"`, `"duration": "2h", "buffer": "10m"`,
	`"capacity": 2, "lan_capacity": 1`, `"capacity": 1, "lan_capacity": 1`).Replace(testConfig)

// Two replicas, each its own leader, race to register clients and to add
// sets to the config: every registration and every set is kept, every
// replica ends with the store's state, no base is given beyond the
// capacity (allocating again from the end state changes nothing), and no
// client ever moves.
func TestReplicasRaceNeverPlaceTwice(t *testing.T) {
	for name, open := range sharedStores() {
		t.Run(name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			store := open(t)
			defer store.Close()
			fs := openReplicas(t, store, 2)
			defer closeAll(fs)
			require.NoError(t, fs[0].SetConfig([]byte(raceConfig)))

			const perReplica = 16
			var (
				mu   sync.Mutex
				seen = map[string]map[string]string{} // client -> token -> every base it was seen with
				wg   sync.WaitGroup
				errs = make(chan error, 2*perReplica)
			)
			observe := func(f *Fleet) {
				mu.Lock()
				defer mu.Unlock()
				for id, p := range placementsOf(t, f) {
					for tok, pl := range p {
						if pl.Base == "" {
							continue
						}
						if seen[id] == nil {
							seen[id] = map[string]string{}
						}
						if old, ok := seen[id][tok]; ok && old != pl.Base {
							errs <- fmt.Errorf("client %s moved on %s from %s to %s", id, tok, old, pl.Base)
						}
						seen[id][tok] = pl.Base
					}
				}
			}
			for r, f := range fs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perReplica {
						site, lan := "leeds", fmt.Sprintf("lan-%d", i%6)
						if i%3 == 0 {
							site, lan = "austin", ""
						}
						// A change that the other replica kept making
						// stale is tried again, as an admin does after a
						// 503.
						err := ErrContended
						for errors.Is(err, ErrContended) {
							_, err = f.Register(Client{ID: fmt.Sprintf("r%d-%02d", r, i), Site: site, LAN: lan})
						}
						if err != nil {
							errs <- err
							return
						}
						observe(f)
						if i%8 == 0 {
							set := fmt.Sprintf(`{"tags": ["uk"], "housekeeping": [{"name": "extra-%d-%d", "run": ["/x"], "estimate": "1m"}]}`, r, i)
							err := ErrContended
							for errors.Is(err, ErrContended) {
								err = f.PutSet(fmt.Sprintf("extra-%d-%d", r, i), []byte(set))
							}
							if err != nil {
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
			for _, f := range fs {
				caughtUp(t, f)
				observe(f)
			}
			sameProfiles(t, fs)

			// Memory is the store.
			st := loadStored(t, store)
			require.Len(t, st.clients, 2*perReplica)
			for _, f := range fs {
				require.Equal(t, placementsFrom(st.clients), placementsOf(t, f))
			}
			var sets []string
			for _, s := range st.cfg.sets {
				sets = append(sets, s.name)
			}
			require.Equal(t, []string{"base", "retail", "kiosk", "extra-0-0", "extra-1-0", "extra-0-8", "extra-1-8"},
				sortedLike(sets), "no replica's set was lost")
			// Allocating every token again from the end state moves and
			// places nobody: no base holds more than its capacity, and no
			// client was left unplaced where it fits.
			redo := map[string]bool{}
			for _, r := range st.cfg.Resources() {
				redo[r.Token] = true
			}
			next, err := placements(st.cfg, st.clients, redo, fs[0].today())
			require.NoError(t, err)
			require.Empty(t, next)
			unplaced := 0
			for _, rec := range st.clients {
				for _, pl := range rec.Placements {
					if pl.Unplaced != "" {
						unplaced++
					}
				}
			}
			require.NotZero(t, unplaced, "the race filled the capacity")
			t.Logf("%d of %d placements unplaced", unplaced, 2*perReplica*len(redo))
		})
	}
}

// sortedLike puts the race's set names in the order the test lists them:
// the config's own sets first, then by the index of the registration and
// the replica, since the two replicas' sets interleave in any order.
func sortedLike(sets []string) []string {
	out := slices.Clone(sets)
	key := func(s string) (int, int) {
		var r, i int
		if _, err := fmt.Sscanf(s, "extra-%d-%d", &r, &i); err != nil {
			return -1, 0
		}
		return i, r
	}
	slices.SortStableFunc(out, func(a, b string) int {
		ai, ar := key(a)
		bi, br := key(b)
		if ai != bi {
			return ai - bi
		}
		return ar - br
	})
	return out
}

func loadStored(t *testing.T, s Store) *fleetState {
	var st *fleetState
	require.NoError(t, s.View(func(tx Tx) (err error) {
		st, err = loadState(tx)
		return err
	}))
	return st
}

func placementsFrom(recs map[string]*clientRecord) map[string]map[string]Placement {
	out := map[string]map[string]Placement{}
	for id, rec := range recs {
		out[id] = maps.Clone(rec.Placements)
	}
	return out
}

// A change computed from memory that another replica's change made stale
// is computed again, and keeps both; one that only an enrolment came
// before commits at once, and keeps the token the enrolment gave.
func TestReplicaChangeComputedAgain(t *testing.T) {
	_, a, b := twoReplicas(t)
	require.NoError(t, a.SetConfig([]byte(tightConfig)))
	caughtUp(t, b)

	// b places "first" while a computes "second": a computes again and
	// finds the one slot taken.
	attempts := 0
	a.beforeCommit = func() {
		attempts++
		if attempts == 1 {
			_, err := b.Register(Client{ID: "first", Site: "depot"})
			require.NoError(t, err)
		}
	}
	_, err := a.Register(Client{ID: "second", Site: "depot"})
	require.NoError(t, err)
	require.Equal(t, 2, attempts)
	p := placementsOf(t, a)
	require.NotEmpty(t, p["first"]["backup"].Base)
	require.True(t, strings.HasPrefix(p["second"]["backup"].Unplaced, "capacity: "), "%+v", p["second"])
	caughtUp(t, b)
	require.Equal(t, p, placementsOf(t, b))

	// An enrolment on b while a registers "first" again (a new code, the
	// token kept): a commits at once, and the token b gave stays valid.
	codes, err := b.Register(Client{ID: "third", Site: "depot"})
	require.NoError(t, err)
	caughtUp(t, a)
	attempts = 0
	var token string
	a.beforeCommit = func() {
		attempts++
		if attempts == 1 {
			_, token, err = b.Enroll(codes[0])
			require.NoError(t, err)
		}
	}
	_, err = a.Register(Client{ID: "third", Site: "depot", LAN: "new-lan"})
	require.NoError(t, err)
	require.Equal(t, 1, attempts, "an enrolment does not make a change stale")
	a.beforeCommit = nil
	fs := []*Fleet{a, b}
	for _, f := range fs {
		caughtUp(t, f)
		id, err := f.Authenticate(token)
		require.NoError(t, err, "the token given meanwhile stays")
		require.Equal(t, "third", id)
		info, err := f.Client("third")
		require.NoError(t, err)
		require.Equal(t, "new-lan", info.LAN)
	}
	sameProfiles(t, fs)
}

// A replica that fell behind further than the log reaches reloads the
// whole fleet before its change, and its change keeps the others'.
func TestReplicaCatchesUpPastTheLog(t *testing.T) {
	store, a, b := twoReplicas(t)
	require.NoError(t, a.SetConfig([]byte(testConfig)))
	caughtUp(t, b)
	b.Close() // b stops following
	_, err := a.Register(Client{ID: "shop-1", Site: "leeds", LAN: "l1"})
	require.NoError(t, err)
	require.NoError(t, a.PutSet("late", []byte(`{"tags": ["uk"], "housekeeping": [{"name": "late", "run": ["/x"]}]}`)))
	// The log no longer reaches back to b's generation.
	require.NoError(t, store.Update(func(tx Tx) error {
		var keys []string
		if err := tx.Scan(changesPrefix, func(k string, _ []byte) error {
			keys = append(keys, k)
			return nil
		}); err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	}))
	_, err = b.Register(Client{ID: "shop-2", Site: "leeds", LAN: "l2"})
	require.NoError(t, err)
	caughtUp(t, a)
	require.Equal(t, placementsOf(t, a), placementsOf(t, b))
	require.Len(t, b.Clients(), 2)
	require.True(t, slices.ContainsFunc(b.Config().sets, func(s configSet) bool { return s.name == "late" }), "b reloaded the config too")
	sameProfiles(t, []*Fleet{a, b})
}

// The log keeps the last keepChanges generations.
func TestChangeLogPruned(t *testing.T) {
	s := NewMemStore()
	defer s.Close()
	for _, gen := range []uint64{keepChanges, keepChanges + 1, keepChanges + 2} {
		require.NoError(t, s.Update(func(tx Tx) error { return writeGen(tx, gen, genChange{Clients: []string{"a"}}) }))
	}
	require.NoError(t, s.View(func(tx Tx) error {
		n, err := readGen(tx)
		require.NoError(t, err)
		require.Equal(t, uint64(keepChanges+2), n)
		for gen, want := range map[uint64]bool{1: false, 2: false, keepChanges: true, keepChanges + 2: true} {
			v, err := tx.Get(changeKey(gen))
			require.NoError(t, err)
			require.Equal(t, want, v != nil, "generation %d", gen)
		}
		_, ok, err := readLog(tx, 1, keepChanges+2)
		require.NoError(t, err)
		require.False(t, ok, "the log no longer reaches generation 2")
		log, ok, err := readLog(tx, keepChanges, keepChanges+2)
		require.NoError(t, err)
		require.True(t, ok)
		require.Len(t, log, 2)
		return nil
	}))
	// A change of too many clients is logged as changing all.
	ids := make([]string, maxLoggedClients+1)
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	require.NoError(t, s.Update(func(tx Tx) error { return writeGen(tx, keepChanges+3, genChange{Clients: ids}) }))
	require.NoError(t, s.View(func(tx Tx) error {
		log, ok, err := readLog(tx, keepChanges+2, keepChanges+3)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, []genChange{{All: true}}, log)
		return nil
	}))
}

// A replica that does not follow the store (closed) still takes a code
// registered on another, and a token enrolled on another: an unknown
// credential makes it catch up first.
func TestReplicaCatchesUpOnUnknownCredentials(t *testing.T) {
	_, a, b := twoReplicas(t)
	b.Close()
	require.NoError(t, a.SetConfig([]byte(testConfig)))
	codes, err := a.Register(Client{ID: "shop-1", Site: "leeds"}, Client{ID: "shop-2", Site: "leeds"})
	require.NoError(t, err)
	id, _, err := b.Enroll(codes[0])
	require.NoError(t, err)
	require.Equal(t, "shop-1", id)
	_, token, err := a.Enroll(codes[1])
	require.NoError(t, err)
	id, err = b.Authenticate(token)
	require.NoError(t, err)
	require.Equal(t, "shop-2", id)
	_, err = b.Authenticate("no-such-token")
	require.ErrorIs(t, err, ErrBadToken)
	_, _, err = b.Enroll("no-such-code")
	require.ErrorIs(t, err, ErrBadCode)
}

// A change that other replicas' changes make stale at every attempt fails
// with ErrContended after maxChangeAttempts, and stores nothing.
func TestReplicaChangeContended(t *testing.T) {
	_, a, b := twoReplicas(t)
	require.NoError(t, a.SetConfig([]byte(testConfig)))
	attempts := 0
	a.beforeCommit = func() {
		attempts++
		_, err := b.Register(Client{ID: fmt.Sprintf("other-%d", attempts), Site: "leeds"})
		require.NoError(t, err)
	}
	_, err := a.Register(Client{ID: "mine", Site: "leeds"})
	require.ErrorIs(t, err, ErrContended)
	require.Equal(t, maxChangeAttempts, attempts)
	a.beforeCommit = nil
	caughtUp(t, a)
	_, err = a.Client("mine")
	require.ErrorIs(t, err, ErrNoClient)
	require.Len(t, a.Clients(), maxChangeAttempts)
}

// When a client was last heard from is kept per replica, and shared
// through the store with its reports: a replica that did not hear the
// agent shows when another stored its report.
func TestReplicaLastSeenShared(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	store := NewMemStore()
	defer store.Close()
	clk := fixedClock()
	var fs []*Fleet
	for range 2 {
		f, err := OpenFleet(store, WithClock(clk))
		require.NoError(t, err)
		defer f.Close()
		fs = append(fs, f)
	}
	a, b := fs[0], fs[1]
	require.NoError(t, a.SetConfig([]byte(testConfig)))
	_, err := a.Register(Client{ID: "shop-1", Site: "leeds"})
	require.NoError(t, err)
	caughtUp(t, b)
	heard := clk.Now().UTC()
	b.Seen("shop-1")
	st, err := a.Status()
	require.NoError(t, err)
	require.True(t, st[0].LastSeen.IsZero(), "a request to b is b's alone")
	clk.Add(time.Minute)
	_, err = b.PutReport("shop-1", Report{Cycle: "2026-11-02", Seq: 1})
	require.NoError(t, err)
	st, err = a.Status()
	require.NoError(t, err)
	require.Equal(t, heard.Add(time.Minute), st[0].LastSeen, "stored with the report")

	_, _, err = a.Queue(NewCommand{ID: "c1", Run: []string{"/bin/true"}, Clients: []string{"shop-1"}})
	require.NoError(t, err)
	clk.Add(time.Minute)
	caughtUp(t, b)
	b.Seen("shop-1")
	_, err = b.Ack("shop-1", "c1", CommandAccepted, "")
	require.NoError(t, err)
	caughtUp(t, a)
	st, err = a.Status()
	require.NoError(t, err)
	require.Equal(t, heard.Add(2*time.Minute), st[0].LastSeen, "stored with the acknowledgement")
}

func TestLeadershipOptions(t *testing.T) {
	_, err := OpenFleet(NewMemStore(), WithLeadership(nil))
	require.Error(t, err)
	_, err = New(NewMemStore(), WithForwardTransport(nil))
	require.Error(t, err)
	f, err := OpenFleet(NewMemStore())
	require.NoError(t, err)
	defer f.Close()
	self, url := f.Leader()
	require.True(t, self, "without WithLeadership a fleet leads")
	require.Empty(t, url)
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "a second Close does nothing")
}
