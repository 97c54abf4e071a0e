package fleet_test

import (
	"path/filepath"
	"testing"

	"github.com/afterhours-go/afterhours/fleet"
	"github.com/afterhours-go/afterhours/fleet/coordtest"
)

// fileSuite is the conformance suite of the coordinator behind
// WithStatusFile: one controller.
func fileSuite() coordtest.Suite {
	return coordtest.Suite{
		Controllers: 1,
		New: func(t *testing.T, n int) []fleet.Coordinator {
			c, closeLog, err := fleet.NewFileCoordinatorForTest(filepath.Join(t.TempDir(), "status.json"+fleet.ClaimsSuffix))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := closeLog(); err != nil {
					t.Error(err)
				}
			})
			return []fleet.Coordinator{c}
		},
	}
}

func TestFileCoordinator(t *testing.T) { coordtest.Run(t, fileSuite()) }

func TestFileCoordinatorRollouts(t *testing.T) { coordtest.RunRollouts(t, fileSuite()) }
