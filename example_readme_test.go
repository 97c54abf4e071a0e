package afterhours_test

import (
	"fmt"
	"log"
	"time"

	"github.com/afterhours-go/afterhours"
)

// The README's first sample: the body of this function is its main
// function, word for word (TestReadmeSample checks it).
func Example_readme() {
	// A shop in London, open 08:00-18:00 on weekdays, with a grace of 30
	// minutes after closing, a daily slot of the package repository for one
	// task, and four other tasks.
	p, err := afterhours.ParseProfile([]byte(`{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/London", "grace": "30m",
	    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
	      "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]}},
	  "sharing": [{"token": "pkg-repo", "base": "01:40", "duration": "20m", "buffer": "10m",
	    "tasks": [{"name": "fetch-packages", "run": ["/usr/lib/agent/fetch"]}]}],
	  "housekeeping": [
	    {"name": "rotate-logs", "run": ["/usr/sbin/logrotate", "/etc/logrotate.conf"], "estimate": "2m"},
	    {"name": "backup-pos", "run": ["/usr/lib/agent/backup"], "estimate": "6h30m"},
	    {"name": "vacuum-db", "schedule": "0 3 * * 0", "run": ["/usr/lib/agent/vacuum"]}],
	  "updates": [{"name": "openssl-3.0.15", "run": ["/usr/lib/agent/apply", "openssl"], "estimate": "40m"}]
	}`))
	if err != nil {
		log.Fatal(err) // a *afterhours.ValidationError lists every problem with its field path
	}
	// PlanAt plans at an instant; BuildPlan(p, clock) reads a clock once.
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) // Monday noon
	plan, err := afterhours.PlanAt(p, now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("window", plan.Window.Start.Format("Mon 15:04"), "to", plan.Window.End.Format("Mon 15:04"))
	for _, s := range plan.Slots {
		fmt.Println("slot ", s.Run.Start.Format("Mon 15:04"), s.Token, "(hold from", s.Buffer.Start.Format("15:04")+")")
	}
	for _, s := range plan.Steps {
		fmt.Println("step ", s.Start.Format("Mon 15:04"), s.Task.Name)
	}
	for _, d := range plan.Deferred {
		fmt.Println("defer", d.Task.Name, d.Reason+":", d.Detail)
	}
	// Output:
	// window Mon 18:30 to Tue 08:00
	// slot  Tue 01:40 pkg-repo (hold from 01:30)
	// step  Mon 18:30 rotate-logs
	// step  Mon 18:32 backup-pos
	// step  Tue 02:00 openssl-3.0.15
	// defer vacuum-db not-due: next due 2026-11-29 03:00 GMT
}
