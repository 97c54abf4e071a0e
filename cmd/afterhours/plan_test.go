package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
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

// TestPlanSVG: -svg draws the same plan -json prints: one step bar per
// step, with its task and instants, and -json with -svg is a usage error.
func TestPlanSVG(t *testing.T) {
	r := runArgs("plan", exampleProfile, "-at", "2026-11-24T21:00", "-svg")
	r.check(t, exitOK, []string{"<svg"}, nil)
	j := runArgs("plan", exampleProfile, "-at", "2026-11-24T21:00", "-json")
	var p struct {
		Steps []struct{ Task, Start, End string }
	}
	if err := json.Unmarshal([]byte(j.stdout), &p); err != nil {
		t.Fatal(err)
	}
	bars := svgSteps(t, r.stdout)
	if len(bars) != len(p.Steps) {
		t.Fatalf("%d step bars, %d steps", len(bars), len(p.Steps))
	}
	byTask := map[string]bar{} // bars come lane by lane, steps in plan order
	for _, b := range bars {
		byTask[b.task] = b
	}
	for _, s := range p.Steps {
		b, ok := byTask[s.Task]
		if !ok || !b.start.Equal(parseTime(t, s.Start)) || !b.end.Equal(parseTime(t, s.End)) {
			t.Errorf("step %+v: bar %+v (found %v)", s, b, ok)
		}
	}
	u := runArgs("plan", exampleProfile, "-json", "-svg")
	if u.code != exitUsage || !strings.Contains(u.stderr, "-json and -svg exclude each other") {
		t.Errorf("-json -svg: exit %d, stderr %q", u.code, u.stderr)
	}
}

type bar struct {
	task       string
	start, end time.Time
}

// svgSteps reads the step bars of an SVG drawing, in document order.
func svgSteps(t *testing.T, svg string) []bar {
	t.Helper()
	var bars []bar
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return bars
		}
		if err != nil {
			t.Fatalf("SVG: %v", err)
		}
		el, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := map[string]string{}
		for _, a := range el.Attr {
			attr[a.Name.Local] = a.Value
		}
		if attr["class"] == "step" {
			bars = append(bars, bar{attr["data-task"], parseTime(t, attr["data-start"]), parseTime(t, attr["data-end"])})
		}
	}
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
