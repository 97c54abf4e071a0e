package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Profiles the tests run on.
const (
	exampleProfile  = "../../examples/plan/example.profile.json"
	reportProfile   = "../../testdata/report/shop.profile.json"
	springProfile   = "../../testdata/london-spring-gap.profile.json"
	exportProfile   = "testdata/export.profile.json"
	invalidProfile  = "testdata/invalid.profile.json"
	missingProfile  = "testdata/no-such.profile.json"
	testNowRFC3339  = "2026-11-24T12:00:00Z"
	goldenDirectory = "testdata"
)

// testNow stands for the current time where a test gives no -at.
var testNow = mustTime(testNowRFC3339)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// result is what one run of the command gave.
type result struct {
	code           int
	stdout, stderr string
}

func runArgs(args ...string) result {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut, testNow)
	return result{code, out.String(), errOut.String()}
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDirectory, name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// check asserts the exit status and that each of the wanted strings is in
// stdout (out) and stderr (errs).
func (r result) check(t *testing.T, code int, out, errs []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range out {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range errs {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

func TestRunDispatch(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		code      int
		out, errs []string
	}{
		{"no command", nil, exitUsage, nil, []string{"usage: afterhours COMMAND"}},
		{"unknown command", []string{"frobnicate"}, exitUsage, nil, []string{`unknown command "frobnicate"`, "usage: afterhours COMMAND", "validate"}},
		{"-h", []string{"-h"}, exitOK, []string{"usage: afterhours COMMAND", "forecast", "affected"}, nil},
		{"help", []string{"help"}, exitOK, []string{"usage: afterhours COMMAND", "export"}, nil},
		{"help plan", []string{"help", "plan"}, exitOK, []string{"usage: afterhours plan FILE [-at TIME] [-json|-svg]", "-at TIME"}, nil},
		{"help unknown", []string{"help", "frobnicate"}, exitUsage, nil, []string{`unknown command "frobnicate"`}},
		{"help -h", []string{"help", "-h"}, exitOK, []string{"usage: afterhours COMMAND"}, nil},
		{"help help", []string{"help", "help"}, exitOK, []string{"usage: afterhours COMMAND"}, nil},
		{"help two", []string{"help", "plan", "export"}, exitUsage, nil, []string{"usage: afterhours help"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runArgs(c.args...).check(t, c.code, c.out, c.errs)
		})
	}
}

// TestHelpFlag: every command prints its usage on stdout for -h and exits
// 0, and its usage on stderr for a bad flag and exits 2.
func TestHelpFlag(t *testing.T) {
	for _, c := range commands {
		if c.name == "help" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			want := "usage: afterhours " + c.usage
			r := runArgs(c.name, "-h")
			r.check(t, exitOK, []string{want}, nil)
			if r.stderr != "" {
				t.Errorf("stderr for -h: %q", r.stderr)
			}
			runArgs(c.name, "-no-such-flag", exampleProfile).check(t, exitUsage, nil, []string{"flag provided but not defined", want})
			missing := "want 1 argument(s), got 0"
			switch c.name {
			case "serve":
				missing = "-data is required"
			case "explain":
				missing = "want 2 argument(s), got 0"
			case "schema":
				return // it takes no argument: schema_test.go
			}
			runArgs(c.name).check(t, exitUsage, nil, []string{missing, want})
		})
	}
}
