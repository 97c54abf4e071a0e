package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours"

	"github.com/afterhours-go/afterhours/internal/durfmt"
)

// explainUsage is the usage line of explain.
const explainUsage = "explain FILE TASK [-at TIME] [-days N] [-json]"

// runExplain is "afterhours explain FILE TASK [-at TIME] [-days N]
// [-json]": why a task runs when it does, or why not, over N consecutive
// cycles (default 7) from the one plan would print ([afterhours.Forecast]).
// It prints what the planner decides from: the task's recurrence,
// estimate, resources, selector and the constraints the executor checks;
// then per cycle the window (site-local), the task's placement (start, end
// and lane, and what it starts after) or its deferral with the planner's
// reason and detail, when a recurring task is next due, the holds of
// sharing slots and the downtimes it contends with, and its estimate
// against the room the window has left after the last placed step. An
// unknown TASK is exit status 1, with the profile's task names on stderr.
func runExplain(args []string, stdout, stderr io.Writer, now time.Time) int {
	f := newFlags("explain", explainUsage)
	at := f.String("at", "", "explain as of `TIME`: RFC 3339, or site-local such as 2026-11-24T21:00 (default now)")
	days := f.Int("days", 7, "explain `N` consecutive cycles (1 to 400)")
	asJSON := f.Bool("json", false, "print the explanation as JSON")
	pos, code, stop := f.parse(args, 2, stdout, stderr)
	if stop {
		return code
	}
	if *days < 1 || *days > maxDays {
		return f.usageError(stderr, "-days %d: want 1 to %d cycles", *days, maxDays)
	}
	p, ok := load("explain", pos[0], stderr)
	if !ok {
		return exitFailed
	}
	task := p.Task(pos[1])
	if task == nil {
		fmt.Fprintf(stderr, "afterhours explain: %s has no task %q; its tasks are:\n", pos[0], pos[1])
		for _, name := range taskNames(p) {
			fmt.Fprintf(stderr, "\t%s\n", name)
		}
		return exitFailed
	}
	when, code, ok := instant(f, p, *at, now, stderr)
	if !ok {
		return code
	}
	plans, err := afterhours.Forecast(p, fixedClock(when), *days)
	if err != nil {
		return failed("explain", stderr, err)
	}
	x := explain(p, task, plans)
	if *asJSON {
		err = writeJSON(stdout, x)
	} else {
		err = x.writeText(stdout)
	}
	if err != nil {
		return failed("explain", stderr, err)
	}
	return exitOK
}

// taskNames lists a profile's tasks in the order of its sections.
func taskNames(p *afterhours.Profile) []string {
	var names []string
	add := func(ts []*afterhours.Task) {
		for _, t := range ts {
			names = append(names, t.Name)
		}
	}
	for _, tok := range p.Sharing {
		add(tok.Tasks)
	}
	add(p.Housekeeping)
	add(p.Updates)
	if p.SelfUpdate != nil {
		add([]*afterhours.Task{p.SelfUpdate})
	}
	add(p.Timers)
	return names
}

// explanation is what explain prints: the task's rules, then its cycles.
type explanation struct {
	Task       string          `json:"task"`
	Kind       afterhours.Kind `json:"kind"`
	Token      string          `json:"token,omitempty"`
	Recurs     string          `json:"recurs"`
	Enabled    bool            `json:"enabled"`
	Selector   []string        `json:"selector,omitempty"`
	SiteTags   []string        `json:"site_tags,omitempty"`
	Matches    bool            `json:"matches"`
	Estimate   string          `json:"estimate"`
	EstimateOf string          `json:"estimate_of"`
	Timeout    string          `json:"timeout,omitempty"`
	Uses       []string        `json:"uses,omitempty"`
	// IgnoresDowntimes is the task's ignore_downtimes.
	IgnoresDowntimes bool             `json:"ignores_downtimes,omitempty"`
	OnFailure        string           `json:"on_failure"`
	Lanes            int              `json:"lanes"`
	Constraints      []string         `json:"constraints,omitempty"`
	Zone             string           `json:"zone"`
	Cycles           []explainedCycle `json:"cycles"`

	loc *time.Location
}

// explainedCycle is one cycle as the task sees it.
type explainedCycle struct {
	Day    string               `json:"day"`
	Window *afterhours.Interval `json:"window,omitempty"` // nil: no after-hours window; its JSON is site-local
	From   time.Time            `json:"from,omitzero"`
	// NextDue is the first occurrence of a recurring task at or after the
	// cycle's start; DueInCycle says it lies in the cycle.
	NextDue    time.Time           `json:"next_due,omitzero"`
	DueInCycle bool                `json:"due_in_cycle,omitempty"`
	Step       *explainedStep      `json:"step,omitempty"`
	Slots      []explainedSlot     `json:"slots,omitempty"`
	Timers     *explainedTimers    `json:"timers,omitempty"`
	Deferral   *explainedDeferral  `json:"deferral,omitempty"`
	Holds      []explainedSlot     `json:"holds,omitempty"`
	Downtimes  []explainedDowntime `json:"downtimes,omitempty"`
	// RoomLeft is the window's time after the last step placed in it (or
	// after From when none is), for a task of the sequence that is not
	// placed: how much its estimate would have to fit in.
	RoomLeft string    `json:"room_left,omitempty"`
	LastEnd  time.Time `json:"last_end,omitzero"`
}

// explainedStep is the task's placed step.
type explainedStep struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Lane counts from 1.
	Lane int `json:"lane"`
	// After lists what ends where the step starts.
	After []string `json:"after"`
}

// explainedDowntime is a downtime occurrence of a resource the task uses.
type explainedDowntime struct {
	Resource string    `json:"resource"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Action   string    `json:"action"`
	Ended    bool      `json:"ended,omitempty"`
}

// explainedSlot is a slot occurrence: one the task runs in, or one whose
// hold it contends with.
type explainedSlot struct {
	Token  string              `json:"token"`
	Buffer afterhours.Interval `json:"buffer"`
	Run    afterhours.Interval `json:"run"`
	Void   bool                `json:"void,omitempty"`
	Tasks  []string            `json:"tasks,omitempty"`
}

// explainedTimers are a timer's runs in the cycle's span.
type explainedTimers struct {
	Runs  int       `json:"runs"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// explainedDeferral is the planner's deferral of the task.
type explainedDeferral struct {
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// explain gathers what plans say about task t.
func explain(p *afterhours.Profile, t *afterhours.Task, plans []*afterhours.Plan) *explanation {
	loc := p.Site.Location()
	x := &explanation{
		Task: t.Name, Kind: t.Kind(), Token: t.Token(), Enabled: t.IsEnabled(),
		Selector: t.Tags, SiteTags: p.Site.Tags, Matches: t.MatchesSite(),
		Uses: t.Uses, IgnoresDowntimes: t.IgnoreDowntimes, OnFailure: "continue",
		Lanes: max(p.Parallel, 1), Zone: loc.String(), loc: loc,
	}
	switch {
	case t.Estimate > 0:
		x.Estimate, x.EstimateOf = durfmt.Short(time.Duration(t.Estimate)), "its estimate"
	case t.Timeout > 0:
		x.Estimate, x.EstimateOf = durfmt.Short(time.Duration(t.Timeout)), "its timeout (no estimate)"
	default:
		x.Estimate, x.EstimateOf = durfmt.Short(afterhours.DefaultEstimate), "the default (neither estimate nor timeout)"
	}
	if t.Timeout > 0 {
		x.Timeout = durfmt.Short(time.Duration(t.Timeout))
	}
	if t.StopsCycle() {
		x.OnFailure = "stop"
	}
	for _, c := range p.Constraints.List() {
		x.Constraints = append(x.Constraints, c.Name())
	}
	x.Recurs = recursText(t)
	recurring := t.Schedule != "" || t.Repeat != ""
	for _, plan := range plans {
		c := explainedCycle{Day: plan.Day}
		if !plan.Window.Empty() {
			w := plan.Window
			c.Window, c.From = &w, plan.From
		}
		if recurring {
			if next, err := p.Occurrences(t.Name, plan.Span.Start, 1); err == nil && len(next) == 1 {
				c.NextDue, c.DueInCycle = next[0], plan.Span.Contains(next[0])
			}
		}
		for _, d := range plan.Deferred {
			if d.Task == t {
				c.Deferral = &explainedDeferral{d.Reason, d.Detail}
			}
		}
		lanes := plan.Lanes()
		for i, s := range plan.Steps {
			if s.Task == t {
				c.Step = &explainedStep{Start: s.Start, End: s.End, Lane: lanes[i] + 1, After: startsAfter(p, plan, i, lanes)}
			}
		}
		for _, s := range plan.Slots {
			if slices.Contains(s.Tasks, t) {
				c.Slots = append(c.Slots, slotOf(s))
			}
		}
		for _, r := range plan.Timers {
			if r.Task != t {
				continue
			}
			if c.Timers == nil {
				c.Timers = &explainedTimers{First: r.At}
			}
			c.Timers.Runs++
			c.Timers.Last = r.At
		}
		if inSequence(t.Kind()) && (c.Step != nil || c.Deferral != nil && placementReason(c.Deferral.Reason)) {
			for _, s := range append(slices.Clone(plan.Slots), plan.Neighbours...) {
				if !s.Void && contends(t.Uses, tokenUses(p, s.Token)) && s.Hold().Overlaps(plan.Window) {
					c.Holds = append(c.Holds, slotOf(s))
				}
			}
			if c.Step == nil && c.Window != nil {
				c.LastEnd = plan.From
				for _, s := range plan.Steps {
					if s.End.After(c.LastEnd) {
						c.LastEnd = s.End
					}
				}
				c.RoomLeft = durfmt.Short(plan.Window.End.Sub(c.LastEnd))
			}
		}
		if !t.IgnoreDowntimes && (c.Step != nil || len(c.Slots) > 0 || c.Deferral != nil && placementReason(c.Deferral.Reason)) {
			for _, d := range plan.Downtimes {
				if slices.Contains(t.Uses, d.Resource) {
					c.Downtimes = append(c.Downtimes, explainedDowntime{d.Resource, d.Start, d.End, d.Action, d.Ended})
				}
			}
		}
		x.Cycles = append(x.Cycles, c)
	}
	return x
}

// placementReason reports whether a deferral's reason comes from placing
// the task in its cycle (rather than from whether it is due, enabled,
// selected or settled): the holds, downtimes and room explain it.
func placementReason(reason string) bool {
	return reason == afterhours.ReasonWindowFull || reason == afterhours.ReasonBusinessHours ||
		reason == afterhours.ReasonNoSlot || strings.HasPrefix(reason, "downtime:")
}

// inSequence reports whether tasks of kind k are placed as steps.
func inSequence(k afterhours.Kind) bool {
	return k == afterhours.Housekeeping || k == afterhours.Update || k == afterhours.SelfUpdate
}

func recursText(t *afterhours.Task) string {
	switch {
	case t.Schedule != "":
		return fmt.Sprintf("schedule %q, in the site's zone", t.Schedule)
	case t.Repeat != "":
		return fmt.Sprintf("repeat %s from %s", t.Repeat, t.Start)
	}
	switch t.Kind() {
	case afterhours.Housekeeping:
		return "every cycle (no schedule or repeat)"
	case afterhours.Shared:
		return fmt.Sprintf("in every slot of token %s", t.Token())
	case afterhours.SelfUpdate:
		return "once: after every other step, when every update is completed"
	}
	return "once: carried over until it runs"
}

func slotOf(s afterhours.Slot) explainedSlot {
	es := explainedSlot{Token: s.Token, Buffer: s.Buffer, Run: s.Run, Void: s.Void}
	for _, t := range s.Tasks {
		es.Tasks = append(es.Tasks, t.Name)
	}
	return es
}

// tokenUses returns the uses of the sharing token named name.
func tokenUses(p *afterhours.Profile, name string) []string {
	for _, tok := range p.Sharing {
		if tok.Token == name {
			return tok.Uses
		}
	}
	return nil
}

// contends reports whether two uses sets share a resource; a set that is
// empty declares nothing and so contends with every other.
func contends(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, r := range a {
		if slices.Contains(b, r) {
			return true
		}
	}
	return false
}

// startsAfter says what ends where step i starts: the start of projection,
// a step before it in its lane or one it contends with, a hold of a
// sharing slot it contends with, a downtime of a resource it uses.
func startsAfter(p *afterhours.Profile, plan *afterhours.Plan, i int, lanes []int) []string {
	s := plan.Steps[i]
	loc := plan.Window.Start.Location()
	var why []string
	if s.Start.Equal(plan.From) {
		if plan.From.Equal(plan.Window.Start) {
			why = append(why, "the window's start")
		} else {
			why = append(why, "the instant planned at")
		}
	}
	for j, o := range plan.Steps {
		if j == i || !o.End.Equal(s.Start) {
			continue
		}
		switch {
		case lanes[j] == lanes[i]:
			why = append(why, fmt.Sprintf("%s, before it in lane %d", o.Task.Name, lanes[i]+1))
		case contends(s.Task.Uses, o.Task.Uses):
			why = append(why, fmt.Sprintf("%s in lane %d, which it contends with", o.Task.Name, lanes[j]+1))
		}
	}
	for _, sl := range append(slices.Clone(plan.Slots), plan.Neighbours...) {
		if !sl.Void && sl.Run.End.Equal(s.Start) && contends(s.Task.Uses, tokenUses(p, sl.Token)) {
			why = append(why, fmt.Sprintf("the hold of %s (%s)", sl.Token, holdText(sl.Buffer, sl.Run, loc)))
		}
	}
	if !s.Task.IgnoreDowntimes {
		for _, d := range plan.Downtimes {
			if d.End.Equal(s.Start) && slices.Contains(s.Task.Uses, d.Resource) {
				why = append(why, fmt.Sprintf("%s's downtime %s (%s)", d.Resource, spanText(d.Interval, loc), d.Action))
			}
		}
	}
	return why
}

// writeText writes the explanation as readable text.
func (x *explanation) writeText(w io.Writer) error {
	var b strings.Builder
	line := func(key, format string, args ...any) {
		fmt.Fprintf(&b, "%-12s%s\n", key, fmt.Sprintf(format, args...))
	}
	kind := x.Kind.String()
	if x.Token != "" {
		kind += ", token " + x.Token
	}
	line("task", "%s (%s)", x.Task, kind)
	line("recurs", "%s", x.Recurs)
	if !x.Enabled {
		line("enabled", "no: deferred as disabled")
	}
	switch {
	case len(x.Selector) == 0:
		line("tags", "none: runs on every site")
	case x.Matches:
		line("tags", "%s: match the site's (%s)", strings.Join(x.Selector, ", "), strings.Join(x.SiteTags, ", "))
	default:
		line("tags", "%s: do not match the site's (%s)", strings.Join(x.Selector, ", "), strings.Join(x.SiteTags, ", "))
	}
	line("estimate", "%s, from %s", x.Estimate, x.EstimateOf)
	if x.Timeout != "" {
		line("timeout", "%s", x.Timeout)
	}
	if len(x.Uses) == 0 {
		if inSequence(x.Kind) {
			line("uses", "nothing declared: contends with every hold and step")
		} else {
			line("uses", "nothing declared")
		}
	} else {
		line("uses", "%s", strings.Join(x.Uses, ", "))
	}
	if x.IgnoresDowntimes {
		line("downtimes", "ignored (ignore_downtimes)")
	}
	if inSequence(x.Kind) {
		line("lanes", "%d", x.Lanes)
		line("on failure", "%s", x.OnFailure)
	}
	if len(x.Constraints) > 0 {
		line("constraints", "%s (checked by the executor before the step runs, not planned)", strings.Join(x.Constraints, ", "))
	}
	line("zone", "%s", x.Zone)
	line("assumes", "no history; work placed in a cycle completes, as forecast assumes")
	for _, c := range x.Cycles {
		b.WriteString("\n")
		if c.Window == nil {
			fmt.Fprintf(&b, "cycle %s: no after-hours window\n", c.Day)
		} else {
			fmt.Fprintf(&b, "cycle %s: window %s (%s)\n", c.Day, spanText(*c.Window, x.loc), durfmt.Short(c.Window.Duration()))
			if !c.From.Equal(c.Window.Start) {
				line("  from", "%s", timeText(c.From, x.loc))
			}
		}
		if !c.NextDue.IsZero() {
			if c.DueInCycle {
				line("  due", "%s, in this cycle", longTime(c.NextDue, x.loc))
			} else {
				line("  due", "next %s, not in this cycle", longTime(c.NextDue, x.loc))
			}
		}
		if c.Step != nil {
			line("  runs", "%s, lane %d", spanText(afterhours.Interval{Start: c.Step.Start, End: c.Step.End}, x.loc), c.Step.Lane)
			if len(c.Step.After) > 0 {
				line("  after", "%s", strings.Join(c.Step.After, "; "))
			}
		}
		for _, s := range c.Slots {
			void := ""
			if s.Void {
				void = ", void: the slot meets business hours"
			}
			line("  slot", "%s: %s%s", s.Token, holdText(s.Buffer, s.Run, x.loc), void)
		}
		if c.Timers != nil {
			line("  runs", "%d time(s), %s to %s", c.Timers.Runs, timeText(c.Timers.First, x.loc), timeText(c.Timers.Last, x.loc))
		}
		if c.Deferral != nil {
			line("  deferred", "%s: %s", c.Deferral.Reason, c.Deferral.Detail)
		}
		if c.RoomLeft != "" {
			line("  room", "needs %s; %s left in the window after %s", x.Estimate, c.RoomLeft, timeText(c.LastEnd, x.loc))
		}
		for _, h := range c.Holds {
			tasks := ""
			if len(h.Tasks) > 0 {
				tasks = " (" + strings.Join(h.Tasks, ", ") + ")"
			}
			line("  hold", "%s: %s%s", h.Token, holdText(h.Buffer, h.Run, x.loc), tasks)
		}
		for _, d := range c.Downtimes {
			ended := ""
			if d.Ended {
				ended = ", ended early"
			}
			line("  downtime", "%s %s, %s%s", d.Resource, spanText(afterhours.Interval{Start: d.Start, End: d.End}, x.loc), d.Action, ended)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// timeText is a site-local instant within a cycle: "Tue 21:00 GMT".
func timeText(t time.Time, loc *time.Location) string { return t.In(loc).Format("Mon 15:04 MST") }

// longTime is a site-local instant with its date: "Sun 2026-11-29 04:00 GMT".
func longTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2006-01-02 15:04 MST")
}

func spanText(iv afterhours.Interval, loc *time.Location) string {
	return timeText(iv.Start, loc) + " - " + timeText(iv.End, loc)
}

func holdText(buffer, run afterhours.Interval, loc *time.Location) string {
	if buffer.Empty() {
		return "slot " + spanText(run, loc)
	}
	return "buffer " + timeText(buffer.Start, loc) + ", slot " + spanText(run, loc)
}
