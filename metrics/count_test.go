package metrics

import (
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/stretchr/testify/require"
)

// Counters add what is new at each scrape and never go down when a cycle
// leaves the journal; the cycles left are forgotten.
func TestCountAcrossRetention(t *testing.T) {
	c := NewExecutor(nil, nil)
	at := time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)
	run := func(day, task string, st afterhours.State, reason string) afterhours.Record {
		r := afterhours.Record{Task: task, Kind: afterhours.Housekeeping, State: st, Reason: reason, Run: day + "/" + task + "#1"}
		if st != afterhours.StateDeferred {
			r.Start, r.End = at, at.Add(time.Minute)
		} else {
			r.Run = ""
		}
		return r
	}
	day1 := afterhours.CycleJournal{Day: "2026-11-23", Records: []afterhours.Record{
		run("2026-11-23", "a", afterhours.StateCompleted, ""),
		run("2026-11-23", "b", afterhours.StateActive, ""),
		run("2026-11-23", "old", afterhours.StateDeferred, afterhours.ReasonDisabled),
	}}
	c.count([]afterhours.CycleJournal{day1})
	require.Equal(t, uint64(1), c.runCount[[2]string{"housekeeping", "completed"}])
	// b ends; a second scrape counts it, and a once.
	day1.Records[1] = run("2026-11-23", "b", afterhours.StateFailed, "")
	c.count([]afterhours.CycleJournal{day1})
	require.Equal(t, uint64(1), c.runCount[[2]string{"housekeeping", "completed"}])
	require.Equal(t, uint64(1), c.runCount[[2]string{"housekeeping", "failed"}])
	// With a retention of one cycle, the next night replaces the first.
	day2 := afterhours.CycleJournal{Day: "2026-11-24", Records: []afterhours.Record{
		run("2026-11-24", "a", afterhours.StateCompleted, ""),
		run("2026-11-24", "old", afterhours.StateDeferred, afterhours.ReasonDisabled),
	}}
	c.count([]afterhours.CycleJournal{day2})
	require.Equal(t, uint64(2), c.runCount[[2]string{"housekeeping", "completed"}])
	require.Equal(t, uint64(1), c.runCount[[2]string{"housekeeping", "failed"}])
	require.Equal(t, uint64(2), c.deferrals[[2]string{"housekeeping", afterhours.ReasonDisabled}])
	require.Len(t, c.counted, 1, "the cycle that left the journal is forgotten")
	require.Contains(t, c.counted, "2026-11-24")
}
