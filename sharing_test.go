package afterhours

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A slot of the previous cycle that runs into this cycle's window: its
// tasks are not this plan's, but contending steps wait for its end (rule 4),
// and the plan lists it among its neighbours to say why.
func TestNeighbourHolds(t *testing.T) {
	p, err := ParseProfile([]byte(`{"client": "c",
	  "site": {"timezone": "Europe/London", "grace": "30m",
	    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"]}},
	  "sharing": [{"token": "lan", "base": "18:00", "zone": "site", "duration": "1h", "uses": ["lan"],
	    "tasks": [{"name": "sync", "run": ["/x"]}]}],
	  "housekeeping": [{"name": "vacuum", "run": ["/x"], "estimate": "10m", "uses": ["db"]},
	    {"name": "rotate", "run": ["/x"], "estimate": "10m"}]}`))
	require.NoError(t, err)
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC) // Tuesday
	plan, err := PlanAt(p, now)
	require.NoError(t, err)
	// Tuesday's 18:00 slot starts in Monday's span (it ends at 18:30).
	require.Len(t, plan.Neighbours, 1)
	require.Equal(t, time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC), plan.Neighbours[0].Run.Start.UTC())
	require.Empty(t, plan.Neighbours[0].Tasks)
	// vacuum does not contend with the token's uses and starts at once;
	// rotate declares no uses, so contends, and waits for the slot's end.
	require.Equal(t, []string{"vacuum 18:30-18:40", "rotate 19:00-19:10"}, summary(plan)[:2])
	checkPlan(t, p, now, nil, plan)
	require.Contains(t, plan.String(), "hold of a neighbouring cycle's slot")
}
