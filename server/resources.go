package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
	"github.com/afterhours-go/afterhours/internal/wallclock"
)

// The horizon of [Fleet.Resources], in days.
const (
	DefaultHorizonDays = 7
	MaxHorizonDays     = 60
)

// ResourceInfo is a resource as one set of the config declares it, with
// what each of its downtimes affects. A resource that several sets declare
// has one ResourceInfo per set: for a site that more than one of them
// selects, the declaration of the last such set applies (sets merge
// resources by name, as tasks).
type ResourceInfo struct {
	// Name is the resource's name, which tasks name in their "uses".
	Name string `json:"name"`
	// Set is the name of the declaring set.
	Set string `json:"set"`
	// Downtimes are the declaration's downtimes, in their order.
	Downtimes []DowntimeInfo `json:"downtimes"`
}

// DowntimeInfo is one downtime of a resource declaration: its schedule as
// declared, the clients and tasks it affects, and its occurrences.
//
// A site is affected when the composed profile of a client there takes this
// declaration (its sets select the site, and no later set that selects it
// declares a resource of the same name), whether or not clients are
// registered there yet. Clients are those registered at affected sites.
// Tasks are those the downtime acts on: enabled, selected by the site's
// tags, not ignoring downtimes, and using the resource (through "uses",
// or for a slot task through its token's name or "uses"). A client's tasks
// are those of its site's entry in Sites: tasks depend on the site only,
// which keeps the answer bounded for a large fleet.
type DowntimeInfo struct {
	// Index is the downtime's place in the declaration's "downtimes".
	Index int `json:"index"`
	// Action is the declared action, "suppress" when it is omitted.
	Action string `json:"action"`
	// From, To, Dates, Days, Once and Ended are as declared, each present
	// in JSON: "" and [] when the declaration leaves them out.
	From  string   `json:"from"`
	To    string   `json:"to"`
	Dates []string `json:"dates"`
	Days  []string `json:"days"`
	Once  bool     `json:"once"`
	Ended string   `json:"ended"`
	// Running reports whether one of the occurrences is running now.
	Running bool `json:"running"`
	// Occurrences are those that have not ended by now and start before
	// the horizon, at every affected site, by start then site.
	Occurrences []Occurrence `json:"occurrences"`
	// Clients are the IDs of the clients affected, sorted.
	Clients []string `json:"clients"`
	// Tasks are the tasks affected at any site, each (name, kind) once,
	// in the order of the sites and then of their profiles.
	Tasks []TaskRef `json:"tasks"`
	// Sites are the affected sites, in the config's order.
	Sites []SiteEffect `json:"sites"`
}

// Occurrence is one occurrence of a downtime at one site. Start and End
// are in the site's zone (RFC 3339 in JSON, with the site's offset).
type Occurrence struct {
	Site  string    `json:"site"`
	Start time.Time `json:"start"`
	// End is when the occurrence ends: the declared end, or the instant of
	// the downtime's "ended" when it falls inside the occurrence.
	End time.Time `json:"end"`
	// Action is the action that applies to this occurrence: with "once",
	// the declared action for the first one and "suppress" for later ones.
	Action string `json:"action"`
	// Running reports whether the fleet's now lies in [Start, End).
	Running bool `json:"running"`
	// Ended reports that End is an early end ("ended").
	Ended bool `json:"ended"`
}

// TaskRef names a task and its kind ("housekeeping", "update",
// "self-update", "shared").
type TaskRef struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// SiteEffect is what a downtime affects at one site.
type SiteEffect struct {
	Site     string `json:"site"`
	Timezone string `json:"timezone"`
	// Clients is how many registered clients the site has.
	Clients int `json:"clients"`
	// Tasks are the tasks affected at the site: the same for each of its
	// clients.
	Tasks []TaskRef `json:"tasks"`
}

// Resources returns every resource the config's sets declare, in the
// order of the sets and then of their "resources", with what each downtime
// affects and its occurrences from the fleet's now to days later (days
// below 1 count as 1, above [MaxHorizonDays] as that). It reads a snapshot
// of the fleet and runs in parallel with other reads and changes.
func (f *Fleet) Resources(days int) []ResourceInfo {
	f.mu.RLock()
	cfg, clients := f.cfg, f.roster()
	f.mu.RUnlock()
	return cfg.resourceInfos(f.clk.Now(), days, newRoster(clients), "", "")
}

// roster is the fleet's clients as the resources view needs them: sorted
// by ID, each with its site, and how many each site has.
type roster struct {
	clients []Client
	count   map[string]int
}

// roster returns the fleet's clients, unsorted, for newRoster; with f.mu
// or f.wmu held.
func (f *Fleet) roster() []Client {
	out := make([]Client, 0, len(f.clients))
	for _, rec := range f.clients {
		out = append(out, Client{ID: rec.ID, Site: rec.Site})
	}
	return out
}

// newRoster sorts the clients (which it keeps) into a roster.
func newRoster(clients []Client) roster {
	slices.SortFunc(clients, func(a, b Client) int { return strings.Compare(a.ID, b.ID) })
	r := roster{clients: clients, count: map[string]int{}}
	for _, c := range clients {
		r.count[c.Site]++
	}
	return r
}

// EndDowntime ends early, for the whole fleet, the occurrence of a
// downtime that is running now: downtime index of the resource of the
// given name as set declares it (set may be "" when one set only declares
// the resource). It sets the downtime's "ended" to the fleet's now (RFC
// 3339, whole seconds, UTC), replacing any earlier "ended" (an occurrence
// the earlier one cut short that would run on without it contains now, so
// it stays ended: only the past changes), as one change
// of the config applied as [Fleet.PutSet] applies one: validated, stored,
// and seen by the agents as a new profile (and ETag) for the clients the
// declaration affects; other clients' profiles are unchanged, and no
// allocation moves. An occurrence of the downtime at a site in another
// zone that is running at the same instant ends too.
//
// It returns the updated declaration (occurrences over
// [DefaultHorizonDays]). Errors: [ErrNoResource] for a resource no set
// declares, a set that does not declare it, or an index it lacks;
// [ErrAmbiguousResource] when set is "" and several sets declare it (the
// error names them); [ErrNotRunning] when no occurrence is running now at
// any affected site (the error says when the next one starts).
func (f *Fleet) EndDowntime(resource, set string, index int) (ri ResourceInfo, err error) {
	err = f.change(func() (err error) {
		ri, err = f.endDowntime(resource, set, index)
		return err
	})
	return ri, err
}

// endDowntime is an attempt of EndDowntime, with f.wmu held.
func (f *Fleet) endDowntime(resource, set string, index int) (ResourceInfo, error) {
	cfg := f.cfg
	si, item, err := cfg.declaration(resource, set)
	if err != nil {
		return ResourceInfo{}, err
	}
	setName := cfg.sets[si].name
	now := f.clk.Now()
	clients := newRoster(f.roster())
	infos := cfg.resourceInfos(now, DefaultHorizonDays, clients, setName, resource)
	if len(infos) != 1 {
		return ResourceInfo{}, fmt.Errorf("server: resource %q of set %q: %d declarations", resource, setName, len(infos))
	}
	info := &infos[0]
	var d *DowntimeInfo
	for i := range info.Downtimes {
		if info.Downtimes[i].Index == index {
			d = &info.Downtimes[i]
		}
	}
	if d == nil {
		return ResourceInfo{}, fmt.Errorf("%w: resource %q of set %q has no downtime %d (it has %d)", ErrNoResource, resource, setName, index, len(info.Downtimes))
	}
	if !d.Running {
		next := fmt.Sprintf("none starts within the next %d days", DefaultHorizonDays)
		if len(d.Occurrences) > 0 {
			o := d.Occurrences[0]
			next = fmt.Sprintf("the next starts at %s at site %q", o.Start.Format(time.RFC3339), o.Site)
		}
		return ResourceInfo{}, fmt.Errorf("%w: downtime %d of resource %q (set %q) has no occurrence running at %s at any site it affects; %s",
			ErrNotRunning, index, resource, setName, now.UTC().Format(time.RFC3339), next)
	}
	raw, err := withEnded(cfg.sets[si].raw, item, index, now.UTC().Format(time.RFC3339))
	if err != nil {
		return ResourceInfo{}, err
	}
	next, err := cfg.WithSet(setName, raw)
	if err != nil {
		return ResourceInfo{}, err
	}
	if err := f.apply(next); err != nil {
		return ResourceInfo{}, err
	}
	for _, ri := range next.resourceInfos(now, DefaultHorizonDays, clients, setName, resource) {
		if ri.Set == setName && ri.Name == resource {
			return ri, nil
		}
	}
	return ResourceInfo{}, fmt.Errorf("server: resource %q of set %q lost by the change", resource, setName)
}

// resourcesSection is the index of "resources" in listSections.
const resourcesSection = 3

// declaration finds the set (by index) and the item of its "resources"
// that declare the resource, as [Fleet.EndDowntime] chooses them.
func (c *Config) declaration(resource, set string) (si, item int, err error) {
	var sets []string
	si, item = -1, -1
	for i := range c.sets {
		for j, it := range c.sets[i].sections[resourcesSection] {
			if it.name != resource {
				continue
			}
			sets = append(sets, c.sets[i].name)
			if set == "" || c.sets[i].name == set {
				si, item = i, j
			}
		}
	}
	switch {
	case len(sets) == 0:
		return -1, -1, fmt.Errorf("%w: no set declares resource %q", ErrNoResource, resource)
	case set != "" && si < 0:
		return -1, -1, fmt.Errorf("%w: set %q does not declare resource %q (declared by %s)", ErrNoResource, set, resource, quoteAll(sets))
	case set == "" && len(sets) > 1:
		return -1, -1, fmt.Errorf("%w: resource %q is declared by sets %s: choose one with ?set=NAME", ErrAmbiguousResource, resource, quoteAll(sets))
	}
	return si, item, nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// withEnded returns the set's JSON with "ended" of downtime index of its
// resource item set to ended, every other member as written.
func withEnded(set json.RawMessage, item, index int, ended string) (json.RawMessage, error) {
	var ps problems
	edit := func(raw json.RawMessage, key string, at int, change func(json.RawMessage) (json.RawMessage, error)) (json.RawMessage, error) {
		o, ok := readObject(&ps, "", raw, nil)
		if !ok {
			return nil, fmt.Errorf("server: set ended: %v", ps.err())
		}
		for k := range o {
			if o[k].key != key {
				continue
			}
			list, ok := readArray(&ps, key, o[k].value)
			if !ok || at >= len(list) {
				return nil, fmt.Errorf("server: set ended: %s[%d] missing", key, at)
			}
			v, err := change(list[at])
			if err != nil {
				return nil, err
			}
			list[at] = v
			if o[k].value, err = json.Marshal(list); err != nil {
				return nil, fmt.Errorf("server: set ended: %w", err)
			}
			return o.marshal(), nil
		}
		return nil, fmt.Errorf("server: set ended: %s missing", key)
	}
	return edit(set, "resources", item, func(res json.RawMessage) (json.RawMessage, error) {
		return edit(res, "downtimes", index, func(dt json.RawMessage) (json.RawMessage, error) {
			o, ok := readObject(&ps, "", dt, nil)
			if !ok {
				return nil, fmt.Errorf("server: set ended: %v", ps.err())
			}
			o = slices.DeleteFunc(o, func(f field) bool { return f.key == "ended" })
			return append(o, field{"ended", mustJSON(ended)}).marshal(), nil
		})
	})
}

// siteView is what the resources view needs of one site.
type siteView struct {
	name  string
	loc   *time.Location
	zone  string
	takes map[string][2]int // resource name -> (set, item) whose declaration applies
	tasks map[string][]TaskRef
}

// resourceInfos computes the resources view at now; with onlySet and
// onlyName non-empty, only that declaration's.
func (c *Config) resourceInfos(now time.Time, days int, clients roster, onlySet, onlyName string) []ResourceInfo {
	days = min(max(days, 1), MaxHorizonDays)
	until := now.AddDate(0, 0, days)
	sites := make([]siteView, len(c.sites))
	// Tasks depend on a site only through its tags and sets: sites alike
	// share one parse of their profile.
	tasks := map[string]map[string][]TaskRef{}
	for i := range c.sites {
		s := &c.sites[i]
		v := siteView{name: s.name, loc: s.site.Location(), zone: s.site.Timezone, takes: map[string][2]int{}}
		sets := c.matching(s.tags)
		for _, si := range sets {
			for j, it := range c.sets[si].sections[resourcesSection] {
				v.takes[it.name] = [2]int{si, j}
			}
		}
		if len(v.takes) > 0 {
			key := fmt.Sprint(sets, slices.Sorted(slices.Values(s.tags)))
			if _, ok := tasks[key]; !ok {
				tasks[key] = c.tasksUsing(i, sets)
			}
			v.tasks = tasks[key]
		}
		sites[i] = v
	}
	var out []ResourceInfo
	for si := range c.sets {
		s := &c.sets[si]
		if onlySet != "" && s.name != onlySet {
			continue
		}
		for j, it := range s.sections[resourcesSection] {
			if onlyName != "" && it.name != onlyName {
				continue
			}
			var res afterhours.Resource
			_ = json.Unmarshal(it.raw, &res) // validated by ParseConfig
			ri := ResourceInfo{Name: it.name, Set: s.name, Downtimes: []DowntimeInfo{}}
			var affected []*siteView
			for k := range sites {
				if sites[k].takes[it.name] == [2]int{si, j} {
					affected = append(affected, &sites[k])
				}
			}
			for k, d := range res.Downtimes {
				if d == nil {
					continue
				}
				ri.Downtimes = append(ri.Downtimes, downtimeInfo(k, d, affected, clients, it.name, now, until))
			}
			out = append(out, ri)
		}
	}
	return out
}

func downtimeInfo(k int, d *afterhours.DowntimeSchedule, affected []*siteView, clients roster, resource string, now, until time.Time) DowntimeInfo {
	di := DowntimeInfo{Index: k, Action: d.Action, From: d.From, To: d.To, Dates: d.Dates, Days: d.Days, Once: d.Once, Ended: d.Ended,
		Occurrences: []Occurrence{}, Clients: []string{}, Tasks: []TaskRef{}, Sites: []SiteEffect{}}
	if di.Action == "" {
		di.Action = afterhours.ActionSuppress
	}
	if di.Dates == nil {
		di.Dates = []string{}
	}
	if di.Days == nil {
		di.Days = []string{}
	}
	for _, sv := range affected {
		for _, o := range occurrences(resource, d, sv.loc, now, until) {
			run := o.Contains(now)
			di.Running = di.Running || run
			di.Occurrences = append(di.Occurrences, Occurrence{Site: sv.name, Start: o.Start, End: o.End, Action: o.Action, Running: run, Ended: o.Ended})
		}
		tasks := sv.tasks[resource]
		if tasks == nil {
			tasks = []TaskRef{}
		}
		di.Sites = append(di.Sites, SiteEffect{Site: sv.name, Timezone: sv.zone, Clients: clients.count[sv.name], Tasks: tasks})
		for _, t := range tasks {
			if !slices.Contains(di.Tasks, t) {
				di.Tasks = append(di.Tasks, t)
			}
		}
	}
	in := make(map[string]bool, len(affected))
	n := 0
	for _, sv := range affected {
		in[sv.name] = true
		n += clients.count[sv.name]
	}
	di.Clients = make([]string, 0, n)
	for _, c := range clients.clients {
		if in[c.Site] {
			di.Clients = append(di.Clients, c.ID)
		}
	}
	slices.SortStableFunc(di.Occurrences, func(a, b Occurrence) int { return a.Start.Compare(b.Start) })
	return di
}

// tasksUsing returns, for the profile of a client at site i with the sets,
// the tasks a downtime of each resource acts on, by resource name.
func (c *Config) tasksUsing(i int, sets []int) map[string][]TaskRef {
	data, _, err := c.compose("placeholder", composition{site: i, sharing: true, sets: sets}, func(string) Placement { return placeholderBase })
	if err != nil {
		return nil
	}
	p, err := afterhours.ParseProfile(data)
	if err != nil {
		return nil // ParseConfig checked this very composition
	}
	out := map[string][]TaskRef{}
	add := func(t *afterhours.Task, uses []string) {
		if t == nil || !t.IsEnabled() || t.IgnoreDowntimes {
			return
		}
		if sel, err := fleet.NewSelector(t.Tags...); err != nil || !sel.Matches(p.Site.Tags) {
			return
		}
		ref := TaskRef{Name: t.Name, Kind: t.Kind().String()}
		for _, u := range uses {
			if !slices.Contains(out[u], ref) {
				out[u] = append(out[u], ref)
			}
		}
	}
	for _, list := range [][]*afterhours.Task{p.Housekeeping, p.Updates, {p.SelfUpdate}} {
		for _, t := range list {
			if t != nil {
				add(t, t.Uses)
			}
		}
	}
	for _, tok := range p.Sharing {
		for _, t := range tok.Tasks {
			add(t, append(append([]string{tok.Token}, tok.Uses...), t.Uses...))
		}
	}
	return out
}

// occurrences returns the occurrences of the downtime of resource in the
// zone loc that intersect [from, to), by the planner's rules (local times
// under the wall-clock rule: a time a DST gap skips moves forward by the
// gap, one that occurs twice is the first; "once"; "ended"); an occurrence
// that "ended" before from is left out.
func occurrences(resource string, d *afterhours.DowntimeSchedule, loc *time.Location, from, to time.Time) []afterhours.Downtime {
	dates := map[afterhours.Date]bool{}
	var first afterhours.Date
	for _, s := range d.Dates {
		if v, err := afterhours.ParseDate(s); err == nil {
			dates[v] = true
			if first == (afterhours.Date{}) || v.Compare(first) < 0 {
				first = v
			}
		}
	}
	var days [7]bool
	for _, s := range d.Days {
		if k := slices.Index(weekdays[:], s); k >= 0 {
			days[k] = true
		}
	}
	fromMin, toMin := -1, -1
	if d.From != "" || d.To != "" {
		var err1, err2 error
		fromMin, err1 = minuteOfDay(d.From)
		toMin, err2 = minuteOfDay(d.To)
		if err1 != nil || err2 != nil {
			return nil // ParseConfig refuses these
		}
	}
	var ended time.Time
	if d.Ended != "" {
		ended, _ = time.Parse(time.RFC3339, d.Ended)
	}
	window := afterhours.Interval{Start: from, End: to}
	var out []afterhours.Downtime
	last := afterhours.DateOf(to.In(loc))
	for day := afterhours.DateOf(from.In(loc)).AddDays(-1); day.Compare(last) <= 0; day = day.AddDays(1) {
		if !dates[day] && !days[day.Weekday()] {
			continue
		}
		var iv afterhours.Interval
		if fromMin < 0 {
			next := day.AddDays(1)
			iv.Start = wallclock.Earliest(day.Year, day.Month, day.Day, 0, 0, 0, loc)
			iv.End = wallclock.Resolve(next.Year, next.Month, next.Day, 0, 0, 0, loc)
		} else {
			end := day
			if toMin <= fromMin {
				end = day.AddDays(1) // crosses midnight
			}
			iv.Start = wallclock.Earliest(day.Year, day.Month, day.Day, fromMin/60, fromMin%60, 0, loc)
			iv.End = wallclock.Resolve(end.Year, end.Month, end.Day, toMin/60, toMin%60, 0, loc)
		}
		o := afterhours.Downtime{Resource: resource, Interval: iv, Action: d.Action}
		if o.Action == "" || (d.Once && day != first) {
			o.Action = afterhours.ActionSuppress
		}
		if !ended.IsZero() && iv.Contains(ended) {
			o.End, o.Ended = ended.In(loc), true
		}
		if o.Overlaps(window) {
			out = append(out, o)
		}
	}
	return out
}

// weekdays are the keys of Days, indexed by time.Weekday.
var weekdays = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// minuteOfDay parses a local time "HH:MM" (24:00 allowed) into minutes.
func minuteOfDay(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	switch {
	case s == "24:00":
		return 1440, nil
	case err != nil:
		return 0, fmt.Errorf("invalid time %q: want HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}
