package afterhours

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// renderProfile has a 12-hour window on weekdays (20:00 to 08:00 in
// Europe/London), so its timeline is 72 columns of 10 minutes: column c
// starts at 20:00 + 10c minutes.
const renderProfile = `{
  "client": "render-1",
  "site": {"timezone": "Europe/London", "tags": ["uk"],
    "business_hours": {"mon": ["08:00-20:00"], "tue": ["08:00-20:00"], "wed": ["08:00-20:00"],
      "thu": ["08:00-20:00"], "fri": ["08:00-20:00"]}},
  "sharing": [
    {"token": "pkg-repo", "base": "01:00", "zone": "UTC", "duration": "30m", "buffer": "20m",
     "uses": ["network"], "tasks": [{"name": "fetch", "run": ["/bin/fetch"]}]},
    {"token": "early", "base": "07:50", "zone": "site", "duration": "30m", "buffer": "10m",
     "uses": ["lan"], "tasks": [{"name": "sync", "run": ["/bin/sync"]}]},
    {"token": "midday", "base": "12:00", "zone": "site", "duration": "30m", "anytime": true,
     "uses": ["lan"], "tasks": [{"name": "report", "run": ["/bin/report"]}]}
  ],
  "housekeeping": [
    {"name": "rotate", "run": ["/bin/rotate"], "estimate": "30m", "uses": ["disk"]},
    {"name": "backup", "run": ["/bin/backup"], "estimate": "5h30m", "uses": ["network"]},
    {"name": "off", "run": ["/bin/off"], "enabled": false},
    {"name": "kiosk-only", "run": ["/bin/k"], "tags": ["kiosk"]}
  ],
  "self_update": {"name": "agent", "run": ["/bin/agent"], "estimate": "5m"}
}`

func renderPlan(t *testing.T, at string) *Plan {
	t.Helper()
	p, err := ParseProfile([]byte(renderProfile))
	if err != nil {
		t.Fatal(err)
	}
	now, err := time.Parse(time.RFC3339, at)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanAt(p, now)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// renderHasRow reports whether a line of text has exactly the fields want,
// whatever the padding.
func renderHasRow(text string, want ...string) bool {
	for _, line := range strings.Split(text, "\n") {
		if strings.Join(strings.Fields(line), " ") == strings.Join(want, " ") {
			return true
		}
	}
	return false
}

func TestWriteTextTables(t *testing.T) {
	plan := renderPlan(t, "2026-06-16T12:00:00Z") // a Tuesday, in BST
	text := plan.String()
	t.Log("\n" + text)

	rows := [][]string{
		{"client", "render-1"},
		{"cycle", "2026-06-16"},
		{"window", "Tue 16 Jun 2026 20:00 BST", "-", "Wed 17 Jun 2026 08:00 BST", "(12h)"},
		{"from", "Tue 16 Jun 2026 20:00 BST"},
		// Slots, in site time although pkg-repo's base is in UTC.
		{"TOKEN", "BUFFER", "RUN", "TASKS"},
		{"pkg-repo", "Wed 01:40-02:00 BST", "Wed 02:00-02:30 BST", "fetch"},
		{"early", "Wed 07:40-07:50 BST", "Wed 07:50-08:20 BST", "-", "void"},
		{"midday", "-", "Wed 12:00-12:30 BST", "report"},
		// Steps: backup waits for the end of pkg-repo's hold.
		{"START", "END", "KIND", "TASK"},
		{"Tue 20:00 BST", "Tue 20:30 BST", "housekeeping", "rotate"},
		{"Wed 02:30 BST", "Wed 08:00 BST", "housekeeping", "backup"},
		{"TASK", "KIND", "REASON", "DETAIL"},
	}
	for _, r := range rows {
		if !renderHasRow(text, r...) {
			t.Errorf("no row %q", strings.Join(r, " "))
		}
	}
	for _, d := range []struct{ task, kind, reason string }{
		{"sync", "shared", ReasonBusinessHours},
		{"off", "housekeeping", ReasonDisabled},
		{"kiosk-only", "housekeeping", ReasonTagMismatch},
		{"agent", "self-update", ReasonWindowFull},
	} {
		found := false
		for _, line := range strings.Split(text, "\n") {
			f := strings.Fields(line)
			if len(f) > 3 && f[0] == d.task && f[1] == d.kind && f[2] == d.reason {
				found = true
			}
		}
		if !found {
			t.Errorf("no deferral row %s %s %s", d.task, d.kind, d.reason)
		}
	}
	for i, line := range strings.Split(text, "\n") {
		if strings.TrimRight(line, " ") != line {
			t.Errorf("line %d has trailing blanks: %q", i+1, line)
		}
	}
	if again := plan.String(); again != text {
		t.Error("String is not deterministic")
	}
}

// renderTimelineRows returns the cells of each timeline row by label (rows of the
// same label joined by "/"), and the two axis lines, cut at the first column.
func renderTimelineRows(t *testing.T, text string) (rows map[string]string, labels, ticks string) {
	t.Helper()
	_, tl, ok := strings.Cut(text, "\ntimeline, ")
	if !ok {
		t.Fatalf("no timeline in\n%s", text)
	}
	lines := strings.Split(strings.TrimRight(tl, "\n"), "\n")[1:]
	if len(lines) < 3 {
		t.Fatalf("timeline too short:\n%s", tl)
	}
	// The first row's cells start where the tick line's first tick may be;
	// find the column from the first row itself.
	f := strings.Fields(lines[2])
	first := strings.Index(lines[2], f[1])
	rows = map[string]string{}
	for _, line := range lines[2:] {
		f := strings.Fields(line)
		rows[f[0]] = strings.Join(f[1:], " ")
	}
	pad := func(s string) string { return (s + strings.Repeat(" ", first))[first:] }
	return rows, pad(lines[0]), pad(lines[1])
}

func TestWriteTextTimeline(t *testing.T) {
	plan := renderPlan(t, "2026-06-16T12:00:00Z")
	rows, labels, ticks := renderTimelineRows(t, plan.String())
	dots := func(n int) string { return strings.Repeat(".", n) }
	want := map[string]string{
		// Buffer 01:40-02:00 BST is columns 34-35, the slot 02:00-02:30 36-38.
		"pkg-repo": dots(34) + "--###" + dots(33),
		// Clipped at the window's end (08:00), and void.
		"early": dots(70) + "-#" + " void",
		// Wholly in business time: nothing to draw.
		"midday": dots(72) + " outside the window",
		"rotate": "===" + dots(69),
		// 02:30 to 08:00: columns 39 to 71.
		"backup": dots(39) + strings.Repeat("=", 33),
	}
	for label, cells := range want {
		if rows[label] != cells {
			t.Errorf("timeline row %s:\n got %q\nwant %q", label, rows[label], cells)
		}
	}
	if len(rows) != len(want) {
		t.Errorf("timeline rows %v, want %d", rows, len(want))
	}
	// Hour labels every 6 columns, in BST: 20 at column 0, 02 at 36.
	for col, label := range map[int]string{0: "20", 6: "21", 24: "00", 36: "02", 66: "07"} {
		if got := labels[col : col+2]; got != label {
			t.Errorf("axis label at column %d = %q, want %q (%q)", col, got, label, labels)
		}
	}
	for col := range 72 {
		want := byte(' ')
		if col%6 == 0 {
			want = '|'
		}
		if ticks[col] != want {
			t.Errorf("tick at column %d = %q, want %q (%q)", col, ticks[col], want, ticks)
		}
	}
}

func TestWriteTextProjectedFrom(t *testing.T) {
	plan := renderPlan(t, "2026-06-16T23:20:00Z") // 00:20 BST
	text := plan.String()
	if !renderHasRow(text, "from", "Wed 17 Jun 2026 00:20 BST") {
		t.Errorf("no from row in\n%s", text)
	}
	rows, _, _ := renderTimelineRows(t, text)
	// The axis still covers the whole window; rotate runs 00:20-00:50.
	if want := strings.Repeat(".", 26) + "===" + strings.Repeat(".", 43); rows["rotate"] != want {
		t.Errorf("rotate row\n got %q\nwant %q", rows["rotate"], want)
	}
}

type renderClock time.Time

func (c renderClock) Now() time.Time                       { return time.Time(c) }
func (c renderClock) After(time.Duration) <-chan time.Time { return nil }

func TestWriteTextEmptyWindow(t *testing.T) {
	// Open around the clock on weekdays: the weekday cycles have no window.
	p, err := ParseProfile([]byte(`{"client": "kiosk-7",
	  "site": {"timezone": "Europe/London", "business_hours": {"mon": ["00:00-24:00"],
	    "tue": ["00:00-24:00"], "wed": ["00:00-24:00"], "thu": ["00:00-24:00"], "fri": ["00:00-24:00"]}},
	  "housekeeping": [{"name": "rotate", "run": ["/bin/rotate"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	sunday := time.Date(2026, 6, 14, 12, 0, 0, 0, time.UTC)
	plans, err := Forecast(p, renderClock(sunday), 2)
	if err != nil {
		t.Fatal(err)
	}
	plan := plans[1]
	if plan.Day != "2026-06-15" || !plan.Window.Empty() {
		t.Fatalf("want Monday's empty window, got %s %v", plan.Day, plan.Window)
	}
	text := plan.String()
	t.Log("\n" + text)
	for _, r := range [][]string{
		{"window", "none:", "no", "after-hours", "window"},
		{"timeline:", "no", "after-hours", "window"},
		{"slots"}, {"steps"}, {"(none)"},
	} {
		if !renderHasRow(text, r...) {
			t.Errorf("no row %q", strings.Join(r, " "))
		}
	}
	if !strings.Contains(text, "rotate  housekeeping  window-full") {
		t.Error("rotate is not deferred as window-full")
	}

	for _, p := range []*Plan{{}, nil} {
		text := p.String()
		if !strings.Contains(text, "no after-hours window") && !strings.Contains(text, "no plan") {
			t.Errorf("%#v renders as\n%s", p, text)
		}
	}
}

type renderFailingWriter struct{}

var errRenderWrite = errors.New("disk full")

func (renderFailingWriter) Write([]byte) (int, error) { return 0, errRenderWrite }

func TestWriteTextError(t *testing.T) {
	plan := renderPlan(t, "2026-06-16T12:00:00Z")
	if err := plan.WriteText(renderFailingWriter{}); !errors.Is(err, errRenderWrite) {
		t.Errorf("WriteText to a failing writer: %v, want %v", err, errRenderWrite)
	}
}
