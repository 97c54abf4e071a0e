package afterhours

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
)

// Cycles slept through are recorded with their work missed; Run may be
// called again after it returned; the journal keeps the retention's cycles.
func TestSleptThroughAndRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		store := NewMemoryStore()
		e, err := NewExecutor(p, WithClock(newSimClock(monNoon)), WithStore(store), WithRetention(4))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 24*time.Hour); err != nil {
			t.Fatal(err)
		}
		// Run again: the cycle goes on.
		if err := runFor(t, e, time.Hour); err != nil {
			t.Fatal(err)
		}
		// The agent is down from Tuesday 13:00 to Friday noon.
		e2, err := NewExecutor(p, WithClock(newSimClock(monNoon.Add(96*time.Hour))), WithStore(store), WithRetention(4))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e2, time.Minute); err != nil {
			t.Fatal(err)
		}
		js := e2.Journal()
		var days []string
		for _, c := range js {
			days = append(days, c.Day)
		}
		if got := strings.Join(days, " "); got != "2026-11-23 2026-11-24 2026-11-25 2026-11-26" {
			t.Fatalf("cycles %s, want the retention's 4 up to Thursday's", got)
		}
		for _, c := range js[1:3] {
			if !c.Closed {
				t.Errorf("cycle %s slept through is not closed", c.Day)
			}
			if d := records([]CycleJournal{c}, "rotate", StateDeferred); len(d) != 1 || d[0].Reason != ReasonMissed {
				t.Errorf("cycle %s: rotate %+v, want missed", c.Day, d)
			}
		}
		if keys, _ := store.Keys(); len(keys) != 5 {
			t.Errorf("store keys %v, want the meta state and 4 cycles", keys)
		}
	})
}

// Commands run one at a time, in the order accepted.
func TestCommandsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		e, err := NewExecutor(p, WithClock(newSimClock(monNoon)))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"a", "b", "c"} {
			if err := e.Submit(Command{ID: id, Action: work{d: 10 * time.Minute}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := runFor(t, e, time.Hour); err != nil {
			t.Fatal(err)
		}
		js := e.Journal()
		a, b, c := one(t, js, "a", StateCompleted), one(t, js, "b", StateCompleted), one(t, js, "c", StateCompleted)
		if !a.Start.Equal(monNoon) || !b.Start.Equal(a.End) || !c.Start.Equal(b.End) {
			t.Errorf("commands ran %s-%s, %s-%s, %s-%s", fmtT(a.Start), fmtT(a.End), fmtT(b.Start), fmtT(b.End), fmtT(c.Start), fmtT(c.End))
		}
	})
}

// A run as another user has that user's HOME, USER and LOGNAME.
func TestRunAsUserEnvironment(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	p := mustParse(t, `{"client": "c", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}},
	  "housekeeping": [{"name": "who", "run": ["/usr/bin/env"], "user": "nobody", "estimate": "1m"}]}`)
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	e, err := NewExecutor(p, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	ch, unsub := e.Subscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	for ev := range ch {
		if ev.Kind == EventFinished || ev.Kind == EventFailed {
			break
		}
	}
	unsub()
	cancel()
	<-done
	r := one(t, e.Journal(), "who", StateCompleted)
	for _, want := range []string{"USER=nobody\n", "LOGNAME=nobody\n", "HOME=/nonexistent\n", "AFTERHOURS_TASK=who\n"} {
		if !strings.Contains(r.Output, want) {
			t.Errorf("no %q in\n%s", want, r.Output)
		}
	}
}

// A changed site applies from the next cycle: the current one keeps its
// window.
func TestUpdateSiteNextCycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		e, err := NewExecutor(p, WithClock(newSimClock(time.Date(2026, 11, 23, 18, 40, 0, 0, time.UTC))))
		if err != nil {
			t.Fatal(err)
		}
		p2 := profileWith(t, strings.Replace(smallShop, `"grace": "30m"`, `"grace": "1h"`, 1), nil, nil, nil)
		ch, unsub := e.Subscribe()
		wait := onEvent(ch, func(ev Event) {
			if ev.Kind == EventStarted && ev.Task == "rotate" {
				if err := e.Update(p2); err != nil {
					t.Error(err)
				}
			}
		})
		if err := runFor(t, e, 25*time.Hour); err != nil {
			t.Fatal(err)
		}
		unsub()
		wait()
		js := e.Journal()
		mon, tue := js[len(js)-2], js[len(js)-1]
		if h, m, _ := mon.Window.Start.UTC().Clock(); h != 18 || m != 30 {
			t.Errorf("the current cycle's window moved to %s", fmtT(mon.Window.Start))
		}
		if h, m, _ := tue.Window.Start.UTC().Clock(); h != 19 || m != 0 {
			t.Errorf("the next cycle's window starts %s, want 19:00 with the new grace", fmtT(tue.Window.Start))
		}
	})
}

// A notice that arises while Run does not run is delivered by the next
// Run.
func TestNoticeWaitsForRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		n := &recorder{}
		e, err := NewExecutor(p, WithClock(newSimClock(monNoon)), WithNotifier(n))
		if err != nil {
			t.Fatal(err)
		}
		e.Kill("maintenance freeze")
		if len(n.kinds()) != 0 {
			t.Fatal("notified without Run")
		}
		if err := runFor(t, e, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got := n.kinds(); len(got) != 1 || got[0] != NoticeKilled || n.notices[0].Reason != "maintenance freeze" {
			t.Errorf("notices %v", got)
		}
	})
}

func TestPanickingConstraintRefuses(t *testing.T) {
	c := ConstraintFunc("broken", func(context.Context, Check) Verdict { panic("oops") })
	v, name, _ := checkAll(context.Background(), []Constraint{MaxLoad(1e9), c}, Check{})
	if v.Decision != Refuse || name != "broken" || !strings.Contains(v.Reason, "oops") {
		t.Errorf("%v %s %q", v.Decision, name, v.Reason)
	}
}

// failingStore fails every Save after the first n.
type failingStore struct {
	*MemoryStore
	n int
}

func (s *failingStore) Save(key string, data []byte) error {
	if s.n--; s.n < 0 {
		return errors.New("disk full")
	}
	return s.MemoryStore.Save(key, data)
}

// An executor that cannot keep its journal stops and says why.
func TestRunStopsOnStoreFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, smallShop, nil, nil, nil)
		e, err := NewExecutor(p, WithClock(newSimClock(time.Date(2026, 11, 23, 18, 29, 0, 0, time.UTC))),
			WithStore(&failingStore{MemoryStore: NewMemoryStore(), n: 3}))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 10*time.Hour); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("Run: %v, want the store's error", err)
		}
		if st := e.Status(); st.Running || len(st.Active) != 0 {
			t.Errorf("after the failure: running %v, active %v", st.Running, st.Active)
		}
	})
}
