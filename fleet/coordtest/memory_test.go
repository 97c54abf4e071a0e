package coordtest_test

import (
	"testing"

	"github.com/afterhours-go/afterhours/fleet"
	"github.com/afterhours-go/afterhours/fleet/coordtest"
)

// TestMemoryCoordinator runs the conformance tests on a MemoryCoordinator
// shared by every controller.
func TestMemoryCoordinator(t *testing.T) {
	coordtest.Run(t, coordtest.Suite{
		New: func(t *testing.T, n int) []fleet.Coordinator {
			m := fleet.NewMemoryCoordinator()
			cs := make([]fleet.Coordinator, n)
			for i := range cs {
				cs[i] = m
			}
			return cs
		},
	})
}

// TestMemoryRollouts runs three Rollouts on one MemoryCoordinator.
func TestMemoryRollouts(t *testing.T) {
	coordtest.RunRollouts(t, coordtest.Suite{
		New: func(t *testing.T, n int) []fleet.Coordinator {
			m := fleet.NewMemoryCoordinator()
			cs := make([]fleet.Coordinator, n)
			for i := range cs {
				cs[i] = m
			}
			return cs
		},
	})
}
