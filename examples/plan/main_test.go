package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tuesday is 12:00 on Tuesday 2026-11-24: business hours in Leeds, so the
// plan is for that evening's window, 18:30 GMT to Wednesday 08:00.
var tuesday = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func runPlan(t *testing.T, now time.Time, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = run(args, &out, &errs, now)
	return code, out.String(), errs.String()
}

// hasRow reports whether a line of text has exactly the fields want.
func hasRow(text string, want ...string) bool {
	for _, line := range strings.Split(text, "\n") {
		if strings.Join(strings.Fields(line), " ") == strings.Join(want, " ") {
			return true
		}
	}
	return false
}

func TestDefaultProfile(t *testing.T) {
	code, out, errs := runPlan(t, time.Time{}, "-at", tuesday.Format(time.RFC3339))
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	t.Log("\n" + out)
	for _, r := range [][]string{
		{"client", "shop-0042"},
		{"cycle", "2026-11-24"},
		{"window", "Tue 24 Nov 2026 18:30 GMT", "-", "Wed 25 Nov 2026 08:00 GMT", "(13h30m)"},
		{"pkg-repo", "Wed 01:30-01:40 GMT", "Wed 01:40-02:00 GMT", "fetch-packages"},
		{"lan-leeds", "Wed 02:55-03:10 GMT", "Wed 03:10-03:40 GMT", "sync-media"},
		// Two lanes: housekeeping in declared order, each step no earlier
		// than the one before, contending steps one after the other.
		{"Tue 18:30 GMT", "Tue 18:32 GMT", "housekeeping", "rotate-logs"},
		{"Tue 18:30 GMT", "Tue 18:50 GMT", "housekeeping", "vacuum-db"},
		{"Tue 18:32 GMT", "Tue 18:37 GMT", "housekeeping", "clean-tmp"},
		{"Tue 18:37 GMT", "Tue 19:17 GMT", "housekeeping", "backup-pos"},
		// Updates after the housekeeping barrier; the self-update last.
		{"Tue 19:17 GMT", "Tue 19:22 GMT", "update", "openssl-3.0.15"},
		{"Tue 19:22 GMT", "Tue 19:37 GMT", "update", "pos-app-7.2.0"},
		{"Tue 19:37 GMT", "Tue 19:40 GMT", "self-update", "agent-2.4.1"},
	} {
		if !hasRow(out, r...) {
			t.Errorf("no row %q", strings.Join(r, " "))
		}
	}
	// The weekly fsck runs on Sundays at 04:00: not in Tuesday's cycle.
	if !hasRow(out, "fsck-archive", "housekeeping", "not-due", "next", "due", "2026-11-29", "04:00", "GMT") {
		t.Error("want fsck-archive deferred as not due until Sunday")
	}
	// The quarter-hourly inventory timer: 96 runs in the 24 hours of the span.
	if !hasRow(out, "inventory", "96", "Tue", "18:35", "GMT", "Wed", "18:20", "GMT") {
		t.Error("want the inventory timer's 96 runs")
	}

	// Without -at it plans at the instant main read from the clock.
	code, now, _ := runPlan(t, tuesday)
	if code != 0 || now != out {
		t.Errorf("planning at now: exit %d, output differs from -at:\n%s", code, now)
	}
}

func TestJSON(t *testing.T) {
	// Christmas Day is closed: its window runs the whole day.
	code, out, errs := runPlan(t, time.Time{}, "-json", "-at", "2026-12-25T12:00:00Z")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, errs)
	}
	var plan struct {
		Client string
		Day    string
		Window struct{ Start, End string }
		Steps  []struct{ Task, Kind, Start string }
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, out)
	}
	if plan.Client != "shop-0042" || plan.Day != "2026-12-25" {
		t.Errorf("client %q day %q, want shop-0042 2026-12-25", plan.Client, plan.Day)
	}
	if plan.Window.Start != "2026-12-25T00:00:00Z" || plan.Window.End != "2026-12-26T00:00:00Z" {
		t.Errorf("window %v, want Christmas Day", plan.Window)
	}
	if len(plan.Steps) == 0 || plan.Steps[0].Task != "rotate-logs" || plan.Steps[0].Start != "2026-12-25T12:00:00Z" {
		t.Errorf("steps %v, want rotate-logs first, from 12:00", plan.Steps)
	}
}

func TestBadProfile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.profile.json")
	bad := `{"client": "shop-0043",
	  "site": {"timezone": "Mars/Olympus"},
	  "housekeeping": [{"name": "rotate-logs", "run": ["logrotate"]}]}`
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runPlan(t, tuesday, "-profile", file)
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q; want 1 and nothing", code, out)
	}
	t.Log("\n" + errs)
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], file) || !strings.Contains(lines[0], "2 problem") {
		t.Fatalf("want a heading with the file and two problems, got:\n%s", errs)
	}
	for i, path := range []string{"site.timezone: ", "housekeeping[0].run[0]: "} {
		if !strings.HasPrefix(strings.TrimSpace(lines[i+1]), path) {
			t.Errorf("problem %d = %q, want it at %s", i+1, lines[i+1], path)
		}
	}
}

func TestMissingProfile(t *testing.T) {
	code, _, errs := runPlan(t, tuesday, "-profile", filepath.Join(t.TempDir(), "none.json"))
	if code != 1 || !strings.Contains(errs, "none.json") {
		t.Errorf("exit %d, stderr %q; want 1 and the file's name", code, errs)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-at", "tonight"},
		{"-at", "2026-11-24 21:00"},
		{"-nope"},
		{"extra"},
	} {
		code, out, errs := runPlan(t, tuesday, args...)
		if code != 2 || out != "" || errs == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and a message", args, code, out, errs)
		}
	}
	if code, _, _ := runPlan(t, tuesday, "-h"); code != 0 {
		t.Errorf("-h: exit %d, want 0", code)
	}
}

func TestForecastDays(t *testing.T) {
	var out, errs bytes.Buffer
	code := run([]string{"-at", "2026-11-27T12:00:00Z", "-days", "3"}, &out, &errs, time.Time{})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.HasPrefix(lines[0], "CYCLE") || !strings.HasPrefix(lines[1], "2026-11-27") ||
		!strings.HasPrefix(lines[2], "2026-11-28") || !strings.HasPrefix(lines[3], "2026-11-29") {
		t.Fatalf("want a line a cycle from 2026-11-27, got:\n%s", strings.Join(lines[:5], "\n"))
	}
	// Sunday's cycle runs the weekly fsck.
	if !strings.Contains(lines[3], "fsck-archive") || strings.Contains(lines[1], "fsck-archive") {
		t.Errorf("fsck-archive should run in Sunday's cycle only:\n%s", strings.Join(lines[:4], "\n"))
	}
	out.Reset()
	if code := run([]string{"-at", "2026-11-27T12:00:00Z", "-days", "3", "-json"}, &out, &errs, time.Time{}); code != 0 {
		t.Fatalf("-json exit %d", code)
	}
	var plans []map[string]any
	if err := json.Unmarshal(out.Bytes(), &plans); err != nil || len(plans) != 3 {
		t.Fatalf("want a JSON array of 3 plans: %v", err)
	}
	if code := run([]string{"-days", "-1"}, &out, &errs, time.Time{}); code != 2 {
		t.Errorf("-days -1: exit %d, want 2", code)
	}
}

func TestDowntimesReport(t *testing.T) {
	var out, errs bytes.Buffer
	code := run([]string{"-at", "2026-11-24T12:00:00Z", "-downtimes", "-days", "7"}, &out, &errs, time.Time{})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\r\n")
	if !strings.HasPrefix(lines[0], "resource,down_start,down_end,action") {
		t.Fatalf("want a CSV header, got %q", lines[0])
	}
	// Sunday 29 November, 02:00-04:00: db is down (postpone); vacuum-db and
	// pos-app use it.
	found := false
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "db,2026-11-29T02:00:00Z,2026-11-29T04:00:00Z,postpone,false,vacuum-db,") {
			found = true
		}
	}
	if !found {
		t.Errorf("no row for vacuum-db against Sunday's db downtime:\n%s", out.String())
	}
}

// TestSVG draws tonight's plan: the SVG parses, names the client, and has a
// bar for each step of the JSON form, at the same instants.
func TestSVG(t *testing.T) {
	code, out, errs := runPlan(t, tuesday, "-svg")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	type node struct {
		XMLName xml.Name
		Attrs   []xml.Attr `xml:",any,attr"`
		Nodes   []node     `xml:",any"`
	}
	attr := func(n node, name string) string {
		for _, a := range n.Attrs {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	var root node
	if err := xml.Unmarshal([]byte(out), &root); err != nil {
		t.Fatalf("the SVG does not parse: %v", err)
	}
	if root.XMLName.Local != "svg" || attr(root, "data-client") != "shop-0042" || attr(root, "data-day") != "2026-11-24" {
		t.Fatalf("root <%s data-client=%q data-day=%q>, want the svg of shop-0042's 2026-11-24", root.XMLName.Local, attr(root, "data-client"), attr(root, "data-day"))
	}
	var bars []string
	var walk func(n node)
	walk = func(n node) {
		if attr(n, "class") == "step" {
			bars = append(bars, attr(n, "data-task")+" "+attr(n, "data-start")+" "+attr(n, "data-end"))
		}
		for _, c := range n.Nodes {
			walk(c)
		}
	}
	walk(root)

	code, js, errs := runPlan(t, tuesday, "-json")
	if code != 0 {
		t.Fatalf("-json: exit %d, stderr %q", code, errs)
	}
	var plan struct {
		Steps []struct{ Task, Start, End string }
	}
	if err := json.Unmarshal([]byte(js), &plan); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range plan.Steps {
		start, _ := time.Parse(time.RFC3339, s.Start)
		end, _ := time.Parse(time.RFC3339, s.End)
		want = append(want, s.Task+" "+start.UTC().Format(time.RFC3339)+" "+end.UTC().Format(time.RFC3339))
	}
	slices.Sort(bars)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(bars, want) {
		t.Fatalf("step bars\n%q\nwant the plan's steps\n%q", bars, want)
	}
}

func TestSVGAlone(t *testing.T) {
	for _, args := range [][]string{{"-svg", "-json"}, {"-svg", "-days", "3"}, {"-svg", "-downtimes"}} {
		code, out, errs := runPlan(t, tuesday, args...)
		if code != 2 || out != "" || !strings.Contains(errs, "-svg") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and a message about -svg", args, code, out, errs)
		}
	}
}
