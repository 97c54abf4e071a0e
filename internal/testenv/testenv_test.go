package testenv

import (
	"testing"
)

type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Skip(...any)           { r.skipped = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }

func TestRequire(t *testing.T) {
	for _, ci := range []string{"", "1"} {
		t.Setenv("AFTERHOURS_CI", ci)
		r := &recorder{TB: t}
		Require(r, true, "present")
		if r.skipped || r.failed {
			t.Fatalf("CI=%q: a present requirement skipped or failed", ci)
		}
		r = &recorder{TB: t}
		Require(r, false, "absent")
		if ci == "1" && (!r.failed || r.skipped) {
			t.Fatalf("CI=1: an absent requirement must fail, got skipped=%v failed=%v", r.skipped, r.failed)
		}
		if ci == "" && (!r.skipped || r.failed) {
			t.Fatalf("plain run: an absent requirement must skip, got skipped=%v failed=%v", r.skipped, r.failed)
		}
	}
}
