package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/afterhours-go/afterhours/internal/testenv"
)

// goTool returns the go command that runs the tests, or "" when there is
// none.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	p, _ := exec.LookPath("go")
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestEndToEnd builds the binary as `go install` would and runs it as a user
// does: a valid profile, an invalid one, a plan at a site-local time and an
// unknown command, checking the exit status and the output of each.
func TestEndToEnd(t *testing.T) {
	gotool := goTool()
	testenv.Require(t, gotool != "", "the go command is needed to build the binary")
	bin := filepath.Join(t.TempDir(), "afterhours")
	build := exec.Command(gotool, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cases := []struct {
		args      []string
		code      int
		out, errs string
	}{
		{[]string{"validate", exampleProfile}, 0, exampleProfile + ": ok (client shop-0042)\n", ""},
		{[]string{"validate", invalidProfile}, 1, "site.timezone: unknown time zone \"Europe/Lundon\"\n", ""},
		{[]string{"plan", exampleProfile, "-at", "2026-03-29T01:30", "-json"}, 0, `"from": "2026-03-29T02:30:00+01:00"`, "DST gap"},
		{[]string{"export", exportProfile, "-crontab", "-at", "2026-11-24T21:00"}, 3, "AFTERHOURS_TASK=vacuum-db", `"migrate-once" not exported`},
		{[]string{"frobnicate"}, 2, "", "usage: afterhours COMMAND"},
	}
	for _, c := range cases {
		cmd := exec.Command(bin, c.args...)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatalf("%v: %v", c.args, err)
		}
		if code != c.code || !strings.Contains(out.String(), c.out) || !strings.Contains(errOut.String(), c.errs) {
			t.Errorf("%v: exit %d (want %d)\nstdout (want %q):\n%s\nstderr (want %q):\n%s", c.args, code, c.code, c.out, out.String(), c.errs, errOut.String())
		}
	}
}
