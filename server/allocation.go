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
	next := map[string]map[string]Placement{}
	get := func(id string) map[string]Placement {
		if p, ok := next[id]; ok {
			return p
		}
		p := maps.Clone(clients[id].Placements)
		if p == nil {
			p = map[string]Placement{}
		}
		next[id] = p
		return p
	}
	tokens := map[string]bool{}
	for _, res := range cfg.Resources() {
		tokens[res.Token] = true
	}
	for id, rec := range clients {
		for tok := range rec.Placements {
			if !tokens[tok] {
				delete(get(id), tok)
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
			a, err := fleet.Allocate(list, res, from, prev)
			if err != nil {
				return nil, fmt.Errorf("server: allocate %s: %w", res.Token, err)
			}
			for _, as := range a.Assigned {
				if clients[as.Client].Placements[res.Token] != (Placement{Base: as.Base}) {
					get(as.Client)[res.Token] = Placement{Base: as.Base}
				}
			}
			for _, u := range a.Unplaced {
				pl := Placement{Unplaced: u.Reason + ": " + u.Detail}
				if clients[u.Client].Placements[res.Token] != pl {
					get(u.Client)[res.Token] = pl
				}
			}
		}
	}
	for id, p := range next {
		if maps.Equal(p, clients[id].Placements) {
			delete(next, id)
		}
	}
	return next, nil
}
