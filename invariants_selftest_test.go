package afterhours

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

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
		{"full-window", "the self-update placed while an update is pending", func(p *Plan) {
			last := p.Steps[len(p.Steps)-1]
			su := p.Deferred[len(p.Deferred)-1]
			p.Deferred = p.Deferred[:len(p.Deferred)-1]
			p.Steps = append(p.Steps, Step{Task: su.Task, Interval: Interval{last.End, last.End.Add(5 * minute)}})
		}, "agent-2.4.1 is a step, but it should be deferred as [updates-pending]"},
		{"history-stopped", "a failed update deferred as done", func(p *Plan) { p.Deferred[6].Reason = ReasonDone }, `openssl-3.0.15 deferred as "done", which does not apply`},
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
