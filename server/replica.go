package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Several replicas may serve one fleet from one store. Each keeps the
// config and the client records in memory, and the store keeps a
// generation, a counter that every change of them increments in its
// transaction, with a log of what each generation changed:
//
//   - a change computed from memory commits only if the store's
//     generation is the one memory reflects, or if every generation since
//     changed only credentials (an enrolment), which no computation reads;
//     otherwise the fleet catches up and computes the change again;
//   - a replica follows the generation with a watch and reloads what the
//     log says changed: the client records named, the config (and then
//     every profile), or all of it when the log no longer reaches back.
const (
	genKey        = "fleet/gen"      // the generation, in decimal
	changesPrefix = "fleet/changes/" // "fleet/changes/<generation, 20 digits>": a genChange
	// keepChanges is how many generations the log keeps: a replica
	// further behind reloads the whole fleet.
	keepChanges = 1024
	// maxLoggedClients is the most client IDs a log entry lists: a
	// larger change is logged as changing every client.
	maxLoggedClients = 4096
	// maxChangeAttempts bounds how often a change is computed again
	// because other replicas changed the fleet in between.
	maxChangeAttempts = 16
)

// errStale is the internal failure of a change computed from memory that
// the store has moved past.
var errStale = errors.New("server: the fleet's memory is behind the store")

// genChange is the log entry of one generation.
type genChange struct {
	// Config is set when the config changed.
	Config bool `json:"config,omitempty"`
	// All is set when too many clients changed to list them.
	All bool `json:"all,omitempty"`
	// Clients are the IDs of the clients whose records changed or went.
	Clients []string `json:"clients,omitempty"`
	// Creds is set when only the credentials of Clients changed.
	Creds bool `json:"creds,omitempty"`
}

func changeKey(gen uint64) string { return fmt.Sprintf("%s%020d", changesPrefix, gen) }

// readGen returns the store's generation (0 when it has none).
func readGen(tx Tx) (uint64, error) {
	data, err := tx.Get(genKey)
	if err != nil || data == nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(data), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("server: stored %s: %w", genKey, err)
	}
	return n, nil
}

// writeGen makes gen the store's generation, logging what it changed and
// dropping the oldest entry of the log.
func writeGen(tx Tx, gen uint64, c genChange) error {
	if len(c.Clients) > maxLoggedClients {
		c = genChange{Config: c.Config, All: true}
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := tx.Put(genKey, []byte(strconv.FormatUint(gen, 10))); err != nil {
		return err
	}
	if err := tx.Put(changeKey(gen), data); err != nil {
		return err
	}
	if gen > keepChanges {
		return tx.Delete(changeKey(gen - keepChanges))
	}
	return nil
}

// readLog returns the log entries of the generations after from, up to
// to; ok is false when the log no longer has them all.
func readLog(tx Tx, from, to uint64) (log []genChange, ok bool, err error) {
	if to < from || to-from > keepChanges {
		return nil, false, nil
	}
	for g := from + 1; g <= to; g++ {
		data, err := tx.Get(changeKey(g))
		if err != nil {
			return nil, false, err
		}
		if data == nil {
			return nil, false, nil
		}
		var c genChange
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, false, fmt.Errorf("server: stored %s: %w", changeKey(g), err)
		}
		log = append(log, c)
	}
	return log, true, nil
}

// fleetState is the part of a fleet that memory keeps of the store.
type fleetState struct {
	gen     uint64
	cfg     *Config
	clients map[string]*clientRecord
}

// loadState reads the whole fleet.
func loadState(tx Tx) (*fleetState, error) {
	st := &fleetState{clients: map[string]*clientRecord{}}
	var err error
	if st.gen, err = readGen(tx); err != nil {
		return nil, err
	}
	if st.cfg, err = loadConfig(tx); err != nil {
		return nil, err
	}
	err = tx.Scan(clientsPrefix, func(key string, value []byte) error {
		rec := new(clientRecord)
		if err := json.Unmarshal(value, rec); err != nil {
			return fmt.Errorf("server: stored client %s: %w", key, err)
		}
		st.clients[rec.ID] = rec
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func loadConfig(tx Tx) (*Config, error) {
	data, err := tx.Get(configKey)
	if err != nil {
		return nil, err
	}
	if data == nil {
		data = []byte(`{}`)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("server: the stored config: %w", err)
	}
	return cfg, nil
}

// loadClient returns the stored record of the client, or nil.
func loadClient(tx Tx, id string) (*clientRecord, error) {
	data, err := tx.Get(clientsPrefix + id)
	if err != nil || data == nil {
		return nil, err
	}
	rec := new(clientRecord)
	if err := json.Unmarshal(data, rec); err != nil {
		return nil, fmt.Errorf("server: stored client %s: %w", id, err)
	}
	return rec, nil
}

// fleetChange is a change of the config and client records, computed from
// memory at generation f.gen.
type fleetChange struct {
	cfg  *Config         // the new config, or nil
	put  []*clientRecord // records to store, sorted by ID
	gone []string        // IDs of clients removed
	// codes are the IDs whose enrolment code the change sets; the others
	// keep the stored one. Every record keeps its stored token.
	codes map[string]bool
	// also writes what else the change stores (it may run more than once).
	also func(Tx) error
}

// replay is what a commit read in its transaction: the records that
// enrolments changed since memory's generation, and the records it wrote
// with the stored credentials.
type replay struct {
	gen   uint64
	creds []*clientRecord
	put   []*clientRecord
}

// commit stores c in one transaction conditioned on the generation memory
// reflects, and then makes it seen. It is called with f.wmu held, after
// the work of the change; readers wait only for the swap of memory, not
// for the store (a round trip to etcd), and the long-polls wake after the
// swap, so none finds the old profile when woken. It fails with errStale
// when other replicas changed the fleet meanwhile in a way the change may
// depend on.
func (f *Fleet) commit(c *fleetChange) error {
	if f.beforeCommit != nil {
		f.beforeCommit()
	}
	var cfgData []byte
	if c.cfg != nil {
		var err error
		if cfgData, err = json.Marshal(c.cfg); err != nil {
			return fmt.Errorf("server: encode config: %w", err)
		}
	}
	var r replay
	// f.gen changes only with f.wmu held: the transaction reads it
	// without f.mu.
	err := f.store.Update(func(tx Tx) error {
		r = replay{} // the function may run more than once
		n, err := readGen(tx)
		if err != nil {
			return err
		}
		if n != f.gen {
			log, ok, err := readLog(tx, f.gen, n)
			if err != nil {
				return err
			}
			if !ok {
				return errStale
			}
			ids := map[string]bool{}
			for _, e := range log {
				if !e.Creds || e.All || e.Config {
					return errStale
				}
				for _, id := range e.Clients {
					ids[id] = true
				}
			}
			for _, id := range slices.Sorted(maps.Keys(ids)) {
				rec, err := loadClient(tx, id)
				if err != nil {
					return err
				}
				if rec != nil {
					r.creds = append(r.creds, rec)
				}
			}
		}
		r.gen = n + 1
		if cfgData != nil {
			if err := tx.Put(configKey, cfgData); err != nil {
				return err
			}
		}
		// Memory's records are the stored ones but for the credentials
		// that enrolments since changed: those are kept as stored.
		for _, rec := range c.put {
			if i, ok := slices.BinarySearchFunc(r.creds, rec.ID, func(s *clientRecord, id string) int { return strings.Compare(s.ID, id) }); ok {
				stored := r.creds[i]
				merged := *rec
				merged.TokenHash = stored.TokenHash
				if !c.codes[rec.ID] {
					merged.CodeHash = stored.CodeHash
				}
				rec = &merged
			}
			if err := putRecords(tx, []*clientRecord{rec}); err != nil {
				return err
			}
			r.put = append(r.put, rec)
		}
		for _, id := range c.gone {
			if err := tx.Delete(clientsPrefix + id); err != nil {
				return err
			}
		}
		if c.also != nil {
			if err := c.also(tx); err != nil {
				return err
			}
		}
		ch := genChange{Config: c.cfg != nil}
		for _, rec := range c.put {
			ch.Clients = append(ch.Clients, rec.ID)
		}
		ch.Clients = append(ch.Clients, c.gone...)
		return writeGen(tx, r.gen, ch)
	})
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	rung := make([]string, 0, len(r.creds)+len(r.put)+len(c.gone))
	for _, rec := range r.creds {
		f.index(rec)
		rung = append(rung, rec.ID)
	}
	if c.cfg != nil {
		f.cfg = c.cfg
		clear(f.profiles)
	}
	for _, id := range c.gone {
		if rec := f.clients[id]; rec != nil {
			f.unindex(rec)
		}
		f.seen.forget(id)
		rung = append(rung, id)
	}
	for _, rec := range r.put {
		f.index(rec)
		rung = append(rung, rec.ID)
	}
	f.gen = r.gen
	f.bell.ring(rung, c.cfg != nil)
	return nil
}

// change runs attempt, with f.wmu held, on memory caught up with the
// store (so that it validates against the fleet as it is, not as this
// replica last saw it), and again after catching up each time it fails
// with errStale, up to maxChangeAttempts times (then it fails with
// [ErrContended]). Every change it runs allocates, so it runs on the
// leader only, else fails with [ErrNotLeader].
func (f *Fleet) change(attempt func() error) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if err := f.leading(); err != nil {
		return err // before reading the store: a follower answers at once
	}
	if err := f.catchUp(); err != nil {
		return err
	}
	for range maxChangeAttempts {
		if err := f.leading(); err != nil {
			return err
		}
		err := attempt()
		if !errors.Is(err, errStale) {
			return err
		}
		if err := f.catchUp(); err != nil {
			return err
		}
	}
	return ErrContended
}

// catchUp brings memory to the store's generation, reloading what the log
// says changed since memory's, or everything when the log does not reach
// back so far. It is called with f.wmu held.
func (f *Fleet) catchUp() error {
	var (
		n    uint64
		all  *fleetState
		cfg  *Config
		recs map[string]*clientRecord // nil: gone
		// moved is set when a change other than an enrolment came:
		// the placements may differ from the allocators' (allocation.go).
		moved bool
	)
	err := f.store.View(func(tx Tx) error {
		all, cfg, recs, moved = nil, nil, map[string]*clientRecord{}, false
		var err error
		if n, err = readGen(tx); err != nil || n == f.gen {
			return err
		}
		log, ok, err := readLog(tx, f.gen, n)
		if err != nil {
			return err
		}
		if !ok {
			all, err = loadState(tx)
			return err
		}
		config := false
		for _, e := range log {
			if e.All {
				all, err = loadState(tx)
				return err
			}
			config = config || e.Config
			moved = moved || !e.Creds
			for _, id := range e.Clients {
				recs[id] = nil
			}
		}
		if config {
			if cfg, err = loadConfig(tx); err != nil {
				return err
			}
		}
		for id := range recs {
			if recs[id], err = loadClient(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || n == f.gen {
		return err
	}
	if all != nil || moved {
		f.allocs = allocCache{} // made again from the records by the next join or leave
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if all != nil {
		f.cfg, f.clients = all.cfg, make(map[string]*clientRecord, len(all.clients))
		f.byCode, f.byToken = map[string]string{}, map[string]string{}
		for _, rec := range all.clients {
			f.index(rec)
		}
		clear(f.profiles)
		f.seen.keep(f.clients)
		f.gen = all.gen
		f.bell.ring(nil, true)
		return nil
	}
	if cfg != nil {
		f.cfg = cfg
		clear(f.profiles)
	}
	for id, rec := range recs {
		if rec != nil {
			f.index(rec)
			continue
		}
		if old := f.clients[id]; old != nil {
			f.unindex(old)
		}
		f.seen.forget(id)
	}
	f.gen = n
	f.bell.ring(slices.Collect(maps.Keys(recs)), cfg != nil)
	return nil
}
