package afterhours

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when any goroutine is left behind
// after them: every Run waits for its runs, checks and notices.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
