package server

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/afterhours-go/afterhours"
)

// SetConfig replaces the config with the one in data, validated as
// [ParseConfig] does and against the clients: a site that clients are
// registered at cannot go. The tokens whose definition changed, and all of
// them when a site changed, are allocated again: every base that still
// fits is kept, and a client that no longer fits gets its token unplaced,
// with the reason. The config and the changed placements are stored in
// one transaction; on any error nothing changes.
func (f *Fleet) SetConfig(data []byte) error {
	cfg, err := ParseConfig(data)
	if err != nil {
		return err
	}
	return f.change(func() error { return f.apply(cfg) })
}

// ValidateConfig checks the config in data as SetConfig would, and changes
// nothing.
func (f *Fleet) ValidateConfig(data []byte) error {
	cfg, err := ParseConfig(data)
	if err != nil {
		return err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.checkSites(cfg)
}

// PutSet replaces the config's set of the given name with the set in data,
// or adds it (see [Config.WithSet]), then applies the new config as
// SetConfig does.
func (f *Fleet) PutSet(name string, data []byte) error {
	return f.change(func() error {
		cfg, err := f.cfg.WithSet(name, data)
		if err != nil {
			return err
		}
		return f.apply(cfg)
	})
}

// PutSite replaces the config's site of the given name with the site in
// data, or adds it (see [Config.WithSite]), then applies the new config as
// SetConfig does: the clients of a changed site whose bases left its
// windows are placed again.
func (f *Fleet) PutSite(name string, data []byte) error {
	return f.change(func() error {
		cfg, err := f.cfg.WithSite(name, data)
		if err != nil {
			return err
		}
		return f.apply(cfg)
	})
}

// checkSites reports the clients whose site cfg lacks.
func (f *Fleet) checkSites(cfg *Config) error {
	gone := map[string][]string{}
	for id, rec := range f.clients {
		if cfg.Site(rec.Site) == nil {
			gone[rec.Site] = append(gone[rec.Site], id)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	var ps problems
	for _, site := range slices.Sorted(maps.Keys(gone)) {
		ids := gone[site]
		slices.Sort(ids)
		ps.add("sites", "site %q is gone, but %d clients are registered there (first: %s): remove or move them first", site, len(ids), ids[0])
	}
	return ps.err()
}

// apply makes cfg the fleet's config, with f.wmu held; it fails with
// errStale when memory is behind the store.
func (f *Fleet) apply(cfg *Config) error {
	if err := f.checkSites(cfg); err != nil {
		return err
	}
	redo := map[string]bool{}
	old := map[string]any{}
	for _, r := range f.cfg.Resources() {
		old[r.Token] = r
	}
	sitesChanged := !slices.EqualFunc(f.cfg.sites, cfg.sites, func(a, b configSite) bool {
		return a.name == b.name && bytes.Equal(a.raw, b.raw)
	})
	for _, r := range cfg.Resources() {
		if sitesChanged || old[r.Token] != r {
			redo[r.Token] = true
		}
	}
	next, err := placements(cfg, f.clients, redo, f.today())
	if err != nil {
		return err
	}
	return f.commit(&fleetChange{cfg: cfg, put: f.withPlacements(next)})
}

// withPlacements returns new records of the clients with the placements.
func (f *Fleet) withPlacements(next map[string]map[string]Placement) []*clientRecord {
	recs := make([]*clientRecord, 0, len(next))
	for _, id := range slices.Sorted(maps.Keys(next)) {
		rec := *f.clients[id]
		rec.Placements = next[id]
		recs = append(recs, &rec)
	}
	return recs
}

func putRecords(tx Tx, recs []*clientRecord) error {
	for _, rec := range recs {
		data, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("server: encode client %s: %w", rec.ID, err)
		}
		if err := tx.Put(clientsPrefix+rec.ID, data); err != nil {
			return err
		}
	}
	return nil
}

// today is the date, in UTC, that allocations start their year on.
func (f *Fleet) today() afterhours.Date { return afterhours.DateOf(f.clk.Now().UTC()) }

var clientID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// checkClient reports what is wrong with a client to register.
func (f *Fleet) checkClient(c Client) error {
	switch {
	case !clientID.MatchString(c.ID):
		return fmt.Errorf("%w: id %q: want 1 to 128 letters, digits, '.', '_' or '-'", ErrBadClient, c.ID)
	case f.cfg.Site(c.Site) == nil:
		return fmt.Errorf("%w: client %q: no site %q in the config", ErrBadClient, c.ID, c.Site)
	case len(c.LAN) > 128 || strings.IndexFunc(c.LAN, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: client %q: LAN %q: want at most 128 characters, none a control character", ErrBadClient, c.ID, c.LAN)
	}
	return nil
}

// Register adds the clients to the fleet, or changes the site and LAN of
// those it has, and places them: each token is allocated with the previous
// allocation, so no other client moves (unless a change of the config had
// left its base outside its site's windows). A client that cannot fit gets
// the token unplaced, with the reason. Each client gets a new one-time
// enrolment code (128 random bits), returned in the order of the clients;
// the fleet stores only its hash. A client that had enrolled keeps its
// token until the new code is exchanged. A client that is not acceptable
// fails the whole call with an error wrapping [ErrBadClient], and nothing
// changes.
func (f *Fleet) Register(clients ...Client) ([]string, error) {
	var codes []string
	err := f.change(func() (err error) {
		codes, err = f.register(clients)
		return err
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// register is an attempt of Register, with f.wmu held.
func (f *Fleet) register(clients []Client) ([]string, error) {
	seen := map[string]bool{}
	for _, c := range clients {
		if err := f.checkClient(c); err != nil {
			return nil, err
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("%w: id %q given twice", ErrBadClient, c.ID)
		}
		seen[c.ID] = true
	}
	codes := make([]string, len(clients))
	now := f.clk.Now().UTC()
	changed := map[string]*clientRecord{}
	for i, c := range clients {
		code, err := secret()
		if err != nil {
			return nil, err
		}
		codes[i] = code
		rec := &clientRecord{Client: c, CodeHash: hash(code), Joined: now}
		if old := f.clients[c.ID]; old != nil {
			rec.Placements, rec.TokenHash, rec.Joined = old.Placements, old.TokenHash, old.Joined
		}
		changed[c.ID] = rec
	}
	next, err := f.placeJoining(changed)
	if err != nil {
		return nil, err
	}
	for id, p := range next {
		old := changed[id]
		if old == nil {
			old = f.clients[id]
		}
		rec := *old
		rec.Placements = p
		changed[id] = &rec
	}
	recs := slices.Collect(maps.Values(changed))
	slices.SortFunc(recs, func(a, b *clientRecord) int { return strings.Compare(a.ID, b.ID) })
	if err := f.commitAllocs(&fleetChange{put: recs, codes: seen}); err != nil {
		return nil, err
	}
	return codes, nil
}

// Remove removes the client of the given ID, its credentials, its
// placements, its queued commands and its reports; no other client moves, but clients that a token was
// unplaced for are placed again, in the capacity the removed one frees. It fails with an error wrapping
// [ErrNoClient] for a client the fleet lacks.
func (f *Fleet) Remove(id string) error {
	return f.change(func() error {
		if f.clients[id] == nil {
			return fmt.Errorf("%w: %q", ErrNoClient, id)
		}
		// The capacity it frees goes to clients that had none: placing
		// them moves nobody.
		next, err := f.placeLeaving(id)
		if err != nil {
			return err
		}
		return f.commitAllocs(&fleetChange{put: f.withPlacements(next), gone: []string{id},
			also: func(tx Tx) error { return deleteClientOps(tx, id) }})
	})
}

// Enroll exchanges a one-time enrolment code for the client's token (256
// random bits), which the agent keeps and presents from then on: the code
// is used up, and a token the client had before stops working. It fails
// with [ErrBadCode] for a code unknown or already used. It runs on any
// replica: the code is checked against the stored record, so that two
// replicas never both take it.
func (f *Fleet) Enroll(code string) (id, token string, err error) {
	h := hash(code)
	f.mu.RLock()
	_, known := f.byCode[h]
	f.mu.RUnlock()
	if !known {
		// The code may come from a registration on another replica
		// that this one has not seen yet. Unknown codes share their
		// catch-ups as unknown tokens do.
		if err := f.unknown.wait(f.catchUpNow); err != nil {
			return "", "", err
		}
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	id, ok := f.byCode[h]
	if !ok {
		return "", "", ErrBadCode
	}
	var halves [2]string
	for i := range halves {
		if halves[i], err = secret(); err != nil {
			return "", "", err
		}
	}
	token = halves[0] + halves[1]
	var (
		rec *clientRecord
		gen uint64
	)
	err = f.store.Update(func(tx Tx) (err error) {
		if gen, err = readGen(tx); err != nil {
			return err
		}
		if rec, err = loadClient(tx, id); err != nil {
			return err
		}
		if rec == nil || subtle.ConstantTimeCompare([]byte(rec.CodeHash), []byte(h)) != 1 {
			return ErrBadCode
		}
		rec.CodeHash, rec.TokenHash = "", hash(token)
		if err := putRecords(tx, []*clientRecord{rec}); err != nil {
			return err
		}
		return writeGen(tx, gen+1, genChange{Clients: []string{id}, Creds: true})
	})
	if err != nil {
		return "", "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// The record is the stored one: when memory is at the generation it
	// was read at, it is memory's with the new credentials; when memory
	// is behind, the catching up reads it again.
	f.index(rec)
	if f.gen == gen {
		f.gen = gen + 1
	}
	f.bell.ring([]string{id}, false)
	return id, token, nil
}

// Authenticate returns the ID of the client whose token this is, or
// [ErrBadToken]. Tokens are kept as hashes and compared in constant time.
// A token this replica does not know makes it catch up with the store
// first, so that a client that enrolled through another replica is known
// at once. Unknown tokens that come together share one catch-up (see
// catchUpGate): a flood of bad tokens reads the store and takes the
// change lock about once per catch-up, not once per request.
func (f *Fleet) Authenticate(token string) (string, error) {
	h := hash(token)
	id, err := f.authenticate(h)
	if err == nil {
		return id, nil
	}
	if err := f.unknown.wait(f.catchUpNow); err != nil {
		return "", err
	}
	return f.authenticate(h)
}

// catchUpNow catches memory up with the store, taking f.wmu.
func (f *Fleet) catchUpNow() error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	return f.catchUp()
}

// catchUpGate shares catch-ups among the requests that need one. A
// request needs a catch-up that started after it came: one that began
// earlier may have read the store before the change the request depends
// on. The catch-ups run one at a time; a request that finds, once its
// turn comes, that one started after it came and has ended takes that
// one's result instead of running its own. So requests that arrive
// together, or while a catch-up runs, cost at most two catch-ups between
// them, and each still sees the store as it was when it came, or later.
type catchUpGate struct {
	started atomic.Uint64 // catch-ups started
	waiting atomic.Int64  // requests between coming and their turn (for tests)
	mu      sync.Mutex    // held by the running catch-up, and by a request taking its turn
	last    error         // the result of the last catch-up, under mu
}

// wait returns once a catch-up that started after the call has ended,
// running it with run when none has, and returns its error.
func (g *catchUpGate) wait(run func() error) error {
	came := g.started.Load()
	g.waiting.Add(1)
	g.mu.Lock()
	g.waiting.Add(-1)
	defer g.mu.Unlock()
	if g.started.Load() > came {
		return g.last // started after this call came, and ended: it held mu
	}
	g.started.Add(1)
	g.last = run()
	return g.last
}

func (f *Fleet) authenticate(h string) (string, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	id, ok := f.byToken[h]
	if !ok || subtle.ConstantTimeCompare([]byte(f.clients[id].TokenHash), []byte(h)) != 1 {
		return "", ErrBadToken
	}
	return id, nil
}

// hash is how credentials are stored: the hex SHA-256. They are random
// (128 bits or more), so a fast hash does not help a guesser.
func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// secret returns 128 random bits, in lower-case base32 (26 characters).
func secret() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("server: random: %w", err)
	}
	return strings.ToLower(secretEncoding.EncodeToString(b[:])), nil
}
