package main

import (
	"reflect"
	"testing"

	"github.com/afterhours-go/afterhours"
)

func TestValidate(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		code      int
		out, errs []string
	}{
		{"example", []string{exampleProfile}, exitOK, []string{exampleProfile + ": ok (client shop-0042)\n"}, nil},
		{"report", []string{reportProfile}, exitOK, []string{": ok (client shop-0042)"}, nil},
		{"missing file", []string{missingProfile}, exitFailed, nil, []string{"no-such.profile.json"}},
		{"two files", []string{exampleProfile, reportProfile}, exitUsage, nil, []string{"want 1 argument(s), got 2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runArgs(append([]string{"validate"}, c.args...)...)
			r.check(t, c.code, c.out, c.errs)
			if c.code == exitOK && r.stdout != c.args[0]+": ok (client shop-0042)\n" {
				t.Errorf("want one line, got %q", r.stdout)
			}
		})
	}
}

// TestValidateProblems: every problem with its path, sorted, on stdout,
// exit 1.
func TestValidateProblems(t *testing.T) {
	r := runArgs("validate", invalidProfile)
	r.check(t, exitFailed, []string{"9 problem(s)", "site.timezone: unknown time zone"}, nil)
	golden(t, "invalid.validate.golden", r.stdout)
}

func TestSortedProblems(t *testing.T) {
	in := []afterhours.Problem{
		{Path: "site.timezone", Message: "b"},
		{Path: "client", Message: "required"},
		{Path: "site.timezone", Message: "a"},
		{Path: "client", Message: "required"},
		{Path: "", Message: "invalid JSON"},
	}
	want := []afterhours.Problem{
		{Path: "", Message: "invalid JSON"},
		{Path: "client", Message: "required"},
		{Path: "site.timezone", Message: "a"},
		{Path: "site.timezone", Message: "b"},
	}
	if got := sortedProblems(in); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if in[0].Path != "site.timezone" {
		t.Error("sortedProblems changed its input")
	}
}

// TestInvalidProfileElsewhere: the other commands report an invalid
// profile's problems on stderr, sorted, and exit 1.
func TestInvalidProfileElsewhere(t *testing.T) {
	for _, args := range [][]string{
		{"plan", invalidProfile},
		{"forecast", invalidProfile, "-days", "2"},
		{"export", invalidProfile, "-crontab"},
		{"affected", invalidProfile, "-resource", "db", "-days", "2"},
	} {
		r := runArgs(args...)
		r.check(t, exitFailed, nil, []string{"invalid profile, 9 problem(s)", "\tclient: required", "\tsite.timezone: unknown time zone"})
		if r.stdout != "" {
			t.Errorf("%v: stdout %q", args, r.stdout)
		}
	}
}
