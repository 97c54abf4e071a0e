package afterhours

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/wallclock"
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
	if !plan.Span.Start.Equal(s.Anchor(day)) {
		c.fail("span starts at %s, want the anchor %s", invT(plan.Span.Start), invT(s.Anchor(day)))
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
var invReasons = []string{"downtime:*", ReasonNotDue, ReasonDisabled, ReasonTagMismatch, ReasonWindowFull, ReasonBusinessHours, ReasonDone, ReasonStopped, ReasonNoSlot}

// blockersOf returns the reasons that keep t from running in the cycle
// whatever the time: disabled, tag-mismatch, done and stopped.
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
		rs = append(rs, ReasonDone)
	}

	if c.stopper() != "" {
		rs = append(rs, ReasonStopped)
	}
	return rs
}

// dueIn reports whether recurring t has an occurrence in the plan's span.
// The recurrence engine has its own tests against robfig/cron and against
// rule 9 from first principles; here it is the reference.
func (c *invChecker) dueIn(t *Task) bool {
	next, err := c.p.Occurrences(t.Name, c.plan.Span.Start, 1)
	if err != nil {
		c.fail("occurrences of %s: %v", t.Name, err)
		return true
	}
	if len(next) == 1 && next[0].Before(c.plan.Span.End) {
		return true
	}
	if t.IgnoreDowntimes {
		return false
	}
	uses := invDownUses(c.p, t)
	day, err := ParseDate(c.plan.Day)
	if err != nil {
		c.fail("plan day %q: %v", c.plan.Day, err)
		return true
	}
	// Anticipated: due in the next cycle, whose whole window an anticipate
	// downtime of a resource it uses covers.
	nc := c.site.Cycle(day.AddDays(1))
	if len(next) == 1 && nc.Span.Contains(next[0]) && !nc.Window.Empty() {
		downs := invDowntimes(c.p, nc.Window.Start.Add(-48*time.Hour), nc.Window.End.Add(48*time.Hour))
		slices.SortFunc(downs, func(a, b Downtime) int { return a.Start.Compare(b.Start) })
		covered := nc.Window.Start
		for _, o := range downs {
			if o.Action == ActionAnticipate && slices.Contains(uses, o.Resource) && !o.Start.After(covered) && o.End.After(covered) {
				covered = o.End
			}
		}
		if !covered.Before(nc.Window.End) {
			return true
		}
	}
	// Carried: due in the previous cycle, whose window a postpone downtime
	// of a resource it uses touched, and not run there by the history.
	pc := c.site.Cycle(day.AddDays(-1))
	if prev, err := c.p.Occurrences(t.Name, pc.Span.Start, 1); c.h != nil && err == nil && len(prev) == 1 && pc.Span.Contains(prev[0]) {
		for _, o := range invDowntimes(c.p, pc.Window.Start.Add(-48*time.Hour), pc.Window.End.Add(48*time.Hour)) {
			if o.Action == ActionPostpone && slices.Contains(uses, o.Resource) && o.Overlaps(pc.Window) {
				return !c.h.Settled(t.Name, pc.Day.String())
			}
		}
	}
	return false
}

// checkTimers checks that the plan lists exactly the occurrences of every
// enabled, matching timer in its span, in order of time, each instant once,
// and defers the others.
func (c *invChecker) checkTimers() {
	c.t.Helper()
	plan := c.plan
	for i := 1; i < len(plan.Timers); i++ {
		if plan.Timers[i].At.Before(plan.Timers[i-1].At) {
			c.fail("timer runs out of order at %d: %s after %s", i, invT(plan.Timers[i].At), invT(plan.Timers[i-1].At))
		}
	}
	for _, t := range c.p.Timers {
		var got []time.Time
		for _, r := range plan.Timers {
			if r.Task == t {
				got = append(got, r.At)
			}
		}
		// Timers run at their times whatever the sequence did: only being
		// disabled or not for the site keeps them from running.
		var blockers, reasons []string
		if t.Enabled != nil && !*t.Enabled {
			blockers = append(blockers, ReasonDisabled)
		}
		if !invSelectorMatches(t.Tags, c.p.Site.Tags) {
			blockers = append(blockers, ReasonTagMismatch)
		}
		for _, d := range plan.Deferred {
			if d.Task == t {
				reasons = append(reasons, d.Reason)
			}
		}
		switch {
		case len(blockers) == 0 && len(reasons) > 0:
			c.fail("timer %s deferred as %v, but nothing keeps it from running", t.Name, reasons)
		case len(blockers) > 0 && (len(reasons) != 1 || !slices.Contains(blockers, reasons[0])):
			c.fail("timer %s: deferrals %v, want one of %v", t.Name, reasons, blockers)
		}
		var want []time.Time
		if len(blockers) == 0 {
			for from := plan.Span.Start; ; {
				next, err := c.p.Occurrences(t.Name, from, 1)
				if err != nil || len(next) == 0 || !next[0].Before(plan.Span.End) {
					break
				}
				want = append(want, next[0])
				from = next[0].Add(time.Nanosecond)
			}
		}
		if len(got) != len(want) {
			c.fail("timer %s: %d runs in the cycle, want %d", t.Name, len(got), len(want))
			continue
		}
		for i := range want {
			if !got[i].Equal(want[i]) || got[i].Location() != c.p.Site.Location() {
				c.fail("timer %s run %d at %s, want %s in the site's zone", t.Name, i, invT(got[i]), invT(want[i]))
			}
		}
	}
}

// downReasons returns the downtime reasons that may keep t from running:
// those of the downtimes touching the cycle of resources it uses. Whether
// one does depends on its action; the actions' own tests check that.
func (c *invChecker) downReasons(t *Task) []string {
	var rs []string
	if t.IgnoreDowntimes {
		return nil
	}
	for _, o := range c.downs {
		if o.Overlaps(c.plan.Span) && slices.Contains(invDownUses(c.p, t), o.Resource) && !slices.Contains(rs, ReasonDowntime(o.Resource)) {
			rs = append(rs, ReasonDowntime(o.Resource))
		}
	}
	return rs
}

// stopper returns the name of an on_failure "stop" task that failed in the
// cycle, "" when none did.
func (c *invChecker) stopper() string {
	f, ok := c.h.(FailureHistory)
	if !ok {
		return ""
	}
	for _, t := range invAllTasks(c.p) {
		if t.Kind() != SelfUpdate && t.OnFailure == "stop" && f.Failed(t.Name, c.plan.Day) {
			return t.Name
		}
	}
	return ""
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
	// Declared order within a phase.
	for _, phase := range [][]*Task{c.p.Housekeeping, c.p.Updates} {
		var last *Step
		for _, t := range phase {
			for i := range steps {
				if steps[i].Task != t {
					continue
				}
				// Downtimes move steps out of declared order: postponed past
				// a downtime, or ahead of one.
				moved := len(c.downReasons(t)) > 0 || last != nil && len(c.downReasons(last.Task)) > 0
				if last != nil && steps[i].Start.Before(last.Start) && !moved {
					c.fail("%s starts at %s, before %s declared earlier starts at %s", t.Name, invT(steps[i].Start), last.Task.Name, invT(last.Start))
				}
				last = &steps[i]
			}
		}
	}
}

// checkEarliest checks that each step is placed at the earliest instant
// rule 3 allows given the steps placed before it, and that every window-full
// deferral had no room at all. Placement follows declaration order:
// housekeeping, updates, then the self-update.
func (c *invChecker) checkEarliest() {
	c.t.Helper()
	plan := c.plan
	// Downtimes change where steps go (postponed, moved ahead, holding the
	// sequence); their own table tests check those plans exactly.
	for _, t := range invAllTasks(c.p) {
		for _, o := range plan.Downtimes {
			if !t.IgnoreDowntimes && slices.Contains(invDownUses(c.p, t), o.Resource) {
				return
			}
		}
	}
	stepOf := map[*Task]*Step{}
	for i := range plan.Steps {
		stepOf[plan.Steps[i].Task] = &plan.Steps[i]
	}
	full := map[*Task]bool{}
	for _, d := range plan.Deferred {
		if d.Reason == ReasonWindowFull {
			full[d.Task] = true
		}
	}
	var placed []Step
	barrier, cursor := plan.From, plan.From
	for _, phase := range [][]*Task{c.p.Housekeeping, c.p.Updates} {
		start, phaseEnd := barrier, barrier
		for _, t := range phase {
			s, isStep := stepOf[t]
			if !isStep && !full[t] {
				continue
			}
			lower := laterOf(start, cursor)
			d := invEstimate(t, c.h)
			limit := plan.Window.End
			if isStep {
				if s.Start.Before(lower) {
					c.fail("step %s starts at %s, before %s, the later of its phase's start and the previous step's start", t.Name, invT(s.Start), invT(lower))
				}
				limit = s.Start
			}
			if at, ok := c.firstFit(t.Uses, false, d, lower, limit, placed); ok {
				if isStep {
					c.fail("step %s starts at %s, but it fits from %s", t.Name, invT(s.Start), invT(at))
				} else {
					c.fail("%s deferred as window-full, but it fits from %s to %s", t.Name, invT(at), invT(at.Add(d)))
				}
			}
			if isStep {
				placed = append(placed, *s)
				cursor = s.Start
				phaseEnd = laterOf(phaseEnd, s.End)
			}
		}
		barrier = phaseEnd
	}
	if t := c.p.SelfUpdate; t != nil {
		s, isStep := stepOf[t]
		if isStep || full[t] {
			limit := plan.Window.End
			if isStep {
				limit = s.Start
				if s.Start.Before(barrier) {
					c.fail("self-update %s starts at %s, before the last step ends at %s", t.Name, invT(s.Start), invT(barrier))
				}
			}
			d := invEstimate(t, c.h)
			if at, ok := c.firstFit(nil, true, d, barrier, limit, placed); ok {
				if isStep {
					c.fail("self-update %s starts at %s, but it fits from %s", t.Name, invT(s.Start), invT(at))
				} else {
					c.fail("self-update %s deferred as window-full, but it fits from %s", t.Name, invT(at))
				}
			}
		}
	}
}

// firstFit returns the earliest instant in [lower, limit) at which a run of
// d using uses (alone: clear of every hold and step) fits beside the steps
// placed before it. The earliest fit is lower or the end of something that
// blocks: a hold or a placed step.
func (c *invChecker) firstFit(uses []string, alone bool, d time.Duration, lower, limit time.Time, placed []Step) (time.Time, bool) {
	cands := []time.Time{lower}
	for _, o := range c.occs {
		if e := o.run.End; !o.void && e.After(lower) && e.Before(limit) {
			cands = append(cands, e)
		}
	}
	for _, s := range placed {
		if s.End.After(lower) && s.End.Before(limit) {
			cands = append(cands, s.End)
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].Before(cands[j]) })
	lanes := max(c.p.Parallel, 1)
	for _, at := range cands {
		if !at.Before(limit) {
			break
		}
		run := Interval{at, at.Add(d)}
		if c.fits(run, uses, alone, lanes, placed) {
			return at, true
		}
	}
	return time.Time{}, false
}

func (c *invChecker) fits(run Interval, uses []string, alone bool, lanes int, placed []Step) bool {
	if run.End.After(c.plan.Window.End) || run.Start.Before(c.plan.Window.Start) {
		return false
	}
	if next, ok := c.site.NextBusiness(run.Start); ok && next.Before(run.End) {
		return false
	}
	for _, o := range c.occs {
		if !o.void && o.hold().Overlaps(run) && (alone || invContends(uses, invTokenUses(o.tok))) {
			return false
		}
	}
	// Lane use peaks at the run's start or at a placed step's start in it.
	points := []time.Time{run.Start}
	for _, s := range placed {
		if !s.Overlaps(run) {
			continue
		}
		if alone || invContends(uses, s.Task.Uses) {
			return false
		}
		if s.Start.After(run.Start) {
			points = append(points, s.Start)
		}
	}
	for _, pt := range points {
		n := 0
		for _, s := range placed {
			if s.Contains(pt) {
				n++
			}
		}
		if n >= lanes {
			return false
		}
	}
	return true
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

// invOccurrences recomputes the slot occurrences of every token whose dates
// (in the token's zone) lie around [from, to], each instant once per token.
// Void is computed from the exported business-time methods.
func invOccurrences(p *Profile, from, to time.Time) []invOccurrence {
	var out []invOccurrence
	for _, tok := range p.Sharing {
		zone := time.UTC
		if tok.Zone == "site" {
			zone = p.Site.Location()
		}
		hh, err1 := strconv.Atoi(tok.Base[:2])
		mm, err2 := strconv.Atoi(tok.Base[3:])
		if err1 != nil || err2 != nil {
			panic("invOccurrences: unvalidated base " + tok.Base)
		}
		seen := map[int64]bool{}
		last := DateOf(to.In(zone)).AddDays(1)
		for d := DateOf(from.In(zone)).AddDays(-1); d.Compare(last) <= 0; d = d.AddDays(1) {
			start := wallclock.Resolve(d.Year, d.Month, d.Day, hh, mm, 0, zone)
			if seen[start.UnixNano()] {
				continue
			}
			seen[start.UnixNano()] = true
			o := invOccurrence{
				tok:    tok,
				run:    Interval{start, start.Add(time.Duration(tok.Duration))},
				buffer: Interval{start.Add(-time.Duration(tok.Buffer)), start},
			}
			if !tok.Anytime {
				next, ok := p.Site.NextBusiness(o.run.Start)
				o.void = ok && next.Before(o.run.End)
			}
			out = append(out, o)
		}
	}
	return out
}

// invAllTasks returns every task of the profile: slot tasks, housekeeping,
// updates and the self-update.
func invAllTasks(p *Profile) []*Task {
	var all []*Task
	for _, tok := range p.Sharing {
		all = append(all, tok.Tasks...)
	}
	all = append(all, p.Housekeeping...)
	all = append(all, p.Updates...)
	if p.SelfUpdate != nil {
		all = append(all, p.SelfUpdate)
	}
	return all
}

// invEstimate is rule 11: the longest of the three newest durations the
// history has, else the estimate, else the timeout, else 10m.
func invEstimate(t *Task, h History) time.Duration {
	if h != nil {
		var longest time.Duration
		for i, d := range h.Durations(t.Name) {
			if i == 3 {
				break
			}
			longest = max(longest, d)
		}
		if longest > 0 {
			return longest
		}
	}
	switch {
	case t.Estimate > 0:
		return time.Duration(t.Estimate)
	case t.Timeout > 0:
		return time.Duration(t.Timeout)
	}
	return 10 * time.Minute
}

// invTokenUses is a token's resources: its name and its uses.
func invTokenUses(tok *Token) []string { return append([]string{tok.Token}, tok.Uses...) }

// invContends is the design's contention: unknown (no uses) contends with
// everything; otherwise the sets must be disjoint not to contend.
func invContends(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// invSelectorMatches is rule 12, case-sensitive.
func invSelectorMatches(sel, site []string) bool {
	for _, s := range sel {
		if neg, ok := strings.CutPrefix(s, "!"); ok {
			if slices.Contains(site, neg) {
				return false
			}
		} else if !slices.Contains(site, s) {
			return false
		}
	}
	return true
}

func invSameInterval(a, b Interval) bool { return a.Start.Equal(b.Start) && a.End.Equal(b.End) }

func invT(t time.Time) string {
	return t.Format("2006-01-02 15:04:05 MST") + " (" + t.UTC().Format("15:04Z") + ")"
}

func invIv(iv Interval) string { return "[" + invT(iv.Start) + ", " + invT(iv.End) + ")" }

// invRecorder is a testing.TB that records errors instead of failing.
type invRecorder struct {
	testing.TB
	errors []string
}

func (r *invRecorder) Helper() {}

func (r *invRecorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestCheckPlanCatchesBrokenPlans breaks good plans in the ways a planner
// could and checks that checkPlan says what is wrong, so that a silent
// checkPlan means something.
func TestCheckPlanCatchesBrokenPlans(t *testing.T) {
	clone := func(p *Plan) *Plan {
		q := *p
		q.Slots = slices.Clone(p.Slots)
		q.Steps = slices.Clone(p.Steps)
		q.Deferred = slices.Clone(p.Deferred)
		return &q
	}
	minute := time.Minute
	tests := []struct {
		golden string
		name   string
		break_ func(p *Plan)
		want   string // a part of one of the messages
	}{
		{"slots-both-zones", "a step placed later than it fits", func(p *Plan) {
			p.Steps[1].Start, p.Steps[1].End = p.Steps[1].Start.Add(minute), p.Steps[1].End.Add(minute)
		}, "but it fits from"},
		{"slots-both-zones", "a step shorter than its estimate", func(p *Plan) { p.Steps[0].End = p.Steps[0].End.Add(-minute) }, "want the estimate"},
		{"london-spring-gap", "a step in a contending hold", func(p *Plan) {
			p.Steps[1].Start, p.Steps[1].End = p.Steps[1].Start.Add(-40*minute), p.Steps[1].End.Add(-40*minute)
		}, "overlaps the hold"},
		{"london-spring-gap", "a step before from", func(p *Plan) { p.Steps[0].Start = p.Steps[0].Start.Add(-minute) }, "before from"},
		{"full-window", "a deferral dropped", func(p *Plan) { p.Deferred = p.Deferred[1:] }, "appears 0 times"},
		{"full-window", "a step twice", func(p *Plan) { p.Steps = append(p.Steps, p.Steps[0]) }, "appears 2 times"},
		{"full-window", "a window-full deferral that fits", func(p *Plan) {
			p.Deferred = append(p.Deferred, Deferral{Task: p.Steps[3].Task, Reason: ReasonWindowFull, Detail: "x"})
			p.Steps = slices.Delete(p.Steps, 3, 4)
		}, "deferred as window-full, but it fits"},
		{"full-window", "an undocumented reason", func(p *Plan) { p.Deferred[0].Reason = "too-long" }, "undocumented reason"},
		{"full-window", "a step past the window", func(p *Plan) {
			last := &p.Steps[len(p.Steps)-1]
			d := last.End.Sub(last.Start)
			last.Start = p.Window.End.Add(-d / 2)
			last.End = last.Start.Add(d)
		}, "runs into business time"},
		{"weekend", "a slot task deferred as no-slot dropped", func(p *Plan) { p.Deferred = p.Deferred[1:] }, "slot task fetch-packages"},
		{"window-across-midnight", "a void slot", func(p *Plan) { p.Slots[0].Void = true }, "void true, want false"},
		{"window-across-midnight", "a slot missing", func(p *Plan) { p.Slots = p.Slots[1:] }, "is not in the plan"},
		{"window-across-midnight", "a slot moved", func(p *Plan) {
			p.Slots[0].Run.Start = p.Slots[0].Run.Start.Add(minute)
		}, "is not an occurrence of its token"},
		{"window-across-midnight", "a slot without its task", func(p *Plan) { p.Slots[0].Tasks = nil }, "holds tasks []"},
		{"window-across-midnight", "a shorter window", func(p *Plan) { p.Window.End = p.Window.End.Add(-time.Hour) }, "want the cycle's window"},
		{"window-across-midnight", "the self-update before the last step ends", func(p *Plan) {
			last := &p.Steps[len(p.Steps)-1]
			last.Start, last.End = last.Start.Add(-10*minute), last.End.Add(-10*minute)
		}, "before update pos-11.4 ends"},
		{"parallel-3-uses", "contending steps side by side", func(p *Plan) {
			p.Steps[2].Start, p.Steps[2].End = p.Steps[2].Start.Add(-30*minute), p.Steps[2].End.Add(-30*minute)
		}, "contending steps"},
		{"parallel-3-uses", "four steps in three lanes", func(p *Plan) {
			p.Steps[4].Start, p.Steps[4].End = p.Steps[4].Start.Add(-20*minute), p.Steps[4].End.Add(-20*minute)
		}, "more than the 3 lanes"},
		{"tag-selectors", "a mismatched task run", func(p *Plan) {
			var task *Task
			p.Deferred = slices.DeleteFunc(p.Deferred, func(d Deferral) bool {
				if d.Task.Name == "kiosk-screen-test" {
					task = d.Task
				}
				return task == d.Task
			})
			last := p.Steps[len(p.Steps)-1]
			p.Steps = append(p.Steps, Step{Task: task, Interval: Interval{last.End, last.End.Add(3 * minute)}})
		}, "kiosk-screen-test is a step, but it should be deferred as [tag-mismatch]"},
		{"tag-selectors", "a disabled task deferred as window-full", func(p *Plan) {
			for i := range p.Deferred {
				if p.Deferred[i].Reason == ReasonDisabled {
					p.Deferred[i].Reason = ReasonWindowFull
				}
			}
		}, "deferred as window-full, but it should be deferred as [disabled]"},
		{"history", "a settled task run", func(p *Plan) {
			p.Deferred = slices.DeleteFunc(p.Deferred, func(d Deferral) bool { return d.Task.Name == "rotate-logs" })
		}, "rotate-logs appears 0 times"},
		{"kiosk", "a plan in another zone", func(p *Plan) { p.From = p.From.UTC() }, "want the site's"},
		{"history-stopped", "a stopped task deferred as done", func(p *Plan) { p.Deferred[3].Reason = ReasonDone }, "which does not apply"},
	}
	for _, tt := range tests {
		t.Run(tt.golden+"/"+tt.name, func(t *testing.T) {
			p, err := LoadProfile("testdata/" + tt.golden + ".profile.json")
			if err != nil {
				t.Fatal(err)
			}
			var h History
			if data, err := os.ReadFile("testdata/" + tt.golden + ".history.json"); err == nil {
				if h, err = parseTestHistory(data); err != nil {
					t.Fatal(err)
				}
			}
			now, err := time.Parse(time.RFC3339, goldenCases[tt.golden].now)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := PlanAt(p, now, WithHistory(h))
			if err != nil {
				t.Fatal(err)
			}
			rec := &invRecorder{TB: t}
			checkPlan(rec, p, now, h, plan)
			if len(rec.errors) > 0 {
				t.Fatalf("the plan is broken before breaking it:\n%s", strings.Join(rec.errors, "\n"))
			}
			broken := clone(plan)
			tt.break_(broken)
			checkPlan(rec, p, now, h, broken)
			for _, e := range rec.errors {
				if strings.Contains(e, tt.want) {
					return
				}
			}
			t.Errorf("checkPlan did not report %q; it said:\n%s", tt.want, strings.Join(rec.errors, "\n"))
		})
	}
}

// invDowntimes recomputes the downtime occurrences of every resource whose
// dates lie around [from, to], from the schedules' JSON fields.
func invDowntimes(p *Profile, from, to time.Time) []Downtime {
	loc := p.Site.Location()
	days := map[string]time.Weekday{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
	clock := func(s string) (int, int) {
		h, _ := strconv.Atoi(s[:2])
		m, _ := strconv.Atoi(s[3:])
		return h, m
	}
	var out []Downtime
	for _, r := range p.Resources {
		for _, d := range r.Downtimes {
			first := ""
			for _, ds := range d.Dates {
				if first == "" || ds < first {
					first = ds
				}
			}
			for day := DateOf(from.In(loc)); day.Compare(DateOf(to.In(loc))) <= 0; day = day.AddDays(1) {
				on := slices.Contains(d.Dates, day.String())
				for _, k := range d.Days {
					on = on || days[k] == day.Weekday()
				}
				if !on {
					continue
				}
				var iv Interval
				if d.From == "" {
					iv = Interval{wallclock.Earliest(day.Year, day.Month, day.Day, 0, 0, 0, loc), wallclock.Resolve(day.Year, day.Month, day.Day+1, 0, 0, 0, loc)}
				} else {
					fh, fm := clock(d.From)
					th, tm := clock(d.To)
					next := 0
					if th*60+tm <= fh*60+fm {
						next = 1
					}
					iv = Interval{wallclock.Earliest(day.Year, day.Month, day.Day, fh, fm, 0, loc), wallclock.Resolve(day.Year, day.Month, day.Day+next, th, tm, 0, loc)}
				}
				action := d.Action
				if action == "" || d.Once && day.String() != first {
					action = ActionSuppress
				}
				o := Downtime{Resource: r.Name, Interval: iv, Action: action}
				if d.Ended != "" {
					if e, err := time.Parse(time.RFC3339, d.Ended); err == nil && iv.Contains(e) {
						o.End, o.Ended = e, true
					}
				}
				out = append(out, o)
			}
		}
	}
	return out
}

// invDownUses is what a task uses for downtimes: its uses and, for a slot
// task, its token and the token's uses.
func invDownUses(p *Profile, t *Task) []string {
	uses := slices.Clone(t.Uses)
	for _, tok := range p.Sharing {
		if slices.Contains(tok.Tasks, t) {
			uses = append(append(uses, tok.Token), tok.Uses...)
		}
	}
	return uses
}

// checkDowntimes checks that the plan lists exactly the downtime
// occurrences that touch its window, and that every downtime deferral names
// a downtime of a resource the task uses that touches the cycle.
func (c *invChecker) checkDowntimes() {
	c.t.Helper()
	var want []Downtime
	for _, o := range c.downs {
		if o.Overlaps(c.plan.Window) {
			want = append(want, o)
		}
	}
	if len(want) != len(c.plan.Downtimes) {
		c.fail("plan lists %d downtimes, want %d touching the window", len(c.plan.Downtimes), len(want))
	}
	for _, o := range c.plan.Downtimes {
		found := false
		for _, w := range want {
			found = found || w.Resource == o.Resource && invSameInterval(w.Interval, o.Interval) && w.Action == o.Action && w.Ended == o.Ended
		}
		if !found {
			c.fail("plan lists downtime %s %s (%s), which is not one of the profile's", o.Resource, invIv(o.Interval), o.Action)
		}
	}
	for _, d := range c.plan.Deferred {
		r, ok := strings.CutPrefix(d.Reason, "downtime:")
		if !ok {
			continue
		}
		if d.Task.IgnoreDowntimes || !slices.Contains(invDownUses(c.p, d.Task), r) {
			c.fail("%s deferred for a downtime of %s, which it does not use (or ignores)", d.Task.Name, r)
		}
		touches := false
		for _, o := range c.downs {
			touches = touches || o.Resource == r && o.Overlaps(c.plan.Span)
		}
		if !touches {
			c.fail("%s deferred for a downtime of %s, but none touches the cycle", d.Task.Name, r)
		}
	}
}
