package main

import (
	"encoding/json"
	"testing"
)

func TestPlan(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		golden string
	}{
		// Site-local and RFC 3339 forms of the same instant give the same plan.
		{"example local", []string{exampleProfile, "-at", "2026-11-24T21:00"}, "example.plan.golden"},
		{"example RFC 3339", []string{"-at", "2026-11-24T21:00:00Z", exampleProfile}, "example.plan.golden"},
		{"example offset", []string{exampleProfile, "-at", "2026-11-24T22:00:00+01:00"}, "example.plan.golden"},
		{"spring gap", []string{springProfile, "-at", "2026-03-29T00:30"}, "spring.plan.golden"},
		{"default now", []string{reportProfile}, "report-now.plan.golden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runArgs(append([]string{"plan"}, c.args...)...)
			r.check(t, exitOK, []string{"client  shop-0042"}, nil)
			golden(t, c.golden, r.stdout)
		})
	}
}

func TestPlanJSON(t *testing.T) {
	r := runArgs("plan", exampleProfile, "-at", "2026-11-24T21:00", "-json")
	r.check(t, exitOK, nil, nil)
	var p struct {
		Client, Day, From string
		Steps             []struct{ Task, Start, End string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	if p.Client != "shop-0042" || p.Day != "2026-11-24" || p.From != "2026-11-24T21:00:00Z" || len(p.Steps) == 0 {
		t.Errorf("plan %+v", p)
	}
	golden(t, "example.plan.json.golden", r.stdout)
}

// TestPlanAtDST: a site-local -at in a DST gap moves forward by the gap, one
// in an overlap means the first occurrence; stderr says how it was read.
func TestPlanAtDST(t *testing.T) {
	cases := []struct {
		at, from, note string
	}{
		{"2026-03-29T01:30", "2026-03-29T02:30:00+01:00", "does not exist in Europe/London (a DST gap skips it): read as 2026-03-29T02:30:00 BST"},
		{"2026-10-25T01:30", "2026-10-25T01:30:00+01:00", "occurs twice in Europe/London (a DST overlap): read as the first, 2026-10-25T01:30:00 BST"},
		{"2026-10-25T01:30:00Z", "2026-10-25T01:30:00Z", ""}, // RFC 3339: the second, GMT, as given
		{"2026-10-25T03:30", "2026-10-25T03:30:00Z", ""},
	}
	for _, c := range cases {
		t.Run(c.at, func(t *testing.T) {
			r := runArgs("plan", exampleProfile, "-at", c.at, "-json")
			r.check(t, exitOK, nil, nil)
			var p struct{ From string }
			if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
				t.Fatal(err)
			}
			if p.From != c.from {
				t.Errorf("from %s, want %s", p.From, c.from)
			}
			switch {
			case c.note == "" && r.stderr != "":
				t.Errorf("stderr %q, want none", r.stderr)
			case c.note != "":
				r.check(t, exitOK, nil, []string{"-at " + c.at + ": " + c.at + ":00 " + c.note})
			}
		})
	}
}

func TestPlanBadAt(t *testing.T) {
	for _, at := range []string{"tonight", "2026-11-24 21:00", "2026-13-01T21:00", "21:00"} {
		runArgs("plan", exampleProfile, "-at", at).check(t, exitUsage, nil, []string{"want RFC 3339", "usage: afterhours plan"})
	}
	runArgs("plan", missingProfile).check(t, exitFailed, nil, []string{"no-such.profile.json"})
	// Planning's own errors exit 1.
	runArgs("plan", exampleProfile, "-at", "2300-01-01T00:00:00Z").check(t, exitFailed, nil, []string{"out of range"})
}
