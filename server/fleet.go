package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours"
)

// Fleet is the state the server serves: the config, the registered clients
// with their placements and credentials, and each client's profile, kept in
// a [Store] under the keys "config" and "clients/<id>".
//
// Every change is one transaction of the store: it is validated first, and
// either all of it is stored and then seen, or none of it (nothing is half
// applied).
//
// Several Fleets, each a replica in its own process, may share one store
// (etcd's, say): each keeps the config and the clients in memory and
// follows the store with a watch, reloading what other replicas change
// (the changed client records only, or everything after a change of the
// config), so that every replica serves the same profile with the same
// ETag within the watch's latency; a change computed from memory that the
// store has moved past is computed again (see [ErrContended]). Only the
// leader ([WithLeadership]) allocates. When each client was last heard
// from is kept per replica, and shared through the store with each of the
// client's reports and acknowledgements. [Fleet.Close] stops the
// following.
//
// A Fleet is safe for concurrent use: reads (Config, Client, Clients,
// Profile, Authenticate) run in parallel with each other and with the
// work of a change (validation, allocation, the store's transaction), and
// wait only while a stored change is swapped into memory; a replica's
// changes run one at a time; a read sees the state before or after a
// change, never a part of it.
type Fleet struct {
	store Store
	clk   afterhours.Clock

	// wmu orders the changes. Only its holder writes cfg and the maps,
	// and then under mu too, so it may read them without mu; readers
	// hold mu for reading.
	wmu     sync.Mutex
	mu      sync.RWMutex
	cfg     *Config
	clients map[string]*clientRecord
	byCode  map[string]string // enrolment code hash -> client ID
	byToken map[string]string // token hash -> client ID

	beforeCommit func() // for tests: called by a change, its work done, before it is stored

	// unknown coalesces the catch-ups that unknown tokens start
	// (Authenticate).
	unknown catchUpGate

	allocs allocCache // under wmu: the placements as fleet.Allocators (allocation.go)

	cacheMu  sync.Mutex
	profiles map[string]servedProfile // by client ID; valid for cfg and the placements

	seen lastSeen // when each client's agent was last heard from

	lead Leadership // whether this replica allocates

	// gen is the store's generation that cfg and the maps reflect
	// (replica.go); written like them.
	gen  uint64
	bell bell // wakes the long-polls when memory changes
	stop func()
	done chan struct{} // closed when follow returns
}

// servedProfile is a client's profile as served, and its ETag.
type servedProfile struct {
	data []byte
	etag string
}

// clientRecord is what the store keeps of a client.
type clientRecord struct {
	Client
	// Placements are the client's bases, by token.
	Placements map[string]Placement `json:"placements,omitempty"`
	// CodeHash is the SHA-256 of the unused enrolment code; TokenHash
	// that of the token the code was exchanged for.
	CodeHash  string    `json:"code_hash,omitempty"`
	TokenHash string    `json:"token_hash,omitempty"`
	Joined    time.Time `json:"joined"`
}

const (
	configKey     = "config"
	clientsPrefix = "clients/"
)

// Option configures a [Fleet] ([OpenFleet]) and the [Handler] over it
// ([New]); a fleet ignores the options only a handler has.
type Option func(*options) error

type options struct {
	clk        afterhours.Clock
	admins     []adminToken
	notifier   Notifier
	leadership Leadership
	forward    http.RoundTripper
}

// WithClock sets the clock whose date starts the year allocations are made
// for (default: the system clock). A nil clock is an error
// ([afterhours.ErrNilClock]).
func WithClock(c afterhours.Clock) Option {
	return func(o *options) error {
		if c == nil {
			return afterhours.ErrNilClock
		}
		o.clk = c
		return nil
	}
}

// OpenFleet returns the fleet kept in store: its config (an empty one when
// the store has none) and its clients.
func OpenFleet(store Store, opts ...Option) (*Fleet, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return openFleet(store, o)
}

func newOptions(opts []Option) (*options, error) {
	o := &options{clk: systemClock{}}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func openFleet(store Store, o *options) (*Fleet, error) {
	f := &Fleet{store: store, clk: o.clk, clients: map[string]*clientRecord{},
		byCode: map[string]string{}, byToken: map[string]string{}, profiles: map[string]servedProfile{},
		lead: o.leadership, done: make(chan struct{})}
	if f.lead == nil {
		f.lead = selfLeader{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Watch before reading, so that no change falls between the two.
	changes := store.Watch(ctx, genKey)
	var st *fleetState
	err := store.View(func(tx Tx) (err error) {
		st, err = loadState(tx)
		return err
	})
	if err != nil {
		cancel()
		return nil, err
	}
	f.cfg, f.gen = st.cfg, st.gen
	for _, rec := range st.clients {
		f.index(rec)
	}
	var once sync.Once
	f.stop = func() { once.Do(cancel) }
	go f.follow(ctx, changes)
	return f, nil
}

// index adds rec to the fleet's maps, replacing the client's old record.
func (f *Fleet) index(rec *clientRecord) {
	if old := f.clients[rec.ID]; old != nil {
		f.unindex(old)
	}
	f.clients[rec.ID] = rec
	if rec.CodeHash != "" {
		f.byCode[rec.CodeHash] = rec.ID
	}
	if rec.TokenHash != "" {
		f.byToken[rec.TokenHash] = rec.ID
	}
	delete(f.profiles, rec.ID)
}

func (f *Fleet) unindex(rec *clientRecord) {
	delete(f.clients, rec.ID)
	delete(f.byCode, rec.CodeHash)
	delete(f.byToken, rec.TokenHash)
	delete(f.profiles, rec.ID)
}

// Config returns the fleet's config.
func (f *Fleet) Config() *Config {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.cfg
}

// ClientInfo is what the fleet knows of a client.
type ClientInfo struct {
	Client
	// Placements are the client's bases (or why it has none), by token.
	Placements map[string]Placement `json:"placements,omitempty"`
	// Enrolled is set once the client's enrolment code was exchanged.
	Enrolled bool `json:"enrolled"`
	// Joined is when the client was registered.
	Joined time.Time `json:"joined"`
}

func (rec *clientRecord) info() ClientInfo {
	return ClientInfo{Client: rec.Client, Placements: maps.Clone(rec.Placements), Enrolled: rec.TokenHash != "", Joined: rec.Joined}
}

// Client returns the client of the given ID, or an error wrapping
// [ErrNoClient].
func (f *Fleet) Client(id string) (ClientInfo, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	rec := f.clients[id]
	if rec == nil {
		return ClientInfo{}, fmt.Errorf("%w: %q", ErrNoClient, id)
	}
	return rec.info(), nil
}

// Clients returns every client, sorted by ID.
func (f *Fleet) Clients() []ClientInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]ClientInfo, 0, len(f.clients))
	for _, rec := range f.clients {
		out = append(out, rec.info())
	}
	slices.SortFunc(out, func(a, b ClientInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Profile returns the profile of the client of the given ID (see
// [Config.Profile]) and its ETag: a quoted hash of its bytes, the same for
// the same bytes, so a client may ask for it with If-None-Match. It fails
// with an error wrapping [ErrNoClient] for a client the fleet lacks.
func (f *Fleet) Profile(id string) (data []byte, etag string, err error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	rec := f.clients[id]
	if rec == nil {
		return nil, "", fmt.Errorf("%w: %q", ErrNoClient, id)
	}
	f.cacheMu.Lock()
	sp, ok := f.profiles[id]
	f.cacheMu.Unlock()
	if ok {
		return sp.data, sp.etag, nil
	}
	data, err = f.cfg.Profile(rec.Client, rec.Placements)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(data)
	sp = servedProfile{data: data, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
	// Changes swap their state in under f.mu held for writing: none can
	// change this entry's inputs while it is stored.
	f.cacheMu.Lock()
	f.profiles[id] = sp
	f.cacheMu.Unlock()
	return sp.data, sp.etag, nil
}

// systemClock is the default clock.
type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
