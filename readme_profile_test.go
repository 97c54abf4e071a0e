package afterhours_test

import (
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
)

// TestReadmeProfile is the README's sample of a test of one's own profile,
// word for word (TestReadmeSample checks it): a year of the example
// profile's nights on a fake clock: no step outside its window, and no
// task deferred for want of room or for business hours.
func TestReadmeProfile(t *testing.T) {
	p, err := afterhours.LoadProfile("examples/plan/example.profile.json")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewMock() // github.com/benbjohnson/clock; any afterhours.Clock will do
	clk.Set(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	plans, err := afterhours.Forecast(p, clk, 365)
	if err != nil {
		t.Fatal(err)
	}
	for _, plan := range plans {
		for _, s := range plan.Steps {
			if s.Start.Before(plan.Window.Start) || s.End.After(plan.Window.End) {
				t.Errorf("%s: %s runs outside the window", plan.Day, s.Task.Name)
			}
		}
		for _, d := range plan.Deferred {
			switch d.Reason {
			case afterhours.ReasonWindowFull, afterhours.ReasonBusinessHours:
				t.Errorf("%s: %s does not fit: %s (%s)", plan.Day, d.Task.Name, d.Reason, d.Detail)
			}
		}
	}
}
