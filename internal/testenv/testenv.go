// Package testenv lets a test that needs something the machine may lack (a
// writable cgroup v2 hierarchy, a binary, a service) skip with a message in
// a plain `go test`, and fail instead under `.ci/run`, which sets
// AFTERHOURS_CI=1: CI never passes by skipping.
package testenv

import (
	"os"
	"testing"
)

// CI reports whether the tests run under the project's CI (AFTERHOURS_CI=1).
func CI() bool { return os.Getenv("AFTERHOURS_CI") == "1" }

// Require skips t with the message why when ok is false, or fails it when
// running under CI.
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	if ok {
		return
	}
	if CI() {
		t.Fatalf("required under AFTERHOURS_CI=1: %s", why)
		return
	}
	t.Skip(why)
}
