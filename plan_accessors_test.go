package afterhours

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Lanes gives each step the first lane free at its start, in order of
// start, whatever the order of Steps.
func TestPlanLanes(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 24, h, m, 0, 0, time.UTC) }
	p := &Plan{Steps: []Step{
		{Interval: Interval{Start: at(19, 0), End: at(19, 30)}},
		{Interval: Interval{Start: at(18, 30), End: at(19, 10)}},
		{Interval: Interval{Start: at(19, 10), End: at(19, 20)}},
		{Interval: Interval{Start: at(19, 30), End: at(19, 40)}},
	}}
	require.Equal(t, []int{1, 0, 0, 0}, p.Lanes())
	require.Empty(t, (&Plan{}).Lanes())
}

// MatchesSite is what validation found of a task's tags against the site's.
func TestTaskMatchesSite(t *testing.T) {
	p, err := ParseProfile([]byte(`{"client": "c", "site": {"timezone": "UTC", "tags": ["uk", "retail"]},
	  "housekeeping": [{"name": "a", "run": ["/bin/true"], "tags": ["retail", "!kiosk"]}, {"name": "b", "run": ["/bin/true"], "tags": ["!uk"]}, {"name": "c", "run": ["/bin/true"]}]}`))
	require.NoError(t, err)
	require.True(t, p.Task("a").MatchesSite())
	require.False(t, p.Task("b").MatchesSite())
	require.True(t, p.Task("c").MatchesSite())
	require.False(t, (&Task{Name: "x"}).MatchesSite(), "not validated")
}
