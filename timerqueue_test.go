package afterhours

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

const queueProfile = `{"client": "c", "site": {"timezone": "Europe/London", "business_hours": {"tue": ["08:00-18:00"], "wed": ["08:00-18:00"]}},
  "timers": [
    {"name": "every-minute", "schedule": "* * * * *", "run": ["/bin/true"]},
    {"name": "nightly", "schedule": "0 3 * * *", "run": ["/bin/true"]},
    {"name": "sundays", "schedule": "0 3 * * 0", "run": ["/bin/true"]}
  ]}`

// The executor holds one occurrence a timer, its next: a minute timer's
// 1,440 runs of a cycle are never listed in advance; each is worked out when
// the one before it is handled. A timer with no run left in the cycle is
// not held at all.
func TestTimerQueueHoldsNextRunOnly(t *testing.T) {
	p := profileWith(t, queueProfile, nil, nil, nil)
	for _, task := range p.Timers {
		task.Action = noop{}
	}
	start := time.Date(2026, 11, 24, 18, 30, 0, 0, time.UTC) // Tuesday's cycle opens
	clk := fakeclock.NewManual(start)
	e, err := NewExecutor(p, WithClock(clk))
	require.NoError(t, err)
	simulate(t, e, clk, start.Add(10*time.Minute+30*time.Second))

	q := e.cur.timers
	require.Len(t, q, 2, "the minute timer and the nightly one; Sunday's has no run in a Tuesday cycle")
	next := map[string]time.Time{}
	for _, e := range q {
		next[e.task.Name] = time.Unix(0, e.next).UTC()
	}
	require.Equal(t, map[string]time.Time{
		"every-minute": start.Add(11 * time.Minute),
		"nightly":      time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC),
	}, next)
	require.Equal(t, "nightly", q[len(q)-1].task.Name, "the earliest first")
	require.Len(t, records(e.Journal(), "every-minute", StateCompleted), 11, "18:30 to 18:40, each run once")
}

// Status lists the cycle's timer runs for people, worked out when asked: the
// same list as the plan of the cycle, though the executor keeps only each
// timer's next run.
func TestStatusListsTimerRuns(t *testing.T) {
	p := profileWith(t, queueProfile, nil, nil, nil)
	for _, task := range p.Timers {
		task.Action = noop{}
	}
	start := time.Date(2026, 11, 24, 18, 30, 0, 0, time.UTC)
	clk := fakeclock.NewManual(start)
	e, err := NewExecutor(p, WithClock(clk))
	require.NoError(t, err)
	simulate(t, e, clk, start.Add(time.Minute))

	want, err := PlanAt(p, start)
	require.NoError(t, err)
	got := e.Status().Plan
	require.NotNil(t, got)
	require.Len(t, got.Timers, 1440+1)
	require.Equal(t, want.Timers, got.Timers)
	require.Nil(t, e.cur.plan.Timers, "the executor does not keep the list")
}

// A wake looks only at the timers due: due takes them out of the queue in
// the plan's order, and leaves the others.
func TestTimerQueueDue(t *testing.T) {
	at := func(m int) int64 { return time.Date(2026, 11, 24, 0, m, 0, 0, time.UTC).UnixNano() }
	var q timerQueue
	for i, m := range []int{5, 1, 3, 1, 9} {
		q.push(timerEntry{task: &Task{Name: string(rune('a' + i))}, next: at(m), rank: int32(i)})
	}
	names := func(es []timerEntry) string {
		s := ""
		for _, e := range es {
			s += e.task.Name
		}
		return s
	}
	require.Equal(t, "bd", names(q.due(time.Unix(0, at(3)), false)), "before 00:03")
	require.Equal(t, "ac", names(q.due(time.Unix(0, at(5)), true)), "at or before 00:05, in rank order")
	require.Len(t, q, 1)
	w, ok := q.nextWake(time.UTC)
	require.True(t, ok)
	require.Equal(t, time.Unix(0, at(9)).UTC(), w)
}
