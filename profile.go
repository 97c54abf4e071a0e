package afterhours

import (
	"fmt"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Profile is everything a client needs to plan its maintenance: its site,
// its sharing profile (tokens with their slots) and its tasks.
//
// A Profile comes from [ParseProfile] or [LoadProfile], or is built in Go and
// then passed to [Profile.Validate]. Validation compiles it once (zones,
// intervals, durations, selectors); after that it is read-only: planning never
// re-parses it, it is safe for concurrent use, and it must not be mutated.
type Profile struct {
	// Client names the machine, as the fleet knows it.
	Client string `json:"client"`
	// Site is where the client runs.
	Site Site `json:"site"`
	// Sharing is the sharing profile: a slot per token and day.
	Sharing []*Token `json:"sharing,omitempty"`
	// Housekeeping is recurring work: due in every cycle, or in the cycles
	// where its schedule or repeat has an occurrence.
	Housekeeping []*Task `json:"housekeeping,omitempty"`
	// Updates are one-off software updates, run after housekeeping.
	Updates []*Task `json:"updates,omitempty"`
	// SelfUpdate is the one-off update of the agent itself, last and alone.
	SelfUpdate *Task `json:"self_update,omitempty"`
	// Timers run at the exact times of their schedule or repeat, outside
	// the sequence.
	Timers []*Task `json:"timers,omitempty"`
	// Resources are the resources tasks use that have downtime calendars.
	Resources []*Resource `json:"resources,omitempty"`
	// Parallel is the number of lanes housekeeping and updates run in;
	// 0 means 1.
	Parallel int `json:"parallel,omitempty"`
	// Constraints switches on built-in constraints the executor checks
	// before each step (see [Constraints]).
	Constraints *Constraints `json:"constraints,omitempty"`

	validated bool
	tasks     int // how many tasks the profile has
	nrecurs   int // how many distinct recurrences its tasks share
	lanes     int
	resIDs    map[string]int
	byName    []*Task // sorted by name
	// compiling is what validation shares between tasks, while it runs.
	compiling *compileState
}

// Token is one entry of the sharing profile: a shared resource (a package
// repository, a site LAN) and the daily slot the client may use it in.
//
// On each date of its zone the token's slot is [Base, Base+Duration), and the
// buffer zone [Base-Buffer, Base) precedes it; buffer and slot together are
// the token's hold, in which no contending work may start or run.
type Token struct {
	// Token names the shared resource.
	Token string `json:"token"`
	// Base is the slot's start, "HH:MM" in Zone. It is required, unless
	// Unplaced is set, and then it must be empty.
	Base string `json:"base,omitempty"`
	// Unplaced, when set, says why the fleet server could not give this
	// client a base for the token (for instance: no window left under the
	// token's capacity). The token then has no slot: planning defers each
	// of its tasks as "no-slot", with "unplaced: " and this reason as the
	// detail, and [Token.SlotOn] must not be asked for its slots.
	Unplaced string `json:"unplaced,omitempty"`
	// Zone is "UTC" (the default: fleet-wide resources) or "site" (the
	// site's own zone: local resources such as the site LAN).
	Zone string `json:"zone,omitempty"`
	// Duration is the slot's length; required.
	Duration Duration `json:"duration"`
	// Buffer is the length of the buffer zone before the slot.
	Buffer Duration `json:"buffer,omitempty"`
	// Uses names the resources the slot's work occupies: a step contends
	// with the token's holds when it uses one of them. A token declares
	// only what Uses lists (its own name is not implied); without Uses it
	// declares nothing, and every step contends with its holds (unknown
	// means contention).
	Uses []string `json:"uses,omitempty"`
	// Anytime lets the slot run in business hours.
	Anytime bool `json:"anytime,omitempty"`
	// Tasks run inside the slot.
	Tasks []*Task `json:"tasks,omitempty"`

	base int // minutes of the day
	loc  *time.Location
	res  resources
}

// LoadProfile reads and parses the profile in the file at path.
func LoadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("afterhours: load profile: %w", err)
	}
	p, err := ParseProfile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Validated reports whether the profile passed validation and may be
// planned. [ParseProfile] returns validated profiles; a Profile decoded
// with encoding/json or built in Go (to set Go actions) is validated by
// [Profile.Validate], and planning, running and forecasting one that is not
// fails with [ErrNotValidated]. Code that receives profiles from elsewhere,
// such as package fleet's load forecast, checks this first.
func (p *Profile) Validated() bool { return p != nil && p.validated }

// Task returns the task of the given name, or nil.
func (p *Profile) Task(name string) *Task {
	i, ok := slices.BinarySearchFunc(p.byName, name, func(t *Task, name string) int { return strings.Compare(t.Name, name) })
	if !ok {
		return nil
	}
	return p.byName[i]
}

// Validate checks the whole profile, collecting every problem with its
// field path into a *ValidationError, and compiles it for planning. Among
// the problems: a NUL byte in any string of the profile, map keys included
// (no name, command line, path or zone can carry one), and business hours
// that leave no after-hours window (see [Site]). A
// profile that fails validation cannot be planned ([ErrNotValidated]).
//
// Validation compiles alike tasks once: tasks with the same schedule share
// its compiled form, and equal command lines, resource and tag lists and
// schedule strings become one shared copy (lists clipped to their length,
// so that appending to one copies it). That is one more reason never to
// change a validated profile's tasks in place.
func (p *Profile) Validate() error {
	var ps problems
	p.compile(&ps)
	return ps.err()
}

func (p *Profile) compile(ps *problems) {
	n := len(ps.list)
	p.validated = false
	checkNUL(ps, "", reflect.ValueOf(p).Elem())
	if p.Client == "" {
		ps.add("client", "required: the client's name")
	}
	p.Site.compile(ps, "site")
	switch {
	case p.Parallel < 0:
		ps.add("parallel", "must not be negative")
	case p.Parallel == 0:
		p.lanes = 1
	default:
		p.lanes = p.Parallel
	}

	p.compileResources(ps)
	p.compiling = newCompileState()
	defer func() { p.compiling = nil }()
	p.resIDs = map[string]int{}
	size := len(p.Housekeeping) + len(p.Updates) + len(p.Timers) + 1
	for _, tok := range p.Sharing {
		if tok != nil {
			size += len(tok.Tasks)
		}
	}
	p.byName = make([]*Task, 0, size) // never the old one: a copy of p may hold it
	names := map[string]string{}      // task name -> path of its first use
	tokens := map[string]bool{}
	for i, tok := range p.Sharing {
		tp := fmt.Sprintf("sharing[%d]", i)
		if tok == nil {
			ps.add(tp, "null token")
			continue
		}
		p.compileToken(ps, tp, tok, tokens)
		for j, t := range tok.Tasks {
			p.compileTask(ps, fmt.Sprintf("%s.tasks[%d]", tp, j), t, Shared, tok.Token, names)
		}
	}
	for i, t := range p.Housekeeping {
		p.compileTask(ps, fmt.Sprintf("housekeeping[%d]", i), t, Housekeeping, "", names)
	}
	for i, t := range p.Updates {
		p.compileTask(ps, fmt.Sprintf("updates[%d]", i), t, Update, "", names)
	}
	if p.SelfUpdate != nil {
		p.compileTask(ps, "self_update", p.SelfUpdate, SelfUpdate, "", names)
	}
	for i, t := range p.Timers {
		tp := fmt.Sprintf("timers[%d]", i)
		p.compileTask(ps, tp, t, Timer, "", names)
		if t != nil && t.recur == nil && t.Schedule == "" && t.Repeat == "" {
			ps.add(tp+".schedule", "required: a timer needs a schedule, or a repeat with a start")
		}
	}
	p.Constraints.compile(ps, "constraints")
	p.tasks = len(p.byName)
	p.byName = slices.Clip(p.byName)
	slices.SortFunc(p.byName, func(a, b *Task) int { return strings.Compare(a.Name, b.Name) })
	p.nrecurs = len(p.compiling.recurs)
	p.linkDowntimes()
	p.validated = len(ps.list) == n
}

// nulMessage says why a NUL byte is refused.
const nulMessage = "holds a NUL byte (\\u0000): no name, command line, path or zone can carry one"

// checkNUL reports every string of v that holds a NUL byte, at its field
// path: strings of every field (by its JSON name), element and map value,
// and map keys (at the map's path, since a key with a NUL byte cannot be
// part of a readable path). A NUL byte ends a string for the system calls
// that take names, command lines and paths, so an argv holding one would
// fail every run and a name would mean something else to the system than
// to the profile. Every profile passes through this one walk, whether it
// came from JSON or was built in Go; fields the profile does not encode
// (json:"-", such as [Task.Action]) are not walked.
func checkNUL(ps *problems, path string, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if strings.IndexByte(v.String(), 0) >= 0 {
			ps.add(path, nulMessage)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			checkNUL(ps, path, v.Elem())
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			checkNUL(ps, join(path, name), v.Field(i))
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes, not text
		}
		for i := range v.Len() {
			checkNUL(ps, fmt.Sprintf("%s[%d]", path, i), v.Index(i))
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			if k.Kind() == reflect.String && strings.IndexByte(k.String(), 0) >= 0 {
				ps.add(path, "key %q "+nulMessage, k.String())
				continue
			}
			checkNUL(ps, join(path, fmt.Sprint(k.Interface())), v.MapIndex(k))
		}
	}
}

// uniqueName reports a name that is empty or already in seen, and adds it.
func uniqueName(ps *problems, path, what, name string, seen map[string]bool) {
	switch {
	case name == "":
		ps.add(path, "required")
	case seen[name]:
		ps.add(path, "%s %q repeated", what, name)
	}
	seen[name] = true
}

func (p *Profile) compileToken(ps *problems, tp string, tok *Token, seen map[string]bool) {
	uniqueName(ps, tp+".token", "token", tok.Token, seen)
	tok.base = 0
	switch {
	case tok.Unplaced != "" && tok.Base != "":
		ps.add(tp+".base", "must be empty: the token is unplaced (%s)", tok.Unplaced)
	case tok.Unplaced != "":
		// No base: the planner lists no slot for the token.
	case tok.Base == "":
		ps.add(tp+".base", "required: the slot's start, HH:MM (or \"unplaced\" with the reason the token has no base)")
	default:
		base, err := parseClock(tok.Base, false)
		if err != nil {
			ps.add(tp+".base", "%v", err)
		}
		tok.base = base
	}
	switch tok.Zone {
	case "", "UTC":
		tok.loc = time.UTC
	case "site":
		tok.loc = p.Site.loc
	default:
		ps.add(tp+".zone", "unknown zone %q: want \"UTC\" or \"site\"", tok.Zone)
	}
	if tok.Duration <= 0 {
		ps.add(tp+".duration", "required: a positive duration such as \"20m\"")
	}
	if tok.Buffer < 0 {
		ps.add(tp+".buffer", "must not be negative")
	}
	if time.Duration(tok.Duration+tok.Buffer) > 24*time.Hour {
		ps.add(tp, "buffer and duration together exceed 24h: the holds of consecutive days would overlap")
	}
	checkNames(ps, tp+".uses", tok.Uses, "resource", noExtra)
	tok.res = p.resourcesOf(tok.Uses)
}

func noExtra(string) string { return "" }

func (p *Profile) resourcesOf(uses []string) resources {
	if len(uses) == 0 {
		return resources{any: true}
	}
	ids := make([]int, 0, len(uses))
	for _, u := range uses {
		id, ok := p.resIDs[u]
		if !ok {
			id = len(p.resIDs)
			p.resIDs[u] = id
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return resources{ids: slices.Compact(ids)}
}

func (p *Profile) compileTask(ps *problems, tp string, t *Task, kind Kind, token string, names map[string]string) {
	if t == nil {
		ps.add(tp, "null task")
		return
	}
	t.kind = kind
	switch first, dup := names[t.Name]; {
	case t.Name == "":
		ps.add(tp+".name", "required")
	case dup:
		ps.add(tp+".name", "name %q already used at %s: task names are unique across the profile", t.Name, first)
	default:
		names[t.Name] = tp
		p.byName = append(p.byName, t)
	}
	p.compiling.share(t)
	switch {
	case len(t.Run) == 0 && t.Action == nil:
		ps.add(tp+".run", "required: an absolute path and its arguments")
	case len(t.Run) > 0 && !path.IsAbs(t.Run[0]):
		ps.add(tp+".run[0]", "%q is not an absolute path: commands run without a shell or a search path", t.Run[0])
	}
	if t.Estimate < 0 {
		ps.add(tp+".estimate", "must not be negative")
	}
	if t.Timeout < 0 {
		ps.add(tp+".timeout", "must not be negative")
	}
	if t.Estimate > 0 && t.Timeout > 0 && t.Estimate > t.Timeout {
		ps.add(tp+".estimate", "%v exceeds the timeout %v: every run would be cut short", time.Duration(t.Estimate), time.Duration(t.Timeout))
	}
	checkNames(ps, tp+".uses", t.Uses, "resource", noExtra)
	checkNames(ps, tp+".tags", t.Tags, "tag", func(tag string) string {
		if tag == "!" {
			return "empty tag after '!'"
		}
		return ""
	})
	for i, tag := range t.Tags {
		if neg, ok := strings.CutPrefix(tag, "!"); ok && slices.Contains(t.Tags, neg) {
			ps.add(fmt.Sprintf("%s.tags[%d]", tp, i), "selector has both %q and %q: it can never match", neg, tag)
		}
	}
	switch t.OnFailure {
	case "", "continue", "stop":
	default:
		ps.add(tp+".on_failure", "unknown value %q: want \"continue\" or \"stop\"", t.OnFailure)
	}
	t.taskInfo = p.info(t, token)
	t.recur = nil
	if kind == Housekeeping || kind == Timer {
		t.recur = p.intern(compileRecurrence(ps, tp, t, p.Site.loc))
		return
	}
	if t.Schedule != "" {
		ps.add(tp+".schedule", "only housekeeping and timers recur")
	}
	if t.Repeat != "" {
		ps.add(tp+".repeat", "only housekeeping and timers recur")
	}
	if t.Start != "" {
		ps.add(tp+".start", "only housekeeping and timers have a start")
	}
}

// intern returns the profile's one copy of r: tasks with the same schedule
// share it, so that planning works out when it is due once for them all.
func (p *Profile) intern(r *recurrence) *recurrence {
	if r == nil {
		return nil
	}
	r.start = r.start.UTC() // the same instant, however its zone was written
	key := *r               // id 0: the key is the recurrence itself
	recurs := p.compiling.recurs
	if have, ok := recurs[key]; ok {
		return have
	}
	r.id = int32(len(recurs))
	recurs[key] = r
	return r
}
