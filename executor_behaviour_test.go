package afterhours

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestCommands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, map[string]time.Duration{"agent": 30 * time.Minute}, nil, nil)
		clk := newSimClock(time.Date(2026, 11, 23, 18, 29, 0, 0, time.UTC))
		e, err := NewExecutor(p, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		ch, unsub := e.Subscribe()
		// While rotate runs, a 20-minute command arrives: vacuum waits for
		// it. While the self-update runs, another command waits for it.
		wait := onEvent(ch, func(ev Event) {
			if ev.Kind != EventStarted {
				return
			}
			var err error
			switch ev.Task {
			case "rotate":
				err = e.Submit(Command{ID: "c1", Name: "fix", Action: work{d: 20 * time.Minute}})
			case "agent":
				err = e.Submit(Command{ID: "c2", Action: work{d: time.Minute}})
			}
			if err != nil {
				t.Error(err)
			}
		})
		if err := e.Submit(Command{ID: "c0", Action: work{d: time.Minute}, Tags: []string{"kiosk"}}); !errors.Is(err, ErrNotForSite) {
			t.Errorf("a command for kiosks: %v, want ErrNotForSite", err)
		}
		if err := e.Submit(Command{ID: "", Run: []string{"/bin/true"}}); err == nil {
			t.Error("a command without an id accepted")
		}
		if err := e.Submit(Command{ID: "x", Run: []string{"true"}}); err == nil {
			t.Error("a command with a relative path accepted")
		}
		if err := runFor(t, e, 4*time.Hour); err != nil {
			t.Fatal(err)
		}
		unsub()
		wait()
		js := e.Journal()
		c1, rotate, vacuum := one(t, js, "fix", StateCompleted), one(t, js, "rotate", StateCompleted), one(t, js, "vacuum", StateCompleted)
		if !c1.Start.Equal(rotate.Start) || c1.Command != "c1" {
			t.Errorf("c1 started %s, want at once (%s) while rotate runs", fmtT(c1.Start), fmtT(rotate.Start))
		}
		if vacuum.Start.Before(c1.End) {
			t.Errorf("vacuum started %s, before the command ended %s", fmtT(vacuum.Start), fmtT(c1.End))
		}
		agent, c2 := one(t, js, "agent", StateCompleted), one(t, js, "c2", StateCompleted)
		if c2.Start.Before(agent.End) {
			t.Errorf("c2 started %s while the self-update ran to %s", fmtT(c2.Start), fmtT(agent.End))
		}
		if err := e.Submit(Command{ID: "c1", Action: work{}}); !errors.Is(err, ErrDuplicateCommand) {
			t.Errorf("resubmitted c1: %v, want ErrDuplicateCommand", err)
		}
	})
}

const timersProfile = `{
  "client": "t", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"]}},
  "self_update": {"name": "agent", "run": ["/bin/true"], "estimate": "10m"},
  "timers": [{"name": "tick", "repeat": "minute", "start": "2026-11-01T00:00:00Z", "run": ["/bin/true"], "timeout": "5m"}]
}`

// A timer never overlaps itself, and its runs due during the self-update
// are skipped.
func TestTimerOverlapAndSelfUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, timersProfile, map[string]time.Duration{"tick": 90 * time.Second, "agent": 5 * time.Minute}, nil, nil)
		clk := newSimClock(time.Date(2026, 11, 23, 17, 59, 30, 0, time.UTC))
		e, err := NewExecutor(p, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 30*time.Minute); err != nil {
			t.Fatal(err)
		}
		js := e.Journal()
		agent := one(t, js, "agent", StateCompleted)
		var ran, overlap, during int
		for _, r := range records(js, "tick", "") {
			switch {
			case r.State == StateCompleted:
				ran++
				if r.Start.Before(agent.End) && agent.Start.Before(r.End) {
					t.Errorf("tick ran %s-%s during the self-update", fmtT(r.Start), fmtT(r.End))
				}
			case r.Reason == ReasonOverlap:
				overlap++
			case r.Reason == ReasonSelfUpdate:
				during++
				if r.PlannedStart.Before(agent.Start) || !r.PlannedStart.Before(agent.End) {
					t.Errorf("tick at %s skipped for the self-update, which ran %s-%s", fmtT(r.PlannedStart), fmtT(agent.Start), fmtT(agent.End))
				}
			}
		}
		if ran < 10 || overlap < 10 || during < 3 {
			dumpJournal(t, js)
			t.Errorf("ran %d, skipped %d for overlap and %d for the self-update", ran, overlap, during)
		}
	})
}

// A failed on_failure "stop" task stops the rest of its cycle and is
// notified at once; the cycle's failures are notified at its end.
func TestOnFailureStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := strings.Replace(smallShop, `"estimate": "30m"}`, `"estimate": "30m", "on_failure": "stop"}`, 1)
		p := profileWith(t, src, nil, map[string]bool{"openssl": true}, nil)
		n := &recorder{}
		e, err := NewExecutor(p, WithClock(newSimClock(monNoon)), WithNotifier(n))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 31*time.Hour); err != nil {
			t.Fatal(err)
		}
		js := e.Journal()
		one(t, js, "openssl", StateFailed)
		if d := records(js[1:], "agent", StateDeferred); len(d) != 1 || d[0].Reason != ReasonStopped {
			t.Errorf("agent: %+v, want deferred as stopped", d)
		}
		if got := n.kinds(); len(got) != 2 || got[0] != NoticeStopped || got[1] != NoticeFailures {
			t.Errorf("notices %v, want stopped then failures", got)
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		if len(n.notices) == 2 && (len(n.notices[1].Failed) != 1 || n.notices[1].Failed[0].Task != "openssl" || n.notices[1].Client != "shop-1") {
			t.Errorf("failures notice %+v", n.notices[1])
		}
	})
}

// Update re-plans the current cycle: a running task that is removed
// finishes, a new one runs, completed ones do not run again.
func TestUpdateReplans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		clk := newSimClock(time.Date(2026, 11, 23, 18, 29, 0, 0, time.UTC))
		e, err := NewExecutor(p, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		src := strings.Replace(smallShop, `{"name": "vacuum", "run": ["/bin/true"], "estimate": "1h", "uses": ["db"]}`,
			`{"name": "extra", "run": ["/bin/true"], "estimate": "15m", "uses": ["db"]}`, 1)
		p2 := profileWith(t, src, nil, nil, nil)
		ch, unsub := e.Subscribe()
		wait := onEvent(ch, func(ev Event) {
			if ev.Kind == EventStarted && ev.Task == "vacuum" {
				if err := e.Update(p2); err != nil {
					t.Error(err)
				}
			}
		})
		if err := runFor(t, e, 4*time.Hour); err != nil {
			t.Fatal(err)
		}
		unsub()
		wait()
		js := e.Journal()
		vacuum, extra := one(t, js, "vacuum", StateCompleted), one(t, js, "extra", StateCompleted)
		one(t, js, "rotate", StateCompleted)
		one(t, js, "agent", StateCompleted)
		if extra.Start.Before(vacuum.End) {
			t.Errorf("extra (db) started %s while vacuum (db) ran to %s", fmtT(extra.Start), fmtT(vacuum.End))
		}
		if err := e.Update(&Profile{}); !errors.Is(err, ErrNotValidated) {
			t.Errorf("Update with an unvalidated profile: %v", err)
		}
	})
}

const jumpProfile = `{
  "client": "jump",
  "site": {"timezone": "Europe/London",
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"]}, "grace": "30m"},
  "sharing": [{"token": "pkg-repo", "base": "01:40", "duration": "20m", "buffer": "10m", "uses": ["network"],
     "tasks": [{"name": "fetch", "run": ["/bin/true"], "estimate": "10m", "uses": ["network"]}]}],
  "housekeeping": [
    {"name": "pre", "run": ["/bin/true"], "estimate": "2h30m", "uses": ["disk"]},
    {"name": "sync", "run": ["/bin/true"], "estimate": "5h", "uses": ["network"]}],
  "updates": [{"name": "openssl", "run": ["/bin/true"], "estimate": "30m"}],
  "timers": [{"name": "tick", "repeat": "hourly", "start": "2026-11-01T00:05:00Z", "run": ["/bin/true"], "estimate": "1m"}]
}`

// A clock jump while the executor sleeps (a suspended machine): after the
// late wake nothing starts in business hours, the housekeeping that no
// longer fits is recorded as missed, and the one-off carries over.
func TestClockJump(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, jumpProfile, map[string]time.Duration{"pre": 150 * time.Minute}, nil, nil)
		clk := newJumpClock(time.Date(2026, 11, 23, 18, 29, 0, 0, time.UTC))
		e, err := NewExecutor(p, WithClock(clk))
		if err != nil {
			t.Fatal(err)
		}
		ch, unsub := e.Subscribe()
		jumped := false
		wait := onEvent(ch, func(ev Event) {
			// sync waits at 21:00 for the pkg-repo hold to end at 02:00;
			// the machine sleeps meanwhile, and its next timer (the tick
			// at 21:05) fires at 07:35.
			if ev.Kind == EventHeld && ev.Task == "sync" && !jumped {
				jumped = true
				clk.jump(10*time.Hour + 30*time.Minute)
			}
		})
		if err := runFor(t, e, 30*time.Hour); err != nil { // 40h30m of clock with the jump
			t.Fatal(err)
		}
		unsub()
		wait()
		js := e.Journal()
		if !jumped {
			dumpJournal(t, js)
			t.Fatal("sync was never held")
		}
		for _, c := range js {
			for _, r := range c.Records {
				if !r.Start.IsZero() && r.Kind != Timer && p.Site.InBusiness(r.Start) {
					t.Errorf("%s started %s, in business hours", r.Task, fmtT(r.Start))
				}
			}
		}
		night := []CycleJournal{js[1]}
		if d := records(night, "sync", StateDeferred); len(d) != 1 || d[0].Reason != ReasonMissed {
			t.Errorf("sync in the night of the jump: %+v, want missed", d)
		}
		if d := records(night, "openssl", StateDeferred); len(d) != 1 || d[0].Reason != ReasonMissed || !strings.Contains(d[0].Detail, "carried over") {
			t.Errorf("openssl in the night of the jump: %+v, want missed and carried over", d)
		}
		if d := records(night, "fetch", StateDeferred); len(d) != 1 || d[0].Reason != ReasonMissed {
			t.Errorf("fetch in the night of the jump: %+v, want missed", d)
		}
		// Of the timer runs due while it slept, the latest ran at the wake
		// and the others are recorded as missed.
		var missed, late []Record
		for _, r := range records(night, "tick", "") {
			switch {
			case r.Reason == ReasonMissed:
				missed = append(missed, r)
			case r.State == StateCompleted && !r.Start.Equal(r.PlannedStart):
				late = append(late, r)
			}
		}
		if len(missed) != 1 || !strings.HasPrefix(missed[0].Detail, "10 runs from 21:05 to 06:05") || len(late) != 1 ||
			!late[0].PlannedStart.Equal(time.Date(2026, 11, 24, 7, 5, 0, 0, time.UTC)) || !late[0].Start.Equal(time.Date(2026, 11, 24, 7, 35, 0, 0, time.UTC)) {
			t.Errorf("ticks after the wake: missed %+v, run late %+v", missed, late)
		}
		// The next night runs the carried-over one-off, and sync.
		one(t, js[2:], "openssl", StateCompleted)
		one(t, js[2:], "sync", StateCompleted)
	})
}
