package afterhours

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// tue is Tuesday 24 November 2026 at h:m UTC, in the laptop's Monday
// cycle (window Monday 18:00 to Tuesday 08:00, span to Tuesday 18:00).
func tue(h, m int) time.Time { return time.Date(2026, 11, 24, h, m, 0, 0, time.UTC) }

// withTick adds to the laptop profile a timer "tick" that repeats as
// given from start.
func withTick(repeat, start string) string {
	return strings.Replace(laptop, `"updates":`, `"timers": [{"name": "tick", "repeat": "`+repeat+`", "start": "`+start+
		`", "run": ["/bin/true"], "estimate": "1m"}],
  "updates":`, 1)
}

// failuresOf returns the failures notices of day, and what each listed:
// task@planned start, sorted.
func failuresOf(n *recorder, day string) ([]Notice, [][]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var ns []Notice
	var lists [][]string
	for _, x := range n.notices {
		if x.Kind != NoticeFailures || x.Day != day {
			continue
		}
		var l []string
		for _, r := range x.Failed {
			l = append(l, r.Task+"@"+r.PlannedStart.UTC().Format("15:04"))
		}
		slices.Sort(l)
		ns = append(ns, x)
		lists = append(lists, l)
	}
	return ns, lists
}

// Issue 11, item 12: the failures of the window are notified when it
// ends, not at the end of the cycle's span; the cycle's end notifies only
// the failures that came after (a timer's), and a restart in between lists
// none twice.
func TestFailuresNoticedAtWindowEnd(t *testing.T) {
	src := withTick("quarter-daily", "2026-11-01T04:00:00Z") // 22:00 and 04:00 in the window, 10:00 and 16:00 after
	wantWindow := []string{"h2@19:00", "tick@04:00", "tick@22:00"}
	wantEnd := []string{"tick@10:00", "tick@16:00"}
	t.Run("one run", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := profileWith(t, src, nil, map[string]bool{"h2": true, "tick": true}, nil)
			n := &recorder{}
			e, err := NewExecutor(p, WithClock(newSimClock(time.Date(2026, 11, 23, 17, 59, 0, 0, time.UTC))), WithNotifier(n))
			if err != nil {
				t.Fatal(err)
			}
			if err := runFor(t, e, 24*time.Hour+31*time.Minute); err != nil { // to Tuesday 18:30
				t.Fatal(err)
			}
			ns, lists := failuresOf(n, "2026-11-23")
			if len(ns) != 2 || !ns[0].At.Equal(tue(8, 0)) || ns[0].CycleEnd || !slices.Equal(lists[0], wantWindow) ||
				!ns[1].At.Equal(tue(18, 0)) || !ns[1].CycleEnd || !slices.Equal(lists[1], wantEnd) {
				dumpJournal(t, e.Journal())
				for i, x := range ns {
					t.Logf("notice at %s, cycle end %v: %v", fmtT(x.At), x.CycleEnd, lists[i])
				}
				t.Fatalf("want %v at the window's end (08:00), then %v alone at the cycle's end (18:00)", wantWindow, wantEnd)
			}
			if got := n.kinds(); len(got) != 2 {
				t.Errorf("notices %v, want the two of Monday's cycle alone", got)
			}
		})
	})
	t.Run("a restart after the window's notice", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := profileWith(t, src, nil, map[string]bool{"h2": true, "tick": true}, nil)
			store := NewMemoryStore()
			n := &recorder{}
			e, err := NewExecutor(p, WithClock(newSimClock(time.Date(2026, 11, 23, 17, 59, 0, 0, time.UTC))), WithStore(store), WithNotifier(n))
			if err != nil {
				t.Fatal(err)
			}
			if err := runFor(t, e, 18*time.Hour+time.Minute); err != nil { // to Tuesday 12:00
				t.Fatal(err)
			}
			n2 := &recorder{}
			e2, err := NewExecutor(p, WithClock(newSimClock(tue(12, 0))), WithStore(store), WithNotifier(n2))
			if err != nil {
				t.Fatal(err)
			}
			if err := runFor(t, e2, 6*time.Hour+30*time.Minute); err != nil { // to Tuesday 18:30
				t.Fatal(err)
			}
			if ns, lists := failuresOf(n, "2026-11-23"); len(ns) != 1 || !slices.Equal(lists[0], wantWindow) {
				t.Errorf("before the restart: %v, want %v", lists, wantWindow)
			}
			if ns, lists := failuresOf(n2, "2026-11-23"); len(ns) != 1 || !ns[0].CycleEnd || !slices.Equal(lists[0], wantEnd) {
				t.Errorf("after the restart: %v, want %v alone", lists, wantEnd)
			}
		})
	})
}

// timersOnly is the laptop's site with the timer tick alone.
func timersOnly(repeat, start string) string {
	src := withTick(repeat, start)
	i, j := strings.Index(src, `  "housekeeping":`), strings.Index(src, `  "timers":`)
	src = src[:i] + src[j:]
	i, j = strings.Index(src, `,
  "updates":`), strings.LastIndex(src, "\n}")
	return src[:i] + src[j:]
}

// An executor with nothing else to wake it wakes at the window's end to
// notify the window's failures: tick fails at 22:00 and 04:00, and its
// next run is at 10:00.
func TestWindowEndWake(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, timersOnly("quarter-daily", "2026-11-01T04:00:00Z"), nil, map[string]bool{"tick": true}, nil)
		n := &recorder{}
		e, err := NewExecutor(p, WithClock(newSimClock(time.Date(2026, 11, 23, 17, 59, 0, 0, time.UTC))), WithNotifier(n))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 14*time.Hour+2*time.Minute); err != nil { // to Tuesday 08:01
			t.Fatal(err)
		}
		ns, lists := failuresOf(n, "2026-11-23")
		if len(ns) != 1 || !ns[0].At.Equal(tue(8, 0)) || !slices.Equal(lists[0], []string{"tick@04:00", "tick@22:00"}) {
			t.Errorf("notices %v, want tick@04:00 and tick@22:00 at 08:00", lists)
		}
	})
}

// A timer that fails after the window is notified at the cycle's end
// alone: nothing at the window's end, and no wake for it then.
func TestLateFailureNoticedAtCycleEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := profileWith(t, timersOnly("daily", "2026-11-01T12:00:00Z"), nil, map[string]bool{"tick": true}, nil)
		n := &recorder{}
		e, err := NewExecutor(p, WithClock(newSimClock(time.Date(2026, 11, 23, 17, 59, 0, 0, time.UTC))), WithNotifier(n))
		if err != nil {
			t.Fatal(err)
		}
		var armed []time.Time
		e.idleHook = func(at time.Time) { armed = append(armed, at) }
		if err := runFor(t, e, 24*time.Hour+31*time.Minute); err != nil { // to Tuesday 18:30
			t.Fatal(err)
		}
		ns, lists := failuresOf(n, "2026-11-23")
		if len(ns) != 1 || !ns[0].At.Equal(tue(18, 0)) || !ns[0].CycleEnd || !slices.Equal(lists[0], []string{"tick@12:00"}) {
			t.Errorf("notices %v, want tick@12:00 alone at the cycle's end", lists)
		}
		if slices.ContainsFunc(armed, func(at time.Time) bool { return at.Equal(tue(8, 0)) }) {
			t.Errorf("the idle executor woke at the window's end with nothing to report: wakes %v", armed)
		}
	})
}
