package afterhours

import (
	"slices"
	"strings"
	"time"
)

// compileState is what validation shares between the tasks of a profile,
// so that a profile of many alike tasks holds each thing once: equal
// strings and lists (command lines, schedules, resources, tags), the
// recurrences of equal schedules, and the compiled part of alike tasks. It
// lives while validation runs.
type compileState struct {
	recurs map[recurrence]*recurrence
	infos  map[infoKey]*taskInfo
	strs   map[string]string
	lists  map[string][]string // by their elements, each followed by a NUL
}

func newCompileState() *compileState {
	return &compileState{
		recurs: map[recurrence]*recurrence{},
		infos:  map[infoKey]*taskInfo{},
		strs:   map[string]string{},
		lists:  map[string][]string{},
	}
}

// infoKey is what a task's compiled part depends on: tasks with equal keys
// share it.
type infoKey struct {
	kind     Kind
	token    string
	uses     string // the uses list, each followed by a NUL
	ignore   bool   // ignore_downtimes
	matches  bool
	estimate time.Duration
}

// share makes t's strings and lists the profile's shared copies of equal
// ones. A profile is not mutated once validated, so sharing shows nowhere;
// lists are clipped, so that appending to one copies it.
func (c *compileState) share(t *Task) {
	t.Run = c.list(t.Run)
	t.Uses = c.list(t.Uses)
	t.Tags = c.list(t.Tags)
	t.User = c.str(t.User)
	t.OnFailure = c.str(t.OnFailure)
	t.Schedule = c.str(t.Schedule)
	t.Repeat = c.str(t.Repeat)
	t.Start = c.str(t.Start)
}

func (c *compileState) str(s string) string {
	if s == "" {
		return s
	}
	if have, ok := c.strs[s]; ok {
		return have
	}
	c.strs[s] = s
	return s
}

// list returns the shared copy of l. A list holding a NUL byte (which
// validation refuses) is left as it is: its key would not be unique.
func (c *compileState) list(l []string) []string {
	key, ok := listKey(l)
	if !ok {
		return l
	}
	if have, ok := c.lists[key]; ok {
		return have
	}
	for i, s := range l {
		l[i] = c.str(s)
	}
	l = slices.Clip(l)
	c.lists[key] = l
	return l
}

// listKey returns l's elements, each followed by a NUL, and false when l
// is empty or an element holds a NUL.
func listKey(l []string) (string, bool) {
	if len(l) == 0 {
		return "", false
	}
	var b strings.Builder
	for _, s := range l {
		if strings.IndexByte(s, 0) >= 0 {
			return "", false
		}
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.String(), true
}

// info returns the compiled part of t, a task of the given token (for
// Shared tasks), shared with the alike tasks compiled before.
func (p *Profile) info(t *Task, token string) *taskInfo {
	uses, ok := listKey(t.Uses)
	if !ok && len(t.Uses) > 0 {
		// Not a key (a NUL byte, refused by validation): its own.
		return &taskInfo{token: token, res: p.resourcesOf(t.Uses), matches: selectorMatches(t.Tags, p.Site.Tags),
			estimate: t.ownEstimate()}
	}
	key := infoKey{kind: t.kind, token: token, uses: uses, ignore: t.IgnoreDowntimes,
		matches: selectorMatches(t.Tags, p.Site.Tags), estimate: t.ownEstimate()}
	if have, ok := p.compiling.infos[key]; ok {
		return have
	}
	ti := &taskInfo{token: token, res: p.resourcesOf(t.Uses), matches: key.matches, estimate: key.estimate}
	p.compiling.infos[key] = ti
	return ti
}
