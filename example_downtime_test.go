package afterhours_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours"
)

// The downtime actions on one night: the database is down from 01:00 to
// 03:00 and backup-db, which uses it, would run from 00:00 to 02:00, after
// sync-catalogue (which does not use it) and before send-report. The
// README's timelines draw these plans.
func ExampleDowntimeSchedule_actions() {
	for _, action := range []string{"suppress", "skip", "postpone", "anticipate", "hold", "stop"} {
		p, err := afterhours.ParseProfile([]byte(downtimeNight(action)))
		if err != nil {
			fmt.Println(err)
			return
		}
		plan, err := afterhours.PlanAt(p, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
		if err != nil {
			fmt.Println(err)
			return
		}
		var line []string
		for _, s := range plan.Steps {
			line = append(line, fmt.Sprintf("%s %s-%s", s.Task.Name, s.Start.Format("15:04"), s.End.Format("15:04")))
		}
		for _, d := range plan.Deferred {
			line = append(line, d.Task.Name+" "+d.Reason)
		}
		fmt.Printf("%-10s %s\n", action, strings.Join(line, ", "))
	}
	// Output:
	// suppress   sync-catalogue 18:00-00:00, send-report 00:00-00:30, backup-db downtime:db
	// skip       sync-catalogue 18:00-00:00, send-report 00:00-00:30, backup-db downtime:db
	// postpone   sync-catalogue 18:00-00:00, send-report 00:00-00:30, backup-db 03:00-05:00
	// anticipate backup-db 18:00-20:00, sync-catalogue 20:00-02:00, send-report 02:00-02:30
	// hold       sync-catalogue 18:00-00:00, backup-db 03:00-05:00, send-report 05:00-05:30
	// stop       sync-catalogue 18:00-00:00, send-report 00:00-00:30, backup-db downtime:db
}

// downtimeNight is the profile of ExampleDowntimeSchedule_actions and of
// the README's downtime timelines, with the database's downtime taking
// action.
func downtimeNight(action string) string {
	return `{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"]}},
	  "housekeeping": [
	    {"name": "sync-catalogue", "run": ["/usr/lib/agent/sync"], "estimate": "6h", "uses": ["network"]},
	    {"name": "backup-db", "run": ["/usr/lib/agent/backup"], "estimate": "2h", "uses": ["db"]},
	    {"name": "send-report", "run": ["/usr/lib/agent/report"], "estimate": "30m", "uses": ["mail"]}],
	  "resources": [{"name": "db", "downtimes": [
	    {"dates": ["2026-11-24"], "from": "01:00", "to": "03:00", "action": "` + action + `"}]}]
	}`
}
