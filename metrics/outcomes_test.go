package metrics

import (
	"strings"
	"testing"

	"github.com/afterhours-go/afterhours/fleet"
	"github.com/stretchr/testify/require"
)

// TestRolloutOutcomesComplete fails when fleet gains an outcome that the
// rollout collector has no series of.
func TestRolloutOutcomesComplete(t *testing.T) {
	for o := fleet.Outcome(0); !strings.HasPrefix(o.String(), "Outcome("); o++ {
		require.Contains(t, outcomes, o, "outcome %s has no series", o)
	}
}
