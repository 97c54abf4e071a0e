package afterhours

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"testing"
	"testing/synctest"
	"time"
)

// jitter returns a stable fraction from 0.5 to 1 for a task and a day.
func jitter(parts ...string) float64 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
	}
	return 0.5 + float64(h.Sum32()%500)/1000
}

// dayWork is a Go action whose length varies from day to day: from half
// its estimate to all of it.
type dayWork struct {
	est  time.Duration
	name string
	clk  Clock
	site *Site
}

func (w dayWork) Run(ctx context.Context) error {
	day := w.site.CycleAt(w.clk.Now()).Day.String()
	d := time.Duration(float64(w.est) * jitter(w.name, day))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// simProfile loads the example profile and gives every task a dayWork.
func simProfile(t testing.TB, clk Clock) *Profile {
	t.Helper()
	p := exampleProfile(t)
	for _, task := range allTasks(p) {
		task.Action = dayWork{est: task.estimate, name: task.Name, clk: clk, site: &p.Site}
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSimulatedMonth runs the example profile for 30 days of simulated
// time, commands included, and checks from the journal that every
// housekeeping run lies in its window, each update runs once, the
// self-update runs last and alone, commands run before the next step,
// holds are respected, slot tasks start at their slots and timers at their
// times.
func TestSimulatedMonth(t *testing.T) {
	t0 := time.Now()
	synctest.Test(t, func(t *testing.T) {
		start := time.Date(2026, 11, 16, 12, 0, 0, 0, time.UTC)
		clk := newSimClock(start)
		p := simProfile(t, clk)
		e, err := NewExecutor(p, WithClock(clk), WithRetention(40))
		if err != nil {
			t.Fatal(err)
		}
		// An operator sends a command every 13 hours and 7 minutes.
		ctx, cancel := context.WithTimeout(context.Background(), 30*24*time.Hour)
		defer cancel()
		go func() {
			for i := 0; ; i++ {
				tm := time.NewTimer(13*time.Hour + 7*time.Minute)
				select {
				case <-ctx.Done():
					tm.Stop()
					return
				case <-tm.C:
				}
				err := e.Submit(Command{ID: fmt.Sprintf("cmd-%d", i), Action: work{d: 7 * time.Minute}})
				if err != nil {
					t.Errorf("submit: %v", err)
				}
			}
		}()
		if err := e.Run(ctx); err != nil {
			t.Fatal(err)
		}
		checkSimulation(t, p, e.Journal(), start, start.Add(30*24*time.Hour))
		checkStored(t, e)
	})
	t.Logf("30 simulated days took %v", time.Since(t0))
}

func checkSimulation(t *testing.T, p *Profile, js []CycleJournal, from, to time.Time) {
	t.Helper()
	site := &p.Site
	var steps, all []Record
	oneOffs := map[string]int{}
	for _, c := range js {
		for _, r := range c.Records {
			if !r.Start.IsZero() {
				all = append(all, r)
			}
			if r.State == StateActive || r.State == StateToDo {
				if c.Closed {
					t.Errorf("cycle %s closed with %s %s", c.Day, r.Task, r.State)
				}
				continue
			}
			switch r.Kind {
			case Housekeeping, Update, SelfUpdate:
				if r.State == StateFailed {
					t.Errorf("cycle %s: %s failed: %s", c.Day, r.Task, r.Error)
				}
				if r.State != StateCompleted {
					continue
				}
				steps = append(steps, r)
				if r.Start.Before(c.Window.Start) || r.End.After(c.Window.End) {
					t.Errorf("cycle %s: %s ran %s-%s, outside its window %s", c.Day, r.Task, fmtT(r.Start), fmtT(r.End), invIv(c.Window))
				}
				if site.overlapsBusiness(Interval{r.Start, r.End}) {
					t.Errorf("cycle %s: %s ran in business hours", c.Day, r.Task)
				}
				if isOneOff(r.Kind) {
					oneOffs[r.Task]++
				}
			case Shared:
				if r.State == StateCompleted && !r.Start.Equal(r.PlannedStart) {
					t.Errorf("cycle %s: slot task %s started %s, its slot at %s", c.Day, r.Task, fmtT(r.Start), fmtT(r.PlannedStart))
				}
			case Timer:
				if r.State == StateCompleted && !r.Start.Equal(r.PlannedStart) {
					t.Errorf("cycle %s: timer %s ran at %s, due at %s", c.Day, r.Task, fmtT(r.Start), fmtT(r.PlannedStart))
				}
				missedAtStart := r.Reason == ReasonMissed && r.PlannedEnd.Before(from)
				if r.State == StateDeferred && r.Reason != ReasonSelfUpdate && !missedAtStart {
					t.Errorf("cycle %s: timer %s deferred: %s %s", c.Day, r.Task, r.Reason, r.Detail)
				}
			}
		}
	}
	for _, u := range append(append([]*Task{}, p.Updates...), p.SelfUpdate) {
		if oneOffs[u.Name] != 1 {
			t.Errorf("one-off %s completed %d times, want once", u.Name, oneOffs[u.Name])
		}
	}
	// The self-update: after every other step of its cycle, and alone.
	for _, su := range records(js, p.SelfUpdate.Name, StateCompleted) {
		for _, r := range all {
			if r.Task == su.Task {
				continue
			}
			if r.Start.Before(su.End) && su.Start.Before(r.End) {
				t.Errorf("%s ran %s-%s while the self-update ran %s-%s", r.Task, fmtT(r.Start), fmtT(r.End), fmtT(su.Start), fmtT(su.End))
			}
		}
	}
	// Commands before the next step: no step starts between a command's
	// acceptance and its end.
	nCmd := 0
	for _, c := range all {
		if c.Kind != CommandKind {
			continue
		}
		nCmd++
		if c.State != StateCompleted {
			t.Errorf("command %s: %s %s", c.Command, c.State, c.Error)
		}
		for _, s := range steps {
			if !s.Start.Before(c.PlannedStart) && s.Start.Before(c.End) {
				t.Errorf("step %s started %s, between command %s's acceptance %s and its end %s", s.Task, fmtT(s.Start), c.Command, fmtT(c.PlannedStart), fmtT(c.End))
			}
		}
	}
	if want := int(to.Sub(from) / (13*time.Hour + 7*time.Minute)); nCmd != want {
		t.Errorf("%d commands ran, want %d", nCmd, want)
	}
	// Holds: no step runs in the hold of a slot it contends with.
	for _, s := range steps {
		task := p.Task(s.Task)
		res := task.res
		if task.kind == SelfUpdate {
			res = resources{any: true}
		}
		for _, tok := range p.Sharing {
			if !tok.res.contends(res) {
				continue
			}
			for d := DateOf(s.Start.In(tok.loc)).AddDays(-1); d.Compare(DateOf(s.End.In(tok.loc)).AddDays(1)) <= 0; d = d.AddDays(1) {
				sl := tok.SlotOn(d)
				if site.overlapsBusiness(sl.Run) && !tok.Anytime {
					continue // void
				}
				if sl.Hold().Overlaps(Interval{s.Start, s.End}) {
					t.Errorf("%s ran %s-%s in the hold of %s %s", s.Task, fmtT(s.Start), fmtT(s.End), tok.Token, invIv(sl.Hold()))
				}
			}
		}
	}
	// Every housekeeping task due in a cycle ran in it.
	for _, c := range js {
		day, _ := ParseDate(c.Day)
		cyc := site.Cycle(day)
		if cyc.Window.Empty() || cyc.Window.Start.Before(from) || cyc.Window.End.After(to) {
			continue
		}
		for _, h := range p.Housekeeping {
			due := h.recur == nil
			if h.recur != nil {
				next, ok := h.recur.next(cyc.Span.Start, cyc.Span.End, nil)
				due = ok && next.Before(cyc.Span.End)
			}
			if !due || !h.matches {
				continue
			}
			if n := len(records([]CycleJournal{c}, h.Name, StateCompleted)); n != 1 {
				t.Errorf("cycle %s: %s completed %d times, want 1", c.Day, h.Name, n)
			}
		}
	}
	// Every timer occurrence has exactly one record.
	for _, tm := range p.Timers {
		occ, _ := p.Occurrences(tm.Name, js[0].Span.Start, 10000)
		seen := map[int64]int{}
		for _, r := range records(js, tm.Name, "") {
			if r.State == StateDeferred && r.PlannedStart.IsZero() {
				continue
			}
			seen[r.PlannedStart.UnixNano()]++
		}
		for _, o := range occ {
			if o.Before(from) || !o.Before(to.Add(-time.Hour)) {
				continue
			}
			if seen[o.UnixNano()] != 1 {
				t.Errorf("timer %s at %s has %d records, want 1", tm.Name, fmtT(o), seen[o.UnixNano()])
			}
		}
	}
}

// checkStored checks that what the store holds is the journal in memory:
// the cache of encoded records missed no change.
func checkStored(t *testing.T, e *Executor) {
	t.Helper()
	for _, c := range e.j.cycles {
		data, err := e.store.Load(cyclePrefix + c.Day)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := unmarshalCycle(data)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(c.Records)
		got, _ := json.Marshal(stored.Records)
		if string(got) != string(want) || stored.Closed != c.Closed {
			t.Errorf("cycle %s: the store holds\n%s\nthe journal\n%s", c.Day, got, want)
		}
	}
}
