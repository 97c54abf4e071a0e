package afterhours_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
)

const shop = `{
  "client": "shop-0042",
  "site": {
    "name": "leeds", "timezone": "Europe/London", "tags": ["uk", "retail"],
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"],
      "wed": ["08:00-18:00"], "thu": ["08:00-18:00"], "fri": ["08:00-18:00"],
      "sat": ["09:00-13:00"]},
    "closed": ["2026-12-25"], "grace": "30m"
  },
  "sharing": [
    {"token": "pkg-repo", "base": "01:40", "zone": "UTC", "duration": "20m",
     "buffer": "10m", "uses": ["network"],
     "tasks": [{"name": "fetch-packages", "run": ["/usr/lib/agent/fetch"]}]}
  ],
  "housekeeping": [
    {"name": "rotate-logs", "run": ["/usr/sbin/logrotate", "/etc/logrotate.conf"],
     "estimate": "2m", "timeout": "10m", "uses": ["disk"]},
    {"name": "vacuum-db", "run": ["/usr/lib/agent/vacuum"],
     "estimate": "20m", "uses": ["db"], "tags": ["retail", "!kiosk"]},
    {"name": "sync-catalogue", "run": ["/usr/lib/agent/sync"], "estimate": "6h",
     "uses": ["network"]}
  ],
  "updates": [{"name": "openssl-3.0.15", "run": ["/usr/lib/agent/apply", "openssl"],
     "estimate": "40m", "on_failure": "stop"}],
  "self_update": {"name": "agent-2.4.1", "run": ["/usr/lib/agent/selfupdate"], "estimate": "3m"}
}`

func ExampleParseProfile() {
	_, err := afterhours.ParseProfile([]byte(`{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/Londn", "grace": "13h"},
	  "sharing": [{"token": "pkg-repo", "base": "25:00", "duration": "20m"}],
	  "housekeeping": [{"name": "rotate-logs", "run": ["logrotate"], "colour": "red"}]
	}`))
	var verr *afterhours.ValidationError
	if errors.As(err, &verr) {
		for _, p := range verr.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// housekeeping[0].colour: unknown field
	// site.timezone: unknown time zone "Europe/Londn"
	// site.grace: 13h0m0s out of range: want 0 to 12h
	// sharing[0].base: invalid time "25:00": want HH:MM from 00:00 to 23:59
	// housekeeping[0].run[0]: "logrotate" is not an absolute path: commands run without a shell or a search path
}

func ExampleBuildPlan() {
	p, err := afterhours.ParseProfile([]byte(shop))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Monday 23 November 2026, noon in London: the plan is for tonight.
	// openssl would run into the pkg-repo hold at 01:30 (it declares no
	// uses, so it contends with everything): it waits until the slot ends.
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))

	plan, err := afterhours.BuildPlan(p, clk)
	if err != nil {
		fmt.Println(err)
		return
	}
	const hm = "Mon 15:04"
	fmt.Println("cycle", plan.Day, "window", plan.Window.Start.Format(hm), "to", plan.Window.End.Format(hm))
	for _, s := range plan.Slots {
		fmt.Println("slot ", s.Token, "hold", s.Buffer.Start.Format(hm), "run", s.Run.Start.Format(hm), "to", s.Run.End.Format(hm))
	}
	for _, s := range plan.Steps {
		fmt.Println("step ", s.Start.Format(hm), s.End.Format(hm), s.Task.Kind(), s.Task.Name)
	}
	for _, d := range plan.Deferred {
		fmt.Println("defer", d.Task.Name, d.Reason)
	}
	// Output:
	// cycle 2026-11-23 window Mon 18:30 to Tue 08:00
	// slot  pkg-repo hold Tue 01:30 run Tue 01:40 to Tue 02:00
	// step  Mon 18:30 Mon 18:32 housekeeping rotate-logs
	// step  Mon 18:32 Mon 18:52 housekeeping vacuum-db
	// step  Mon 18:52 Tue 00:52 housekeeping sync-catalogue
	// step  Tue 02:00 Tue 02:40 update openssl-3.0.15
	// step  Tue 02:40 Tue 02:43 self-update agent-2.4.1
}

func ExampleProfile_Occurrences() {
	p, err := afterhours.ParseProfile([]byte(`{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/London"},
	  "timers": [{"name": "inventory", "repeat": "quarter-daily",
	    "start": "2026-03-28T01:30:00Z", "run": ["/usr/lib/agent/inventory"]}]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	// 01:30, 07:30, 13:30 and 19:30 London time; on 29 March 01:30 does not
	// exist and means 02:30 BST.
	times, _ := p.Occurrences("inventory", time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC), 6)
	for _, at := range times {
		fmt.Println(at.Format("Mon 2006-01-02 15:04 MST"))
	}
	// Output:
	// Sat 2026-03-28 13:30 GMT
	// Sat 2026-03-28 19:30 GMT
	// Sun 2026-03-29 02:30 BST
	// Sun 2026-03-29 07:30 BST
	// Sun 2026-03-29 13:30 BST
	// Sun 2026-03-29 19:30 BST
}

func ExampleProfile_Crontab() {
	p, err := afterhours.ParseProfile([]byte(`{
	  "client": "shop-0042",
	  "site": {"timezone": "Europe/London"},
	  "timers": [{"name": "inventory", "repeat": "quarter-hourly",
	    "start": "2026-11-01T00:05:00Z", "run": ["/usr/lib/agent/inventory", "--quick"]}],
	  "housekeeping": [{"name": "vacuum-db", "schedule": "0 3 * * 7", "run": ["/usr/lib/agent/vacuum"]},
	    {"name": "later", "repeat": "daily", "start": "2027-01-01T03:00:00Z", "run": ["/usr/lib/agent/later"]}]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, task := range []string{"inventory", "vacuum-db", "later"} {
		line, err := p.Crontab(task, now)
		if errors.Is(err, afterhours.ErrInexpressible) {
			fmt.Println(task, "cannot be a crontab line yet:", err)
			continue
		}
		cal, _ := p.OnCalendar(task, now)
		fmt.Printf("%s\n  crontab:    %s\n  OnCalendar= %s\n", task, line, cal[0])
	}
	// Output:
	// inventory
	//   crontab:    5,20,35,50 * * * * /usr/lib/agent/inventory --quick
	//   OnCalendar= *-*-* *:05,20,35,50:00 UTC
	// vacuum-db
	//   crontab:    0 3 * * 0 /usr/lib/agent/vacuum
	//   OnCalendar= Sun *-*-* 03:00:00 Europe/London
	// later cannot be a crontab line yet: afterhours: recurrence cannot be expressed exactly: task "later" starts at 2027-01-01T03:00:00Z, and the target cannot wait for an absolute start
}
