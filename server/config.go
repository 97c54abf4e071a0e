package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
)

// Config is the fleet's config: its sites, the sharing tokens the server
// allocates bases for, the sets of tasks chosen by site tags, and the
// FleetLock groups. Its JSON form is
//
//	{"sites": [Site...],
//	 "sharing": [Token fields but base and unplaced, + "capacity", "lan_capacity"],
//	 "sets": [{"name": "...", "tags": [selector], and any of "housekeeping",
//	   "updates", "self_update", "timers", "resources", "constraints", "parallel"}],
//	 "fleetlock": {"group": slots, ...}}
//
// A Config comes from [ParseConfig], which validates it; it is immutable
// and safe for concurrent use. Each part keeps the JSON it was written
// with (compacted), so that a client's profile is the same bytes for the
// same config.
type Config struct {
	sites     []configSite
	sharing   []configToken
	sets      []configSet
	fleetlock map[string]int
	fields    object // the top level as written, for MarshalJSON
}

type configSite struct {
	index int // in the config's sites
	name  string
	tags  []string // as read for matching sets; the profile's validation checks them
	raw   json.RawMessage
	site  *afterhours.Site // validated
}

type configToken struct {
	index  int    // in the config's sharing
	fields object // the token's members but capacity and lan_capacity
	res    fleet.Resource
}

// item is one task or resource of a set: its JSON and its name.
type item struct {
	name string
	raw  json.RawMessage
}

type configSet struct {
	index    int // in the config's sets
	name     string
	tags     []string
	selector fleet.Selector
	sections [len(listSections)][]item // housekeeping, updates, timers, resources
	single   [len(singleSections)]json.RawMessage
	raw      json.RawMessage
}

// listSections are the sections of a set that merge by name, in the
// order of a profile; singleSections those the last set that has them
// gives.
var (
	listSections   = [...]string{"housekeeping", "updates", "timers", "resources"}
	singleSections = [...]string{"self_update", "constraints", "parallel"}
)

var (
	topKeys   = []string{"$schema", "sites", "sharing", "sets", "fleetlock"}
	setKeys   = append([]string{"name", "tags"}, append(listSections[:], singleSections[:]...)...)
	groupName = regexp.MustCompile(`^[a-zA-Z0-9.-]+$`)
)

// ParseConfig decodes a fleet config from JSON, strictly, and validates it
// the way a profile is validated: every problem, with its field path in the
// config (`sets[1].housekeeping[2].schedule`), in one
// *afterhours.ValidationError. Beyond its own rules (unique site and set
// names, valid selectors, capacities not negative, FleetLock groups), it
// composes the profile of a client at every site with every set that
// selects the site (bases are placeholders) and runs
// [afterhours.ParseProfile] on each, and likewise each site, the sharing
// tokens and each set alone (so that a set no site selects yet is checked
// too); their problems are reported at the config paths they came from,
// each once: the problems of the config's own rules first, then those of
// the profiles, site by site, then the sharing tokens, then set by set.
// A problem that only a composition has (two sets' tasks of one
// name in different sections) is reported at the later part, and its
// message names the site.
func ParseConfig(data []byte) (*Config, error) {
	var ps problems
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		ps.add("", "invalid JSON: %v", err)
		return nil, ps.err()
	}
	c := &Config{fleetlock: map[string]int{}}
	top, ok := readObject(&ps, "", data, topKeys)
	if !ok {
		return nil, ps.err()
	}
	c.fields = top
	if raw, ok := top.get("$schema"); ok {
		var s string
		readValue(&ps, "$schema", raw, &s, "a string: the address of the config's JSON Schema")
	}
	c.readSites(&ps, top)
	c.readSharing(&ps, top)
	c.readSets(&ps, top)
	c.readFleetLock(&ps, top)
	c.validateProfiles(&ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	for i := range c.sites {
		s := new(afterhours.Site)
		if err := json.Unmarshal(c.sites[i].raw, s); err != nil {
			return nil, fmt.Errorf("server: decode site %q: %w", c.sites[i].name, err)
		}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("server: site %q: %w", c.sites[i].name, err)
		}
		c.sites[i].site = s
	}
	return c, nil
}

func (c *Config) readSites(ps *problems, top object) {
	raw, ok := top.get("sites")
	if !ok {
		return
	}
	list, ok := readArray(ps, "sites", raw)
	if !ok {
		return
	}
	seen := map[string]bool{}
	for i, r := range list {
		path := fmt.Sprintf("sites[%d]", i)
		o, ok := readObject(ps, path, r, nil)
		if !ok {
			continue
		}
		var name string
		if nr, ok := o.get("name"); !ok {
			ps.add(path+".name", "required: sites are named, and clients name theirs")
		} else if readValue(ps, path+".name", nr, &name, "a string") {
			switch {
			case name == "":
				ps.add(path+".name", "required: sites are named, and clients name theirs")
			case seen[name]:
				ps.add(path+".name", "site %q repeated", name)
			}
			seen[name] = true
		}
		var tags struct {
			Tags []string `json:"tags"`
		}
		_ = json.Unmarshal(o.marshal(), &tags)
		c.sites = append(c.sites, configSite{index: i, name: name, tags: tags.Tags, raw: o.marshal()})
	}
}

// tokenJSON is what the server reads of a sharing token.
type tokenJSON struct {
	Token    string              `json:"token"`
	Zone     string              `json:"zone"`
	Duration afterhours.Duration `json:"duration"`
	Buffer   afterhours.Duration `json:"buffer"`
}

func (c *Config) readSharing(ps *problems, top object) {
	raw, ok := top.get("sharing")
	if !ok {
		return
	}
	list, ok := readArray(ps, "sharing", raw)
	if !ok {
		return
	}
	for i, r := range list {
		path := fmt.Sprintf("sharing[%d]", i)
		o, ok := readObject(ps, path, r, nil)
		if !ok {
			continue
		}
		t := configToken{index: i}
		for _, f := range o {
			switch f.key {
			case "capacity":
				if readValue(ps, path+".capacity", f.value, &t.res.Capacity, "a whole number") && t.res.Capacity < 0 {
					ps.add(path+".capacity", "must not be negative (0: no limit)")
				}
			case "lan_capacity":
				if readValue(ps, path+".lan_capacity", f.value, &t.res.LANCapacity, "a whole number") && t.res.LANCapacity < 0 {
					ps.add(path+".lan_capacity", "must not be negative (0: no limit)")
				}
			case "base", "unplaced":
				ps.add(join(path, f.key), "set by the server for each client: the config leaves it out")
			default:
				t.fields = append(t.fields, f)
			}
		}
		// The profile's validation reports wrong types; read what it can.
		var tj tokenJSON
		_ = json.Unmarshal(t.fields.marshal(), &tj)
		t.res.Token, t.res.Zone = tj.Token, tj.Zone
		t.res.Duration, t.res.Buffer = time.Duration(tj.Duration), time.Duration(tj.Buffer)
		c.sharing = append(c.sharing, t)
	}
}

func (c *Config) readSets(ps *problems, top object) {
	raw, ok := top.get("sets")
	if !ok {
		return
	}
	list, ok := readArray(ps, "sets", raw)
	if !ok {
		return
	}
	seen := map[string]bool{}
	for i, r := range list {
		path := fmt.Sprintf("sets[%d]", i)
		o, ok := readObject(ps, path, r, setKeys)
		if !ok {
			continue
		}
		s := configSet{index: i, raw: o.marshal()}
		if nr, ok := o.get("name"); !ok {
			ps.add(path+".name", "required: sets are named, to be patched by name")
		} else if readValue(ps, path+".name", nr, &s.name, "a string") {
			switch {
			case s.name == "":
				ps.add(path+".name", "required: sets are named, to be patched by name")
			case seen[s.name]:
				ps.add(path+".name", "set %q repeated", s.name)
			}
			seen[s.name] = true
		}
		if tr, ok := o.get("tags"); ok && readValue(ps, path+".tags", tr, &s.tags, "an array of tags") {
			sel, err := fleet.NewSelector(s.tags...)
			if err != nil {
				ps.add(path+".tags", "%v", err)
			}
			s.selector = sel
		}
		for k, sec := range listSections {
			r, ok := o.get(sec)
			if !ok {
				continue
			}
			elems, ok := readArray(ps, join(path, sec), r)
			if !ok {
				continue
			}
			for _, e := range elems {
				var named struct {
					Name any `json:"name"`
				}
				_ = json.Unmarshal(e, &named)
				name, _ := named.Name.(string)
				s.sections[k] = append(s.sections[k], item{name: name, raw: e})
			}
		}
		for k, sec := range singleSections {
			if r, ok := o.get(sec); ok && !isNull(r) {
				s.single[k] = r
			}
		}
		c.sets = append(c.sets, s)
	}
}

func (c *Config) readFleetLock(ps *problems, top object) {
	raw, ok := top.get("fleetlock")
	if !ok || isNull(raw) {
		return
	}
	o, ok := readObject(ps, "fleetlock", raw, nil)
	if !ok {
		return
	}
	for _, f := range o {
		path := join("fleetlock", f.key)
		if !groupName.MatchString(f.key) {
			ps.add(path, "group %q: want letters, digits, '.' and '-' only (FleetLock's rule)", f.key)
		}
		var n int
		if readValue(ps, path, f.value, &n, "a whole number of slots") && n < 1 {
			ps.add(path, "want at least 1 slot")
		}
		c.fleetlock[f.key] = n
	}
}

// MarshalJSON returns the config as JSON: its parts as written, compacted.
func (c *Config) MarshalJSON() ([]byte, error) {
	if c == nil {
		return []byte("null"), nil
	}
	return c.fields.marshal(), nil
}

// Sites returns the names of the config's sites, in order.
func (c *Config) Sites() []string {
	names := make([]string, len(c.sites))
	for i, s := range c.sites {
		names[i] = s.name
	}
	return names
}

// Site returns the site of the given name, validated, or nil. It must not
// be modified.
func (c *Config) Site(name string) *afterhours.Site {
	if i := c.siteIndex(name); i >= 0 {
		return c.sites[i].site
	}
	return nil
}

func (c *Config) siteIndex(name string) int {
	return slices.IndexFunc(c.sites, func(s configSite) bool { return s.name == name })
}

// Resources returns the sharing tokens as the resources [fleet.Allocate]
// gives bases for, in order.
func (c *Config) Resources() []fleet.Resource {
	out := make([]fleet.Resource, len(c.sharing))
	for i, t := range c.sharing {
		out[i] = t.res
	}
	return out
}

// FleetLock returns the slots of each FleetLock group; nil when the config
// has none.
func (c *Config) FleetLock() map[string]int {
	if len(c.fleetlock) == 0 {
		return nil
	}
	m := make(map[string]int, len(c.fleetlock))
	for k, v := range c.fleetlock {
		m[k] = v
	}
	return m
}

// compactJSON compacts data, which is valid JSON.
func compactJSON(data []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		return data
	}
	return b.Bytes()
}
