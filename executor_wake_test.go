package afterhours

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// laptop is issue 11's profile of a suspended laptop: window 18:00-08:00
// UTC, four 1 h housekeeping tasks and an update.
const laptop = `{
  "client": "laptop",
  "site": {"timezone": "UTC",
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
      "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]}},
  "housekeeping": [
    {"name": "h1", "run": ["/bin/true"], "estimate": "1h"},
    {"name": "h2", "run": ["/bin/true"], "estimate": "1h"},
    {"name": "h3", "run": ["/bin/true"], "estimate": "1h"},
    {"name": "h4", "run": ["/bin/true"], "estimate": "1h"}],
  "updates": [{"name": "u1", "run": ["/bin/true"], "estimate": "30m"}]
}`

// Issue 11, item 7: the executor starts Monday 17:55 UTC, before the
// window of 18:00-08:00; the machine is suspended and the clock reads
// Tuesday 09:55 at the next wake. Monday's work is missed, saying when the
// executor woke (its slot task too, which was not recorded at all);
// nothing starts in business hours; the update carries over and runs,
// with the housekeeping, on Tuesday night.
func TestLateWakeMissed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := strings.Replace(laptop, `"housekeeping": [`, `"sharing": [{"token": "pkg-repo", "base": "01:40", "duration": "20m", "buffer": "10m",
		  "uses": ["network"], "tasks": [{"name": "fetch", "run": ["/bin/true"], "estimate": "10m", "uses": ["network"]}]}],
		  "housekeeping": [`, 1)
		p := profileWith(t, src, nil, nil, nil)
		clk := newJumpClock(time.Date(2026, 11, 23, 17, 55, 0, 0, time.UTC))
		e, err := NewExecutor(p, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		jumped := false
		e.idleHook = func(at time.Time) {
			if !jumped {
				// Asleep until 18:00: the wake comes at 09:55 the next day.
				jumped = true
				clk.jump(15*time.Hour + 55*time.Minute)
			}
		}
		// To Tuesday 23:00 of the clock: 5 min before the jump, 13h05m after.
		if err := runFor(t, e, 13*time.Hour+10*time.Minute); err != nil {
			t.Fatal(err)
		}
		js := e.Journal()
		mon := cycleOf(t, js, "2026-11-23")
		for _, task := range []string{"h1", "h2", "h3", "h4", "u1", "fetch"} {
			r := one(t, []CycleJournal{mon}, task, "")
			ended := "the window ended at 08:00"
			if task == "fetch" {
				ended = "the slot ended at 02:00"
			}
			if r.State != StateDeferred || r.Reason != ReasonMissed || !strings.Contains(r.Detail, "the executor woke at 09:55, after "+ended) {
				dumpJournal(t, js)
				t.Errorf("%s on Monday: %s %s %q, want missed, saying when the executor woke", task, r.State, r.Reason, r.Detail)
			}
		}
		if r := one(t, []CycleJournal{mon}, "u1", ""); !strings.Contains(r.Detail, "carried over") {
			t.Errorf("u1 on Monday: %q, want carried over", r.Detail)
		}
		for _, c := range js {
			for _, r := range c.Records {
				if !r.Start.IsZero() && p.Site.InBusiness(r.Start) {
					t.Errorf("%s started %s, in business hours", r.Task, fmtT(r.Start))
				}
			}
		}
		tue := cycleOf(t, js, "2026-11-24")
		for _, task := range []string{"h1", "h2", "h3", "h4", "u1"} {
			one(t, []CycleJournal{tue}, task, StateCompleted)
		}
	})
}

// The other side of the rule: a step that stopped fitting while the
// executor was awake (waiting for a step that ran long) is window-full,
// even when the wake that finds it comes late. h1 runs 13 h from 18:00;
// h2 (2 h) no longer fits from 06:00, before 08:00, when the executor's
// timer was due; the clock jumps 2 h meanwhile, so h1's end is seen at
// 09:00.
func TestLateWakeWindowFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := strings.Replace(laptop, `{"name": "h2", "run": ["/bin/true"], "estimate": "1h"}`,
			`{"name": "h2", "run": ["/bin/true"], "estimate": "2h"}`, 1)
		p := profileWith(t, src, map[string]time.Duration{"h1": 13 * time.Hour}, nil, nil)
		clk := newJumpClock(time.Date(2026, 11, 23, 17, 59, 0, 0, time.UTC))
		e, err := NewExecutor(p, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		ch, unsub := e.Subscribe()
		wait := onEvent(ch, func(ev Event) {
			if ev.Kind == EventStarted && ev.Task == "h1" {
				clk.jump(2 * time.Hour)
			}
		})
		if err := runFor(t, e, 14*time.Hour); err != nil {
			t.Fatal(err)
		}
		unsub()
		wait()
		js := e.Journal()
		mon := cycleOf(t, js, "2026-11-23")
		h1 := one(t, []CycleJournal{mon}, "h1", "")
		if !h1.End.Equal(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)) {
			dumpJournal(t, js)
			t.Fatalf("h1 ended %s, want 09:00 of the jumped clock", fmtT(h1.End))
		}
		if r := one(t, []CycleJournal{mon}, "h2", StateDeferred); r.Reason != ReasonWindowFull {
			dumpJournal(t, js)
			t.Errorf("h2: %s %q, want window-full: it stopped fitting at 06:00 while the executor was awake", r.Reason, r.Detail)
		}
	})
}

// cycleOf returns the journal of day.
func cycleOf(t testing.TB, js []CycleJournal, day string) CycleJournal {
	t.Helper()
	for _, c := range js {
		if c.Day == day {
			return c
		}
	}
	dumpJournal(t, js)
	t.Fatalf("no cycle %s", day)
	return CycleJournal{}
}

// A re-plan keeps what happened to a slot that is over: fetch, refused by
// a constraint at 01:40, stays refused after an Update at 03:00, neither
// dropped nor turned into a miss.
func TestReplanKeepsSlotsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		refuse := ConstraintFunc("no-fetch", func(_ context.Context, c Check) Verdict {
			if c.Task.Name == "fetch" {
				return Refused("not tonight")
			}
			return Allowed()
		})
		clk := newSimClock(time.Date(2026, 11, 23, 18, 29, 0, 0, time.UTC))
		e, err := NewExecutor(p, WithClock(clk), WithConstraints(refuse))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 8*time.Hour+31*time.Minute); err != nil { // to 03:00
			t.Fatal(err)
		}
		if err := e.Update(p); err != nil {
			t.Fatal(err)
		}
		mon := cycleOf(t, e.Journal(), "2026-11-23")
		if r := one(t, []CycleJournal{mon}, "fetch", ""); r.Reason != ReasonConstraint+"no-fetch" || r.Detail != "not tonight" {
			t.Errorf("fetch after the re-plan: %s %q, want refused by no-fetch", r.Reason, r.Detail)
		}
	})
}

// At Run's start the executor was awake until the last start or end its
// journal has of the cycle: h1 (13 h from 18:00) is interrupted when the
// executor stops; h2 (2 h, its last chance at 06:00) is missed when the
// executor stopped at 05:00 and started again at 07:00, and window-full
// when it stopped at 06:30 and started again at 06:40.
func TestRestartMissedOrWindowFull(t *testing.T) {
	for _, tc := range []struct {
		stop, restart time.Time
		reason        string
		detail        string
	}{
		{tue(5, 0), tue(7, 0), ReasonMissed, "the executor started at 07:00: 2h no longer fits before the window's end at 08:00"},
		{tue(6, 30), tue(6, 40), ReasonWindowFull, "needs 2h, no room from 06:40 to the window's end at 08:00"},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src := strings.Replace(laptop, `{"name": "h2", "run": ["/bin/true"], "estimate": "1h"}`,
					`{"name": "h2", "run": ["/bin/true"], "estimate": "2h"}`, 1)
				p := profileWith(t, src, map[string]time.Duration{"h1": 13 * time.Hour}, nil, nil)
				store := NewMemoryStore()
				start := time.Date(2026, 11, 23, 17, 59, 0, 0, time.UTC)
				e, err := NewExecutor(p, WithClock(newSimClock(start)), WithStore(store))
				if err != nil {
					t.Fatal(err)
				}
				if err := runFor(t, e, tc.stop.Sub(start)); err != nil {
					t.Fatal(err)
				}
				e2, err := NewExecutor(p, WithClock(newSimClock(tc.restart)), WithStore(store))
				if err != nil {
					t.Fatal(err)
				}
				if err := runFor(t, e2, time.Minute); err != nil {
					t.Fatal(err)
				}
				js := e2.Journal()
				mon := []CycleJournal{cycleOf(t, js, "2026-11-23")}
				if h1 := one(t, mon, "h1", StateFailed); !h1.Interrupted || !h1.End.Equal(tc.stop) {
					t.Errorf("h1: %+v, want interrupted at %s", h1, fmtT(tc.stop))
				}
				if r := one(t, mon, "h2", StateDeferred); r.Reason != tc.reason || r.Detail != tc.detail {
					dumpJournal(t, js)
					t.Errorf("h2: %s %q, want %s %q", r.Reason, r.Detail, tc.reason, tc.detail)
				}
			})
		})
	}
}
