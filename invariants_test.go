package afterhours

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkPlan asserts every planning invariant of the design (rules 1-8 and
// 11-13) on a plan that PlanAt(p, now, WithHistory(h)) returned. It recomputes
// what it can without the planner's internals: the cycle from the exported
// Site methods, the slot occurrences from each token's Base, Zone, Duration
// and Buffer through wallclock.Resolve, contention from the names in `uses`,
// estimates from the history, and the earliest placement of rule 3 by brute
// force over the instants where a constraint can end.
func checkPlan(t testing.TB, p *Profile, now time.Time, h History, plan *Plan) {
	t.Helper()
	if plan == nil {
		t.Errorf("checkPlan %s at %s: nil plan", p.Client, now.Format(time.RFC3339))
		return
	}
	c := &invChecker{t: t, p: p, now: now, h: h, plan: plan, site: &p.Site}
	c.run()
}

// invChecker holds what the checks of one plan share.
type invChecker struct {
	t    testing.TB
	p    *Profile
	now  time.Time
	h    History
	plan *Plan
	site *Site

	occs     []invOccurrence // every occurrence around the span, all tokens
	downs    []Downtime      // every downtime occurrence around the span
	blockers map[*Task][]string
	fails    int
}

// invOccurrence is one slot occurrence of a token, recomputed by the test.
type invOccurrence struct {
	tok    *Token
	buffer Interval
	run    Interval
	void   bool
}

func (o invOccurrence) hold() Interval { return Interval{o.buffer.Start, o.run.End} }

// invMaxFailures bounds the messages of one plan: a broken invariant tends
// to break everywhere at once.
const invMaxFailures = 20

func (c *invChecker) fail(format string, args ...any) {
	c.t.Helper()
	c.fails++
	if c.fails > invMaxFailures {
		return
	}
	c.t.Errorf("%s, planned at %s (cycle %s): %s", c.p.Client, c.now.UTC().Format(time.RFC3339), c.plan.Day, fmt.Sprintf(format, args...))
}

func (c *invChecker) run() {
	c.t.Helper()
	if !c.checkCycle() {
		return
	}
	c.occs = invOccurrences(c.p, c.plan.Span.Start.Add(-48*time.Hour), c.plan.Span.End.Add(48*time.Hour))
	c.downs = invDowntimes(c.p, c.plan.Span.Start.Add(-48*time.Hour), c.plan.Span.End.Add(48*time.Hour))
	c.checkDowntimes()
	c.blockers = map[*Task][]string{}
	for _, t := range invAllTasks(c.p) {
		c.blockers[t] = c.blockersOf(t)
	}
	c.checkZone()
	c.checkSlots()
	c.checkAccounting()
	c.checkSteps()
	c.checkEarliest()
	c.checkTimers()
	c.checkJSON()
}

// checkCycle checks rule 2: the plan's cycle and window. It reports whether
// the plan is sound enough to check the rest.
func (c *invChecker) checkCycle() bool {
	c.t.Helper()
	plan, s := c.plan, c.site
	if plan.Client != c.p.Client {
		c.fail("client %q, want %q", plan.Client, c.p.Client)
	}
	day, err := ParseDate(plan.Day)
	if err != nil {
		c.fail("day %q: %v", plan.Day, err)
		return false
	}
	cyc := s.Cycle(day)
	if !invSameInterval(plan.Span, cyc.Span) {
		c.fail("span %s, want the cycle's span %s", invIv(plan.Span), invIv(cyc.Span))
	}
	if !invSameInterval(plan.Window, cyc.Window) {
		c.fail("window %s, want the cycle's window %s", invIv(plan.Window), invIv(cyc.Window))
	}
	if !plan.Span.Start.Equal(s.anchor(day)) {
		c.fail("span starts at %s, want the anchor %s", invT(plan.Span.Start), invT(s.anchor(day)))
	}
	if plan.Window.Empty() {
		c.fail("the plan's window %s is empty (rule 2: the next cycle with a non-empty window)", invIv(plan.Window))
	}
	if !c.now.Before(plan.Window.End) {
		c.fail("window %s ended before now", invIv(plan.Window))
	}
	from := plan.Window.Start
	if c.now.After(from) {
		from = c.now
	}
	if !plan.From.Equal(from) {
		c.fail("from %s, want the later of the window's start and now, %s", invT(plan.From), invT(from))
	}
	// No cycle between the one holding now and the plan's has a window that
	// contains now or lies after it.
	cur := s.CycleAt(c.now)
	if !cur.Span.Contains(c.now) {
		c.fail("CycleAt(now) = cycle %s with span %s, which does not contain now", cur.Day, invIv(cur.Span))
	}
	if cur.Day.Compare(day) > 0 {
		c.fail("plans cycle %s, before the cycle %s that holds now", day, cur.Day)
	}
	for d, n := cur.Day, 0; d.Compare(day) < 0 && n <= maxChain+2; d, n = d.AddDays(1), n+1 {
		w := s.Cycle(d).Window
		if !w.Empty() && c.now.Before(w.End) {
			c.fail("cycle %s has window %s, which contains now or lies after it, before the planned cycle", d, invIv(w))
			break
		}
	}
	// The window holds no business time and ends at business time or at the
	// span's end.
	if !plan.Window.Empty() {
		if next, ok := s.NextBusiness(plan.Window.Start); ok && next.Before(plan.Window.End) {
			c.fail("window %s holds business time from %s", invIv(plan.Window), invT(next))
		}
		if plan.Window.End.Before(plan.Span.End) && !s.InBusiness(plan.Window.End) {
			c.fail("window %s ends before the span %s at an instant that is not business time", invIv(plan.Window), invIv(plan.Span))
		}
	}
	return !plan.Window.Empty()
}

// checkZone checks that every instant of the plan is in the site's zone.
func (c *invChecker) checkZone() {
	c.t.Helper()
	want := c.site.Location().String()
	check := func(what string, ts ...time.Time) {
		for _, ts := range ts {
			if got := ts.Location().String(); got != want {
				c.fail("%s %s is in zone %q, want the site's %q", what, invT(ts), got, want)
				return
			}
		}
	}
	check("span", c.plan.Span.Start, c.plan.Span.End)
	check("window", c.plan.Window.Start, c.plan.Window.End)
	check("from", c.plan.From)
	for _, s := range c.plan.Slots {
		check("slot "+s.Token, s.Buffer.Start, s.Buffer.End, s.Run.Start, s.Run.End)
	}
	for _, s := range c.plan.Steps {
		if s.Task != nil {
			check("step "+s.Task.Name, s.Start, s.End)
		}
	}
}

// checkSlots checks rule 7: every occurrence starting in the span is listed,
// nothing else is, and Void is exactly "intersects business time and the
// token is not anytime".
func (c *invChecker) checkSlots() {
	c.t.Helper()
	plan := c.plan
	// Neighbours: the occurrences outside the span, not void, whose holds
	// overlap the window from From on; in order of start.
	var wantN []string
	for _, o := range c.occs {
		if !plan.Span.Contains(o.run.Start) && !o.void && o.hold().Overlaps(Interval{plan.From, plan.Window.End}) {
			wantN = append(wantN, o.tok.Token+" "+o.run.Start.UTC().Format(time.RFC3339))
		}
	}
	slices.Sort(wantN)
	var gotN []string
	for _, s := range plan.Neighbours {
		gotN = append(gotN, s.Token+" "+s.Run.Start.UTC().Format(time.RFC3339))
		if len(s.Tasks) > 0 || s.Void {
			c.fail("neighbouring slot %s at %s has tasks %v or is void", s.Token, invT(s.Run.Start), s.Tasks)
		}
	}
	slices.Sort(gotN)
	if !slices.Equal(gotN, wantN) {
		c.fail("neighbouring slots %v, want %v", gotN, wantN)
	}
	type key struct {
		token string
		start int64
	}
	want := map[key]invOccurrence{}
	for _, o := range c.occs {
		if plan.Span.Contains(o.run.Start) {
			want[key{o.tok.Token, o.run.Start.UnixNano()}] = o
		}
	}
	seen := map[key]bool{}
	for i, s := range plan.Slots {
		if i > 0 && s.Run.Start.Before(plan.Slots[i-1].Run.Start) {
			c.fail("slots out of order: %s at %s after %s at %s", s.Token, invT(s.Run.Start), plan.Slots[i-1].Token, invT(plan.Slots[i-1].Run.Start))
		}
		if !plan.Span.Contains(s.Run.Start) {
			c.fail("slot %s runs from %s, outside the span %s", s.Token, invT(s.Run.Start), invIv(plan.Span))
		}
		k := key{s.Token, s.Run.Start.UnixNano()}
		if seen[k] {
			c.fail("slot %s at %s listed twice", s.Token, invT(s.Run.Start))
		}
		seen[k] = true
		o, ok := want[k]
		if !ok {
			c.fail("slot %s at %s is not an occurrence of its token", s.Token, invT(s.Run.Start))
			continue
		}
		if !invSameInterval(s.Run, o.run) || !invSameInterval(s.Buffer, o.buffer) {
			c.fail("slot %s: buffer %s run %s, want buffer %s run %s", s.Token, invIv(s.Buffer), invIv(s.Run), invIv(o.buffer), invIv(o.run))
		}
		if !s.Hold().Start.Equal(o.buffer.Start) || !s.Hold().End.Equal(o.run.End) {
			c.fail("slot %s: hold %s, want %s", s.Token, invIv(s.Hold()), invIv(o.hold()))
		}
		if s.Void != o.void {
			c.fail("slot %s at %s: void %v, want %v (anytime %v, run %s)", s.Token, invT(s.Run.Start), s.Void, o.void, o.tok.Anytime, invIv(o.run))
		}
		// The slot's tasks: the token's tasks that can run, in declared
		// order; none in a void slot.
		var wantTasks []string
		if !o.void {
			for _, t := range o.tok.Tasks {
				if len(c.blockers[t]) > 0 {
					continue
				}
				// A downtime of a resource it uses may keep it off a slot;
				// then it must be deferred for it, which accounting checks.
				if len(c.downReasons(t)) > 0 && !slices.Contains(s.Tasks, t) {
					continue
				}
				wantTasks = append(wantTasks, t.Name)
			}
		}
		var got []string
		for _, t := range s.Tasks {
			if t == nil {
				c.fail("slot %s has a nil task", s.Token)
				continue
			}
			if t.Kind() != Shared || t.Token() != s.Token {
				c.fail("slot %s holds task %s of kind %v and token %q", s.Token, t.Name, t.Kind(), t.Token())
			}
			for _, o := range c.downs {
				if why := c.suppressedAt(t, o, s.Run.Start); why != "" {
					c.fail("slot %s at %s holds %s: %s", s.Token, invT(s.Run.Start), t.Name, why)
				}
			}
			got = append(got, t.Name)
		}
		if !slices.Equal(got, wantTasks) {
			c.fail("slot %s at %s holds tasks %v, want %v", s.Token, invT(s.Run.Start), got, wantTasks)
		}
	}
	for k, o := range want {
		if !seen[k] {
			c.fail("occurrence of %s at %s starts in the span %s but is not in the plan", o.tok.Token, invT(o.run.Start), invIv(plan.Span))
		}
	}
}

// invReasons is the documented set of deferral reasons.
var invReasons = []string{"downtime:*", ReasonNotDue, ReasonDisabled, ReasonTagMismatch, ReasonWindowFull, ReasonBusinessHours, ReasonDone, ReasonFailed, ReasonStopped, ReasonUpdatesPending, ReasonNoSlot}

// blockersOf returns the reasons that keep t from running in the cycle
// whatever the time: disabled, tag-mismatch, done or failed, stopped, and
// for the self-update, updates-pending.
func (c *invChecker) blockersOf(t *Task) []string {
	var rs []string
	if t.Enabled != nil && !*t.Enabled {
		rs = append(rs, ReasonDisabled)
	}
	if !invSelectorMatches(t.Tags, c.p.Site.Tags) {
		rs = append(rs, ReasonTagMismatch)
	}
	if t.Kind() == Housekeeping && (t.Schedule != "" || t.Repeat != "") && !c.dueIn(t) {
		rs = append(rs, ReasonNotDue)
	}
	if c.h != nil && c.h.Settled(t.Name, c.plan.Day) {
		// Settled: failed when the history says it failed in the cycle.
		if f, ok := c.h.(FailureHistory); ok && f.Failed(t.Name, c.plan.Day) {
			rs = append(rs, ReasonFailed)
		} else {
			rs = append(rs, ReasonDone)
		}
	}

	if c.stopper() != "" {
		rs = append(rs, ReasonStopped)
	}
	if t.Kind() == SelfUpdate && c.pendingUpdate() != "" {
		rs = append(rs, ReasonUpdatesPending)
	}
	return rs
}

// checkAccounting checks rule 6: each housekeeping, update and self-update
// task is exactly one step or one deferral; each slot task is under every
// non-void slot of its token or deferred, once per void slot and once when
// its token has no slot; every reason is documented and justified.
func (c *invChecker) checkAccounting() {
	c.t.Helper()
	plan := c.plan
	steps := map[*Task]int{}
	deferrals := map[*Task][]Deferral{}
	for _, s := range plan.Steps {
		if s.Task == nil {
			c.fail("step with a nil task")
			continue
		}
		steps[s.Task]++
	}
	for _, d := range plan.Deferred {
		if d.Task == nil {
			c.fail("deferral with a nil task")
			continue
		}
		if !slices.Contains(invReasons, d.Reason) && !strings.HasPrefix(d.Reason, "downtime:") {
			c.fail("deferral of %s has the undocumented reason %q", d.Task.Name, d.Reason)
		}
		if d.Detail == "" {
			c.fail("deferral of %s (%s) has no detail", d.Task.Name, d.Reason)
		}
		deferrals[d.Task] = append(deferrals[d.Task], d)
	}
	all := invAllTasks(c.p)
	for t := range steps {
		if !slices.Contains(all, t) {
			c.fail("step of task %s, not a task of the profile", t.Name)
		}
	}
	for t := range deferrals {
		if !slices.Contains(all, t) && !slices.Contains(c.p.Timers, t) {
			c.fail("deferral of task %s, not a task of the profile", t.Name)
		}
	}
	for _, t := range all {
		blockers := c.blockers[t]
		ds := deferrals[t]
		if t.Kind() != Shared {
			if n := steps[t] + len(ds); n != 1 {
				c.fail("%s %s appears %d times (%d steps, deferrals %v), want exactly once", t.Kind(), t.Name, n, steps[t], invReasonsOf(ds))
				continue
			}
			switch {
			case steps[t] == 1 && len(blockers) > 0:
				c.fail("%s %s is a step, but it should be deferred as %v", t.Kind(), t.Name, blockers)
			case len(ds) == 1 && ds[0].Reason == ReasonWindowFull && len(blockers) > 0:
				c.fail("%s %s deferred as window-full, but it should be deferred as %v", t.Kind(), t.Name, blockers)
			case len(ds) == 1 && len(blockers) == 0 && slices.Contains(c.downReasons(t), ds[0].Reason):
				// A downtime of a resource it uses kept it from running.
			case len(ds) == 1 && ds[0].Reason != ReasonWindowFull && !slices.Contains(blockers, ds[0].Reason):
				c.fail("%s %s deferred as %q, which does not apply (applicable: %v)", t.Kind(), t.Name, ds[0].Reason, blockers)
			}
			continue
		}
		if steps[t] > 0 {
			c.fail("slot task %s is a step", t.Name)
		}
		var nonVoid, void int
		for _, s := range plan.Slots {
			if s.Token != t.Token() {
				continue
			}
			if s.Void {
				void++
			} else {
				nonVoid++
			}
		}
		if len(blockers) > 0 {
			if len(ds) != 1 || !slices.Contains(blockers, ds[0].Reason) {
				c.fail("slot task %s: deferrals %v, want one of %v", t.Name, invReasonsOf(ds), blockers)
			}
			continue
		}
		want := map[string]int{}
		if void > 0 {
			want[ReasonBusinessHours] = void
		}
		if void+nonVoid == 0 {
			want[ReasonNoSlot] = 1
		}
		if tok := invTokenOf(c.p, t); tok != nil && tok.Unplaced != "" {
			if void+nonVoid > 0 {
				c.fail("slot task %s of unplaced token %s is under %d slots, want none", t.Name, tok.Token, void+nonVoid)
			}
			for _, d := range ds {
				if d.Reason == ReasonNoSlot && d.Detail != "unplaced: "+tok.Unplaced {
					c.fail("slot task %s of unplaced token %s deferred as no-slot with detail %q, want %q", t.Name, tok.Token, d.Detail, "unplaced: "+tok.Unplaced)
				}
			}
		}
		got := map[string]int{}
		down := 0
		for _, d := range ds {
			if slices.Contains(c.downReasons(t), d.Reason) {
				down++ // a downtime took it off one slot, or off the cycle
				continue
			}
			got[d.Reason]++
		}
		under := 0
		for _, sl := range plan.Slots {
			if slices.Contains(sl.Tasks, t) {
				under++
			}
		}
		suppressed := false // a suppress or stop downtime takes it off the whole cycle
		for _, o := range c.downs {
			suppressed = suppressed || !o.Ended && c.suppressedAt(t, o, plan.Window.Start) != ""
		}
		if suppressed {
			if len(ds) != 1 || down != 1 || under > 0 {
				c.fail("slot task %s of token %s is suppressed for the cycle: under %d slots, deferrals %v, want one downtime deferral", t.Name, t.Token(), under, invReasonsOf(ds))
			}
			continue
		}
		if down > 0 && (under >= nonVoid || under+down < 1) {
			c.fail("slot task %s of token %s: under %d of %d slots with %d downtime deferrals", t.Name, t.Token(), under, nonVoid, down)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			c.fail("slot task %s of token %s (%d slots, %d void): deferrals %v, want %v", t.Name, t.Token(), void+nonVoid, void, got, want)
		}
	}
}

func invReasonsOf(ds []Deferral) []string {
	var rs []string
	for _, d := range ds {
		rs = append(rs, d.Reason)
	}
	return rs
}

// checkSteps checks the placed steps against rules 3, 4, 5 and 11.
func (c *invChecker) checkSteps() {
	c.t.Helper()
	plan := c.plan
	lanes := max(c.p.Parallel, 1)
	var steps []Step
	for i, s := range plan.Steps {
		if s.Task == nil {
			continue
		}
		steps = append(steps, s)
		t := s.Task
		if k := t.Kind(); k != Housekeeping && k != Update && k != SelfUpdate {
			c.fail("step of %s task %s", k, t.Name)
		}
		if i > 0 && s.Start.Before(plan.Steps[i-1].Start) {
			c.fail("steps out of order: %s at %s after %s", t.Name, invT(s.Start), invT(plan.Steps[i-1].Start))
		}
		if s.Start.Before(plan.Window.Start) || s.End.After(plan.Window.End) {
			c.fail("step %s %s lies outside the window %s", t.Name, invIv(s.Interval), invIv(plan.Window))
		}
		if s.Start.Before(plan.From) {
			c.fail("step %s starts at %s, before from %s", t.Name, invT(s.Start), invT(plan.From))
		}
		if want := invEstimate(t, c.h); s.End.Sub(s.Start) != want {
			c.fail("step %s lasts %v, want the estimate %v (rule 11)", t.Name, s.End.Sub(s.Start), want)
		}
		if c.site.InBusiness(s.Start) {
			c.fail("step %s starts at %s in business time", t.Name, invT(s.Start))
		}
		if next, ok := c.site.NextBusiness(s.Start); ok && next.Before(s.End) {
			c.fail("step %s %s runs into business time at %s", t.Name, invIv(s.Interval), invT(next))
		}
		if !t.IgnoreDowntimes {
			for _, o := range c.downs {
				if o.Overlaps(s.Interval) && slices.Contains(invDownUses(c.p, t), o.Resource) {
					c.fail("step %s %s overlaps the downtime %s of %s, which it uses", t.Name, invIv(s.Interval), invIv(o.Interval), o.Resource)
				}
				if why := c.suppressedAt(t, o, s.Start); why != "" {
					c.fail("step %s at %s: %s", t.Name, invT(s.Start), why)
				}
				if o.Action == ActionAnticipate && !o.Ended && o.Overlaps(c.plan.Window) &&
					slices.Contains(invDownUses(c.p, t), o.Resource) && s.End.After(o.Start) {
					c.fail("step %s %s does not finish before %s goes down at %s (anticipate)", t.Name, invIv(s.Interval), o.Resource, invT(o.Start))
				}
			}
		}
		for _, o := range c.occs {
			if o.void || !o.hold().Overlaps(s.Interval) {
				continue
			}
			if t.Kind() == SelfUpdate {
				c.fail("self-update %s %s overlaps the hold %s of %s", t.Name, invIv(s.Interval), invIv(o.hold()), o.tok.Token)
			} else if invContends(t.Uses, invTokenUses(o.tok)) {
				c.fail("step %s %s (uses %v) overlaps the hold %s of %s (%v)", t.Name, invIv(s.Interval), t.Uses, invIv(o.hold()), o.tok.Token, invTokenUses(o.tok))
			}
		}
	}
	// Phases: every update after every housekeeping step, the self-update
	// after every other step and alone.
	for _, a := range steps {
		for _, b := range steps {
			if a == b {
				continue
			}
			ka, kb := a.Task.Kind(), b.Task.Kind()
			if (ka == Update && kb == Housekeeping || ka == SelfUpdate && kb != SelfUpdate) && a.Start.Before(b.End) {
				c.fail("%s %s starts at %s, before %s %s ends at %s", ka, a.Task.Name, invT(a.Start), kb, b.Task.Name, invT(b.End))
			}
			if ka == SelfUpdate && a.Overlaps(b.Interval) {
				c.fail("self-update %s overlaps %s", a.Task.Name, b.Task.Name)
			}
			if a.Task.Name < b.Task.Name && a.Overlaps(b.Interval) && invContends(a.Task.Uses, b.Task.Uses) {
				c.fail("contending steps %s %s and %s %s overlap", a.Task.Name, invIv(a.Interval), b.Task.Name, invIv(b.Interval))
			}
		}
	}
	// Lanes: at no instant more than `parallel` steps run. The count peaks
	// at a start.
	for _, a := range steps {
		n := 0
		for _, b := range steps {
			if b.Contains(a.Start) {
				n++
			}
		}
		if n > lanes {
			c.fail("%d steps run at %s, more than the %d lanes", n, invT(a.Start), lanes)
		}
	}
	// Declared order within a phase. Downtimes move steps out of it
	// (postponed past a downtime, or ahead of one); the others keep it
	// among themselves, whatever moved between them.
	for _, phase := range [][]*Task{c.p.Housekeeping, c.p.Updates} {
		var last *Step
		for _, t := range phase {
			if len(c.downReasons(t)) > 0 {
				continue
			}
			for i := range steps {
				if steps[i].Task != t {
					continue
				}
				if last != nil && steps[i].Start.Before(last.Start) {
					c.fail("%s starts at %s, before %s declared earlier starts at %s", t.Name, invT(steps[i].Start), last.Task.Name, invT(last.Start))
				}
				last = &steps[i]
			}
		}
	}
}

// checkJSON checks rule 1: the plan marshals to valid JSON, the same bytes
// every time, and planning again gives the same bytes.
func (c *invChecker) checkJSON() {
	c.t.Helper()
	a, err := json.Marshal(c.plan)
	if err != nil {
		c.fail("marshal: %v", err)
		return
	}
	b, err := json.Marshal(c.plan)
	if err != nil {
		c.fail("marshal again: %v", err)
		return
	}
	if !bytes.Equal(a, b) {
		c.fail("two marshals differ:\n%s\n%s", a, b)
	}
	if !json.Valid(a) {
		c.fail("invalid JSON: %s", a)
	}
	again, err := PlanAt(c.p, c.now, WithHistory(c.h))
	if err != nil {
		c.fail("planning again: %v", err)
		return
	}
	b, err = json.Marshal(again)
	if err != nil {
		c.fail("marshal the second plan: %v", err)
		return
	}
	if !bytes.Equal(a, b) {
		c.fail("planning twice gives different plans:\n%s\n%s", a, b)
	}
}
