package afterhours_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
)

// Forecast plans consecutive cycles, assuming planned work completes: the
// update runs in the first cycle only and is "done" in the later ones. The
// weekly vacuum (Sundays at 03:00, London time) is due in the cycle whose
// span holds Sunday 03:00: Sunday's, which starts at midnight since Sunday
// has no business hours; Saturday's window ends there.
func ExampleForecast() {
	p, err := afterhours.ParseProfile([]byte(`{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/London", "grace": "30m",
	    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
	      "thu": ["08:00-18:00"], "fri": ["08:00-18:00"], "sat": ["09:00-13:00"]}},
	  "housekeeping": [
	    {"name": "rotate-logs", "run": ["/usr/sbin/logrotate"], "estimate": "2m"},
	    {"name": "vacuum-db", "schedule": "0 3 * * 0", "run": ["/usr/lib/agent/vacuum"], "estimate": "20m"}],
	  "updates": [{"name": "openssl-3.0.15", "run": ["/usr/lib/agent/apply", "openssl"], "estimate": "40m"}]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Friday 27 November 2026, noon in London.
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	plans, err := afterhours.Forecast(p, clk, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, plan := range plans {
		fmt.Println(plan.Day, "window", plan.Window.Start.Format("Mon 15:04"), "to", plan.Window.End.Format("Mon 15:04"))
		for _, s := range plan.Steps {
			fmt.Println("  run  ", s.Start.Format("Mon 15:04"), s.Task.Name)
		}
		for _, d := range plan.Deferred {
			fmt.Println("  defer", d.Task.Name, d.Reason)
		}
	}
	// Output:
	// 2026-11-27 window Fri 18:30 to Sat 09:00
	//   run   Fri 18:30 rotate-logs
	//   run   Fri 18:32 openssl-3.0.15
	//   defer vacuum-db not-due
	// 2026-11-28 window Sat 13:30 to Sun 00:00
	//   run   Sat 13:30 rotate-logs
	//   defer vacuum-db not-due
	//   defer openssl-3.0.15 done
	// 2026-11-29 window Sun 00:00 to Mon 08:00
	//   run   Sun 00:00 rotate-logs
	//   run   Sun 00:02 vacuum-db
	//   defer openssl-3.0.15 done
}

// AffectedReport lists, for each downtime in the coming cycles, every task
// that uses the resource and what the plan does with it; WriteAffectedCSV
// writes the same rows as CSV.
func ExampleAffectedReport() {
	p, err := afterhours.ParseProfile([]byte(`{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/London",
	    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"]}},
	  "housekeeping": [
	    {"name": "sync-catalogue", "run": ["/usr/lib/agent/sync"], "estimate": "6h", "uses": ["network"]},
	    {"name": "vacuum-db", "run": ["/usr/lib/agent/vacuum"], "estimate": "20m", "uses": ["db"]},
	    {"name": "backup-db", "run": ["/usr/lib/agent/backup"], "estimate": "2h", "uses": ["db"]},
	    {"name": "reindex-db", "run": ["/usr/lib/agent/reindex"], "estimate": "6h", "uses": ["db"]}],
	  "resources": [{"name": "db", "downtimes": [
	    {"dates": ["2026-11-24"], "from": "01:00", "to": "03:00", "action": "postpone"}]}]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Monday 23 November 2026, noon: the downtime falls in Monday's night.
	// The vacuum ends before it; the backup, which would run into it, is
	// postponed past it; the reindex no longer fits after it and carries
	// over to the next cycle. sync-catalogue does not use db: not listed.
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	rows, err := afterhours.AffectedReport(p, clk, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rows {
		fmt.Println(r)
	}
	var csv strings.Builder
	if err := afterhours.WriteAffectedCSV(&csv, rows); err != nil {
		fmt.Println(err)
		return
	}
	// Lines of the CSV end in CRLF, as RFC 4180 has it.
	fmt.Print(strings.ReplaceAll(csv.String(), "\r\n", "\n"))
	// Output:
	// db 01:00-03:00 postpone: vacuum-db before
	// db 01:00-03:00 postpone: backup-db after
	// db 01:00-03:00 postpone: reindex-db deferred
	// resource,down_start,down_end,action,ended,task,kind,cycle,relation,planned_start,planned_end,estimate,likely_to_finish,detail
	// db,2026-11-24T01:00:00Z,2026-11-24T03:00:00Z,postpone,false,vacuum-db,housekeeping,2026-11-23,before,2026-11-24T00:00:00Z,2026-11-24T00:20:00Z,20m,true,
	// db,2026-11-24T01:00:00Z,2026-11-24T03:00:00Z,postpone,false,backup-db,housekeeping,2026-11-23,after,2026-11-24T03:00:00Z,2026-11-24T05:00:00Z,2h,,
	// db,2026-11-24T01:00:00Z,2026-11-24T03:00:00Z,postpone,false,reindex-db,housekeeping,2026-11-23,deferred,,,6h,,"needs 6h, no room after db's downtime: carried to the next cycle"
}
