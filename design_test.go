package afterhours

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The profile of the design (../shared/DESIGN.md, section "Profile"),
// verbatim: every section of it is understood, and it plans.
func TestDesignProfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "design", "profile.json"))
	require.NoError(t, err)
	p, err := ParseProfile(data)
	require.NoError(t, err)
	require.Len(t, p.Timers, 1)
	require.Len(t, p.Resources, 1)
	require.NotNil(t, p.Constraints)
	// Monday 23 November 2026: the db downtime of the 24th (01:00-03:00,
	// postpone) touches the night's window.
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	plan, err := PlanAt(p, now)
	require.NoError(t, err)
	require.Len(t, plan.Downtimes, 1)
	require.Equal(t, ActionPostpone, plan.Downtimes[0].Action)
	require.NotEmpty(t, plan.Timers)
	checkPlan(t, p, now, nil, plan)
}
