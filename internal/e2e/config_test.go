package e2e_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The fleet of the simulation: three sites in three zones, open every
// day 07:00-22:00 local time, so each cycle's window is 22:00-07:00 there.
// Every client has two housekeeping tasks and a package fetch in the
// pkg-repo token's slot; the Kathmandu clients also a till report due at
// 03:00 on Tuesdays and Thursdays (in the windows of the Monday and
// Wednesday cycles), which fails. The token's capacity (4 clients at
// once, 2 per LAN of 10) is about the least with which 200 clients are
// all placed (with 3, a quarter of them are not), so that the check of
// the load has a bound that binds.
var sites = []struct{ name, zone, tag string }{
	{"london", "Europe/London", "uk"},
	{"newyork", "America/New_York", "us"},
	{"kathmandu", "Asia/Kathmandu", "nepal"},
}

const (
	pkgCapacity = 4
	lanCapacity = 2
	lanSize     = 10 // clients per LAN
)

func fleetConfig() string {
	hours := `{"mon": ["07:00-22:00"], "tue": ["07:00-22:00"], "wed": ["07:00-22:00"], "thu": ["07:00-22:00"],
       "fri": ["07:00-22:00"], "sat": ["07:00-22:00"], "sun": ["07:00-22:00"]}`
	var ss []string
	for _, s := range sites {
		ss = append(ss, fmt.Sprintf(`{"name": %q, "timezone": %q, "tags": [%q], "business_hours": %s}`, s.name, s.zone, s.tag, hours))
	}
	return fmt.Sprintf(`{
  "sites": [%s],
  "sharing": [
    {"token": "pkg-repo", "zone": "UTC", "duration": "20m", "uses": ["network"],
     "capacity": %d, "lan_capacity": %d,
     "tasks": [{"name": "fetch-packages", "run": ["/bin/true"]}]}
  ],
  "sets": [
    {"name": "base", "tags": [],
     "housekeeping": [{"name": "rotate-logs", "run": ["/bin/true"], "estimate": "2m"},
       {"name": "vacuum-db", "run": ["/bin/true"], "estimate": "20m"}]},
    {"name": "nepal", "tags": ["nepal"],
     "housekeeping": [{"name": "till-report", "schedule": "0 3 * * 2,4", "run": ["/bin/false"], "estimate": "1m"}]}
  ]
}`, strings.Join(ss, ",\n    "), pkgCapacity, lanCapacity)
}

// helperArg makes the test binary a command's run: it appends "<id>
// <AFTERHOURS_RUN>" to the log file and exits 0. The commands of the
// simulation run it, so that what ran is counted outside the executors
// too.
const helperArg = "e2e-command"

func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == helperArg {
		f, err := os.OpenFile(os.Args[2], os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
		if err == nil {
			_, err = fmt.Fprintf(f, "%s %s\n", os.Args[3], os.Getenv("AFTERHOURS_RUN"))
			err = errorsJoin(err, f.Close())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	// Every agent, link and server stops with its test: nothing is left.
	goleak.VerifyTestMain(m)
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// The simulated week: from Monday 30 November 2026, 12:00 UTC (no zone
// changes its offset that week), for 7 days; the server is stopped on day
// 3 and started again 20 minutes later.
var (
	simStart    = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	simEnd      = simStart.Add(7 * 24 * time.Hour)
	restartAt   = simStart.Add(2*24*time.Hour + 2*time.Hour) // Wednesday 14:00 UTC
	restartDown = 20 * time.Minute
)
