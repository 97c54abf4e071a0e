package afterhours_test

import (
	"fmt"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
)

// Testing your own profile with a fake clock: put the clock on the instants
// you care about (a DST change, a holiday, a downtime) and check the plans.
// Here, a year of nights of the example profile, each checked for work in
// business hours and for deferrals other than "not-due".
func Example_fakeClock() {
	p, err := afterhours.LoadProfile("examples/plan/example.profile.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	clk := clock.NewMock() // github.com/benbjohnson/clock; any afterhours.Clock will do
	clk.Set(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	plans, err := afterhours.Forecast(p, clk, 365)
	if err != nil {
		fmt.Println(err)
		return
	}
	reasons := map[string]int{}
	for _, plan := range plans {
		for _, s := range plan.Steps {
			if s.Start.Before(plan.Window.Start) || s.End.After(plan.Window.End) {
				fmt.Println(plan.Day, s.Task.Name, "runs outside the window")
			}
		}
		for _, d := range plan.Deferred {
			if d.Reason != afterhours.ReasonNotDue {
				reasons[d.Task.Name+" "+d.Reason]++
			}
		}
	}
	fmt.Println(len(plans), "cycles from", plans[0].Day, "to", plans[len(plans)-1].Day)
	fmt.Println(reasons)
	// Output:
	// 365 cycles from 2026-11-23 to 2027-11-22
	// map[agent-2.4.1 done:364 backup-pos downtime:network:1 fetch-packages downtime:network:1 fetch-packages no-slot:52 openssl-3.0.15 done:364 pos-app-7.2.0 done:364 sync-media downtime:network:1 sync-media no-slot:52]
}
