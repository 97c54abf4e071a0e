package server

import (
	"fmt"
	"maps"
	"slices"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
)

// placements returns, for the clients, the placements that change when
// the tokens redo are allocated again under cfg, keeping every base that
// still fits (fleet.Allocate given the previous allocation moves no client
// whose base still fits). Placements of tokens cfg lacks are dropped.
// clients maps IDs to the records as they will be, not yet stored; the
// result maps the IDs of the clients whose placements change to their new
// placements.
func placements(cfg *Config, clients map[string]*clientRecord, redo map[string]bool, from afterhours.Date) (map[string]map[string]Placement, error) {
	return allocate(cfg, clients, redo, from, nil)
}

// allocate is placements, which keeps in keep, when it is not nil, the
// fleet.Allocator of each token it allocates.
func allocate(cfg *Config, clients map[string]*clientRecord, redo map[string]bool, from afterhours.Date, keep map[string]*fleet.Allocator) (map[string]map[string]Placement, error) {
	next := newPlacementChanges(func(id string) *clientRecord { return clients[id] })
	tokens := map[string]bool{}
	for _, res := range cfg.Resources() {
		tokens[res.Token] = true
	}
	for id, rec := range clients {
		for tok := range rec.Placements {
			if !tokens[tok] {
				if _, ok := next.next[id]; !ok {
					next.next[id] = maps.Clone(rec.Placements)
				}
				delete(next.next[id], tok)
			}
		}
	}
	if len(redo) > 0 {
		ids := slices.Sorted(maps.Keys(clients))
		list := make([]fleet.Client, 0, len(ids))
		for _, id := range ids {
			rec := clients[id]
			list = append(list, fleet.Client{ID: id, Site: cfg.Site(rec.Site), LAN: rec.LAN})
		}
		for _, res := range cfg.Resources() {
			if !redo[res.Token] {
				continue
			}
			prev := make(map[string]string, len(clients))
			for id, rec := range clients {
				if b := rec.Placements[res.Token].Base; b != "" {
					prev[id] = b
				}
			}
			var a *fleet.Allocation
			if keep == nil {
				var err error
				if a, err = fleet.Allocate(list, res, from, prev); err != nil {
					return nil, fmt.Errorf("server: allocate %s: %w", res.Token, err)
				}
			} else {
				al, err := fleet.NewAllocator(list, res, from, prev)
				if err != nil {
					return nil, fmt.Errorf("server: allocate %s: %w", res.Token, err)
				}
				keep[res.Token], a = al, al.Allocation()
			}
			next.add(res.Token, a)
		}
	}
	return next.result(), nil
}

// allocCache holds, for each sharing token, a fleet.Allocator that holds
// the fleet's placements, so that a client that joins or leaves is placed
// (and the clients its going lets in) without allocating the fleet again.
// It is used by the holder of Fleet.wmu only.
//
// It is valid for the config, the year and the number of clients it was
// made with. placeJoining and placeLeaving change it ahead of their
// change, which their callers store with commitAllocs: a change that fails
// to store, a change of the config, the date, or anything else
// that changes the clients' placements leaves it to be made again from
// the clients, by the next join or leave (as one fleet.Allocate of every
// client, which also applies what a new year moves).
type allocCache struct {
	cfg     *Config
	from    afterhours.Date
	clients int // len(Fleet.clients) it holds
	byToken map[string]*fleet.Allocator
}

// current reports whether the cache holds the fleet's placements.
func (f *Fleet) allocsCurrent(today afterhours.Date) bool {
	c := &f.allocs
	return c.byToken != nil && c.cfg == f.cfg && c.from == today && c.clients == len(f.clients)
}

// placeJoining returns the placements that change when the clients of
// changed (new records of new clients, or of clients that changed site or
// LAN) join: their own, and those of clients a replaced client's going
// lets in. No other client moves. The caller stores the change with
// commitAllocs.
func (f *Fleet) placeJoining(changed map[string]*clientRecord) (map[string]map[string]Placement, error) {
	today := f.today()
	if !f.allocsCurrent(today) {
		all := maps.Clone(f.clients)
		maps.Copy(all, changed)
		return f.rebuildAllocs(all, today)
	}
	ids := slices.Sorted(maps.Keys(changed))
	list := make([]fleet.Client, len(ids))
	for i, id := range ids {
		rec := changed[id]
		list[i] = fleet.Client{ID: id, Site: f.cfg.Site(rec.Site), LAN: rec.LAN}
	}
	next := newPlacementChanges(func(id string) *clientRecord {
		if rec := changed[id]; rec != nil {
			return rec
		}
		return f.clients[id]
	})
	for _, res := range f.cfg.Resources() {
		prev := map[string]string{}
		for _, id := range ids {
			if b := changed[id].Placements[res.Token].Base; b != "" {
				prev[id] = b
			}
		}
		next.add(res.Token, f.allocs.byToken[res.Token].Place(list, prev))
	}
	for id := range changed {
		if _, ok := f.clients[id]; !ok {
			f.allocs.clients++
		}
	}
	return next.result(), nil
}

// placeLeaving returns the placements that change when the client of the
// given ID leaves: those of the clients its going lets in. No other client
// moves. The caller stores the change with commitAllocs.
func (f *Fleet) placeLeaving(id string) (map[string]map[string]Placement, error) {
	today := f.today()
	if !f.allocsCurrent(today) {
		rest := maps.Clone(f.clients)
		delete(rest, id)
		return f.rebuildAllocs(rest, today)
	}
	next := newPlacementChanges(func(id string) *clientRecord { return f.clients[id] })
	for _, res := range f.cfg.Resources() {
		next.add(res.Token, f.allocs.byToken[res.Token].Remove(id))
	}
	f.allocs.clients--
	return next.result(), nil
}

// rebuildAllocs makes the cache from clients (the records as they will
// be) and returns the placements that change: every token allocated again
// with the previous allocation, as placements does.
func (f *Fleet) rebuildAllocs(clients map[string]*clientRecord, today afterhours.Date) (map[string]map[string]Placement, error) {
	f.allocs = allocCache{cfg: f.cfg, from: today, clients: len(clients), byToken: map[string]*fleet.Allocator{}}
	redo := map[string]bool{}
	for _, res := range f.cfg.Resources() {
		redo[res.Token] = true
	}
	next, err := allocate(f.cfg, clients, redo, today, f.allocs.byToken)
	if err != nil {
		f.allocs = allocCache{}
	}
	return next, err
}

// commitAllocs is commit for a change that placed clients with the cache:
// the cache holds the placements once the change is stored, and is made
// again when it fails.
func (f *Fleet) commitAllocs(c *fleetChange) error {
	err := f.commit(c)
	if err != nil {
		f.allocs = allocCache{}
	}
	return err
}

// placementChanges gathers the placements that change, by client and
// token.
type placementChanges struct {
	record func(id string) *clientRecord // the client's record as it will be
	next   map[string]map[string]Placement
}

func newPlacementChanges(record func(id string) *clientRecord) *placementChanges {
	return &placementChanges{record: record, next: map[string]map[string]Placement{}}
}

// set records the client's placement for the token, if it changes.
func (c *placementChanges) set(id, token string, pl Placement) {
	p, ok := c.next[id]
	if !ok {
		if c.record(id).Placements[token] == pl {
			return
		}
		if p = maps.Clone(c.record(id).Placements); p == nil {
			p = map[string]Placement{}
		}
		c.next[id] = p
	}
	p[token] = pl
}

// add records the outcomes of an allocation of token.
func (c *placementChanges) add(token string, a *fleet.Allocation) {
	for _, as := range a.Assigned {
		c.set(as.Client, token, Placement{Base: as.Base})
	}
	for _, u := range a.Unplaced {
		c.set(u.Client, token, Placement{Unplaced: u.Reason + ": " + u.Detail})
	}
}

// result returns the placements that change.
func (c *placementChanges) result() map[string]map[string]Placement {
	for id, p := range c.next {
		if maps.Equal(p, c.record(id).Placements) {
			delete(c.next, id)
		}
	}
	return c.next
}
