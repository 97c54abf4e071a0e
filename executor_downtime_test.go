package afterhours

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A step still running when a "stop" downtime of a resource it uses begins
// is stopped then (rule 10). Commands and timers are not: they never meet
// downtimes.
func TestExecutorStopDowntime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Wednesday 07:00 in Tuesday's window (it ends at 08:00). vacuum is
		// planned 07:00-07:50 but takes 2 h, within its 3 h timeout: it runs
		// past the window, and db goes down at 08:15 with "stop".
		src := `{"client": "c", "site": {"timezone": "Europe/London",
		    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"]}},
		  "housekeeping": [{"name": "vacuum", "run": ["/bin/true"], "estimate": "50m", "timeout": "3h", "uses": ["db"]}],
		  "resources": [{"name": "db", "downtimes": [{"dates": ["2026-11-25"], "from": "08:15", "to": "09:00", "action": "stop"}]}]}`
		p := profileWith(t, src, map[string]time.Duration{"vacuum": 2 * time.Hour}, nil, nil)
		start := time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)
		e, err := NewExecutor(p, WithClock(newSimClock(start)))
		if err != nil {
			t.Fatal(err)
		}
		if err := runFor(t, e, 3*time.Hour); err != nil {
			t.Fatal(err)
		}
		js := e.Journal()
		failed := records(js, "vacuum", StateFailed)
		if len(failed) != 1 {
			dumpJournal(t, js)
			t.Fatalf("vacuum failed %d times, want once", len(failed))
		}
		r := failed[0]
		if !strings.Contains(r.Error, "db went down at 08:15 (stop)") {
			t.Errorf("vacuum: %q, want it stopped by db's downtime", r.Error)
		}
		if want := time.Date(2026, 11, 25, 8, 15, 0, 0, time.UTC); r.End.Sub(want) < 0 || r.End.Sub(want) > time.Second {
			t.Errorf("vacuum ended at %v, want when db went down, %v", r.End, want)
		}
	})
}
