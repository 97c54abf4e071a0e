package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/afterhours-go/afterhours/fleet"
	"github.com/benbjohnson/clock"
)

// A patch run of three machines, one at a time: drain (critical), then
// patch. One patch fails, within an error budget of 1. A mock clock that
// the actions move makes every time in the report exact.
func ExampleRollout() {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC))
	phases := []fleet.Phase{
		{Name: "drain", Critical: true, Run: func(context.Context, fleet.Target) error {
			clk.Add(time.Minute)
			return nil
		}},
		{Name: "patch", Retries: 1, Run: func(_ context.Context, t fleet.Target) error {
			clk.Add(4 * time.Minute)
			if t.ID == "web-2" {
				return errors.New("apt-get: exit status 100")
			}
			return nil
		}},
	}
	targets := []fleet.Target{
		{ID: "web-1", Group: "web"}, {ID: "web-2", Group: "web"}, {ID: "db-1", Group: "db"},
	}
	r, err := fleet.NewRollout(targets, phases, fleet.WithClock(clk), fleet.WithErrorBudget(fleet.Count(1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := r.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	rep := r.Report()
	for _, rec := range rep.Targets {
		fmt.Printf("%-5s %-9s %s x%d %s-%s", rec.ID, rec.Outcome, rec.Phase, rec.Attempts,
			rec.Start.Format("15:04"), rec.End.Format("15:04"))
		if rec.Error != "" {
			fmt.Print(" ", rec.Error)
		}
		fmt.Println()
	}
	st := rep.Stats
	fmt.Printf("%s: %d succeeded, %d failed; success rate %.0f%%; p50 %v, max %v\n",
		rep.Status.State, st.Counts.Succeeded, st.Counts.Failed, 100*st.SuccessRate, st.Durations.P50, st.Durations.Max)
	// Output:
	// web-1 succeeded patch x1 01:00-01:05
	// web-2 failed    patch x2 01:05-01:14 apt-get: exit status 100
	// db-1  succeeded patch x1 01:14-01:19
	// completed: 2 succeeded, 1 failed; success rate 67%; p50 5m0s, max 9m0s
}

// The error budget: with a budget of 0, the first failure stops new starts.
func ExampleWithErrorBudget() {
	ran := 0
	fail := []fleet.Phase{{Name: "patch", Run: func(context.Context, fleet.Target) error {
		ran++
		return errors.New("broken")
	}}}
	targets := []fleet.Target{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	r, _ := fleet.NewRollout(targets, fail, fleet.WithErrorBudget(fleet.Count(0)))
	err := r.Run(context.Background())
	fmt.Println(errors.Is(err, fleet.ErrBudgetExhausted), ran, r.Status().Counts.Pending)
	// Output: true 1 2
}

// Selectors choose targets by site tags, as a task's tags do in a profile.
func ExampleSelector() {
	sel, err := fleet.ParseSelector("uk,!kiosk")
	if err != nil {
		fmt.Println(err)
		return
	}
	targets := []fleet.Target{
		{ID: "leeds", Tags: []string{"uk", "retail"}},
		{ID: "york", Tags: []string{"uk", "kiosk"}},
		{ID: "lyon", Tags: []string{"fr", "retail"}},
	}
	for _, t := range sel.Select(targets) {
		fmt.Println(t.ID)
	}
	_, err = fleet.ParseSelector("kiosk,!kiosk")
	fmt.Println(err)
	// Output:
	// leeds
	// fleet: invalid selector: has both "kiosk" and "!kiosk": it can never match
}

// A Limit is a count or a percentage; a *Limit is a flag.Value.
func ExampleParseLimit() {
	for _, s := range []string{"100", "10%", "2.5%", "ten"} {
		l, err := fleet.ParseLimit(s)
		fmt.Println(l, l.IsPercent(), err)
	}
	// Output:
	// 100 false <nil>
	// 10% true <nil>
	// 2.5% true <nil>
	// 0 false fleet: invalid limit: "ten": want a count such as "100" or a percentage such as "10%"
}
