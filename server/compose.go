package server

import (
	"encoding/json"
	"fmt"

	"github.com/afterhours-go/afterhours"
)

// Placement is a client's allocation for one sharing token: a base, or the
// reason it has none.
type Placement struct {
	// Base is the slot's start, "HH:MM" in the token's zone; "" when
	// Unplaced says why there is none.
	Base string `json:"base,omitempty"`
	// Unplaced is the reason the client has no base, for a person and a
	// program: the allocator's reason word, a colon and its detail.
	Unplaced string `json:"unplaced,omitempty"`
}

// Client is a machine of the fleet as the admin registers it.
type Client struct {
	// ID names the client: its profile's "client". 1 to 128 bytes of
	// letters, digits, '.', '_' and '-'.
	ID string `json:"id"`
	// Site is the name of the client's site in the config.
	Site string `json:"site"`
	// LAN names the client's local network, for the tokens' LAN capacity;
	// "" for none.
	LAN string `json:"lan,omitempty"`
}

// profileJSON is a composed profile, its parts as the config has them.
type profileJSON struct {
	Client       string            `json:"client"`
	Site         json.RawMessage   `json:"site"`
	Sharing      []json.RawMessage `json:"sharing,omitempty"`
	Housekeeping []json.RawMessage `json:"housekeeping,omitempty"`
	Updates      []json.RawMessage `json:"updates,omitempty"`
	SelfUpdate   json.RawMessage   `json:"self_update,omitempty"`
	Timers       []json.RawMessage `json:"timers,omitempty"`
	Resources    []json.RawMessage `json:"resources,omitempty"`
	Constraints  json.RawMessage   `json:"constraints,omitempty"`
	Parallel     json.RawMessage   `json:"parallel,omitempty"`
}

// placeholderSite stands for "any site" where a part of the config is
// checked without one.
var placeholderSite = json.RawMessage(`{"name":"placeholder","timezone":"UTC","business_hours":{"mon":["09:00-17:00"]}}`)

// placeholderBase stands for every base where the config is checked.
var placeholderBase = Placement{Base: "00:00"}

// composition says what goes into one profile: a site (-1 for the
// placeholder), whether the sharing tokens do, and which sets, in order.
type composition struct {
	site    int
	sharing bool
	sets    []int
}

// compose writes the profile of client for the composition, with the
// placement of each token from place, and the mapping of its paths to
// the config's.
func (c *Config) compose(client string, comp composition, place func(token string) Placement) ([]byte, mapping, error) {
	m := mapping{}
	p := profileJSON{Client: client, Site: placeholderSite}
	if comp.site >= 0 {
		p.Site = c.sites[comp.site].raw
		m["site"] = fmt.Sprintf("sites[%d]", c.sites[comp.site].index)
	}
	if comp.sharing {
		for i, t := range c.sharing {
			fields := append(object(nil), t.fields...)
			pl := place(t.res.Token)
			if pl.Base != "" {
				fields = append(fields, field{"base", mustJSON(pl.Base)})
			} else {
				fields = append(fields, field{"unplaced", mustJSON(pl.Unplaced)})
			}
			p.Sharing = append(p.Sharing, fields.marshal())
			m[fmt.Sprintf("sharing[%d]", i)] = fmt.Sprintf("sharing[%d]", t.index)
		}
	}
	// A later set's entry of a name an earlier set used replaces it, in
	// its place; entries of one set are all kept (two of one name in one
	// set are a problem the set's own check reports).
	type entry struct {
		item
		set, index int
	}
	var lists [len(listSections)][]entry
	var single [len(singleSections)]struct {
		raw json.RawMessage
		set int
	}
	for _, si := range comp.sets {
		s := &c.sets[si]
		for k := range listSections {
			for j, it := range s.sections[k] {
				e := entry{it, si, j}
				at := -1
				for n, have := range lists[k] {
					if it.name != "" && have.name == it.name && have.set != si {
						at = n
						break
					}
				}
				if at >= 0 {
					lists[k][at] = e
				} else {
					lists[k] = append(lists[k], e)
				}
			}
		}
		for k := range singleSections {
			if s.single[k] != nil {
				single[k].raw, single[k].set = s.single[k], si
			}
		}
	}
	out := [len(listSections)]*[]json.RawMessage{&p.Housekeeping, &p.Updates, &p.Timers, &p.Resources}
	for k, sec := range listSections {
		for n, e := range lists[k] {
			*out[k] = append(*out[k], e.raw)
			m[fmt.Sprintf("%s[%d]", sec, n)] = fmt.Sprintf("sets[%d].%s[%d]", c.sets[e.set].index, sec, e.index)
		}
	}
	outSingle := [len(singleSections)]*json.RawMessage{&p.SelfUpdate, &p.Constraints, &p.Parallel}
	for k, sec := range singleSections {
		if single[k].raw != nil {
			*outSingle[k] = single[k].raw
			m[sec] = fmt.Sprintf("sets[%d].%s", c.sets[single[k].set].index, sec)
		}
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, nil, fmt.Errorf("server: compose profile: %w", err)
	}
	return data, m, nil
}

func mustJSON(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always encodes
	return b
}

// matching returns the indexes of the sets whose selector matches the
// tags, in order.
func (c *Config) matching(tags []string) []int {
	var out []int
	for i := range c.sets {
		if c.sets[i].selector.Matches(tags) {
			out = append(out, i)
		}
	}
	return out
}

// validateProfiles composes and checks the profiles of the fleet: each site
// alone, the sharing tokens alone, each set alone, and each site with the
// tokens and the sets that select it.
func (c *Config) validateProfiles(ps *problems) {
	all := func(string) Placement { return placeholderBase }
	check := func(what string, comp composition) {
		data, m, err := c.compose("placeholder", comp, all)
		if err != nil {
			ps.add("", "%v", err)
			return
		}
		_, err = afterhours.ParseProfile(data)
		if ve, ok := err.(*afterhours.ValidationError); ok {
			for _, p := range ve.Problems {
				ps.addProblem(m.problem(p, what))
			}
		} else if err != nil {
			ps.add("", "%s: %v", what, err)
		}
	}
	for i := range c.sites {
		check(fmt.Sprintf("site %q", c.sites[i].name), composition{site: i})
	}
	check("the sharing tokens", composition{site: -1, sharing: true})
	for i := range c.sets {
		check(fmt.Sprintf("set %q", c.sets[i].name), composition{site: -1, sets: []int{i}})
	}
	for i := range c.sites {
		check(fmt.Sprintf("the profile of a client at site %q", c.sites[i].name),
			composition{site: i, sharing: true, sets: c.matching(c.sites[i].tags)})
	}
}
