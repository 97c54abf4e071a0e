package afterhours

import (
	"bytes"
	"encoding/xml"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// svgCases are the plans drawn by the SVG golden, geometry and browser
// tests: testdata/<name>.plan.svg.golden holds each drawing.
var svgCases = []struct{ name, profile, now string }{
	// The README's example: Tuesday night in Leeds, two lanes, a timer.
	{"example", "examples/plan/example.profile.json", "2026-11-24T12:00:00Z"},
	// Saturday 28 March 2026 in Leeds: at 01:00 GMT the clocks go to 02:00
	// BST, so the night is an hour shorter and 01:00 never comes.
	{"london-spring-night", "testdata/svg/london-spring-night.profile.json", "2026-03-28T12:00:00Z"},
	// Lord Howe, 4 October 2026: 02:00 +10:30 jumps to 02:30 +11, planned
	// from 15:00Z, mid-window.
	{"lordhowe-gap", "testdata/lordhowe-gap.profile.json", "2026-10-03T15:00:00Z"},
	// Kathmandu (+05:45): two lanes, a downtime of the db, deferrals, and a
	// task name with XML's special characters.
	{"kathmandu-lanes", "testdata/svg/kathmandu-lanes.profile.json", "2026-07-15T12:00:00Z"},
}

func svgCasePlan(t *testing.T, profile, now string) (*Profile, *Plan) {
	t.Helper()
	p, err := LoadProfile(profile)
	require.NoError(t, err)
	at, err := time.Parse(time.RFC3339, now)
	require.NoError(t, err)
	plan, err := PlanAt(p, at)
	require.NoError(t, err)
	return p, plan
}

func TestWriteSVGGolden(t *testing.T) {
	for _, tc := range svgCases {
		t.Run(tc.name, func(t *testing.T) {
			_, plan := svgCasePlan(t, tc.profile, tc.now)
			var got bytes.Buffer
			require.NoError(t, plan.WriteSVG(&got))
			var again bytes.Buffer
			require.NoError(t, plan.WriteSVG(&again))
			require.Equal(t, got.String(), again.String(), "two drawings of one plan differ")

			path := filepath.Join("testdata", tc.name+".plan.svg.golden")
			if *update {
				require.NoError(t, os.WriteFile(path, got.Bytes(), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -run TestWriteSVGGolden -update")
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s differs from the drawing (go test -run TestWriteSVGGolden -update rewrites it):\n%s", path, goldenDiff(want, got.Bytes()))
			}
		})
	}
}

// svgNode is any element of a parsed SVG.
type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []svgNode  `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (n *svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *svgNode) num(t *testing.T, name string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(n.attr(name), 64)
	require.NoError(t, err, "attribute %s of <%s class=%q>", name, n.XMLName.Local, n.attr("class"))
	return v
}

func (n *svgNode) instant(t *testing.T, name string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, n.attr(name))
	require.NoError(t, err, "attribute %s of <%s class=%q>", name, n.XMLName.Local, n.attr("class"))
	return v
}

// byClass returns the elements of class c, in document order.
func (n *svgNode) byClass(c string) []*svgNode {
	var out []*svgNode
	var walk func(m *svgNode)
	walk = func(m *svgNode) {
		if m.attr("class") == c {
			out = append(out, m)
		}
		for i := range m.Nodes {
			walk(&m.Nodes[i])
		}
	}
	walk(n)
	return out
}

// parseSVG parses a drawing and reads its axis back from the root's
// attributes.
func parseSVG(t *testing.T, data []byte) (*svgNode, svgAxis) {
	t.Helper()
	var root svgNode
	require.NoError(t, xml.Unmarshal(data, &root))
	require.Equal(t, "svg", root.XMLName.Local)
	ax := svgAxis{from: root.instant(t, "data-from"), to: root.instant(t, "data-to"),
		x0: root.num(t, "data-x0"), ppm: root.num(t, "data-px-per-minute")}
	axes := root.byClass("axis")
	require.Len(t, axes, 1)
	for _, a := range []string{"data-from", "data-to", "data-x0", "data-px-per-minute"} {
		require.Equal(t, root.attr(a), axes[0].attr(a), "the axis group's %s", a)
	}
	return &root, ax
}

// near reports whether two coordinates agree to the drawing's precision.
func near(a, b float64) bool { return a-b < 0.006 && b-a < 0.006 }

// checkBar checks that a bar's x and width are its interval mapped on the
// axis (clipped to it) and that its data-start and data-end are the
// interval.
func checkBar(t *testing.T, ax svgAxis, n *svgNode, iv Interval, what string) {
	t.Helper()
	require.True(t, n.instant(t, "data-start").Equal(iv.Start), "%s: data-start %s, want %s", what, n.attr("data-start"), iv.Start)
	require.True(t, n.instant(t, "data-end").Equal(iv.End), "%s: data-end %s, want %s", what, n.attr("data-end"), iv.End)
	start, end := laterOf(iv.Start, ax.from), iv.End
	if end.After(ax.to) {
		end = ax.to
	}
	x := ax.x0 + start.Sub(ax.from).Minutes()*ax.ppm
	w := end.Sub(start).Minutes() * ax.ppm
	require.True(t, near(n.num(t, "x"), x), "%s: x %s, want %.3f", what, n.attr("x"), x)
	require.True(t, near(n.num(t, "width"), w), "%s: width %s, want %.3f", what, n.attr("width"), w)
}

func TestWriteSVGGeometry(t *testing.T) {
	for _, tc := range svgCases {
		t.Run(tc.name, func(t *testing.T) {
			p, plan := svgCasePlan(t, tc.profile, tc.now)
			var b bytes.Buffer
			require.NoError(t, plan.WriteSVG(&b))
			root, ax := parseSVG(t, b.Bytes())
			checkSVGGeometry(t, p, plan, root, ax)
		})
	}
}

// TestWriteSVGGeometryEverywhere draws every golden plan of testdata and a
// fortnight's forecast of the example (a Sunday downtime, closed days,
// cycles from midnight to midnight) and checks each drawing's geometry.
func TestWriteSVGGeometryEverywhere(t *testing.T) {
	names := slices.Sorted(maps.Keys(goldenCases))
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			p, plan := svgCasePlan(t, filepath.Join("testdata", name+".profile.json"), goldenCases[name].now)
			var b bytes.Buffer
			require.NoError(t, plan.WriteSVG(&b))
			root, ax := parseSVG(t, b.Bytes())
			checkSVGGeometry(t, p, plan, root, ax)
		})
	}
	p, err := LoadProfile("examples/plan/example.profile.json")
	require.NoError(t, err)
	plans, err := Forecast(p, fakeclock.Fixed(time.Date(2026, 12, 19, 12, 0, 0, 0, time.UTC)), 14)
	require.NoError(t, err)
	for _, plan := range plans {
		t.Run("example-"+plan.Day, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, plan.WriteSVG(&b))
			root, ax := parseSVG(t, b.Bytes())
			if plan.Window.Empty() {
				require.Contains(t, b.String(), "no after-hours window in this cycle")
				return
			}
			checkSVGGeometry(t, p, plan, root, ax)
		})
	}
}

func checkSVGGeometry(t *testing.T, p *Profile, plan *Plan, root *svgNode, ax svgAxis) {
	loc := p.Site.Location()
	// The axis covers the window, with whole local hours at both ends.
	require.False(t, ax.from.After(plan.Window.Start))
	require.False(t, ax.to.Before(plan.Window.End))
	for _, end := range []time.Time{ax.from, ax.to} {
		require.Zero(t, end.In(loc).Minute(), "the axis ends on whole local hours")
	}
	require.LessOrEqual(t, ax.to.Sub(ax.from).Minutes()*ax.ppm, svgMaxChart)

	// Steps: one bar each, at its times on the axis.
	steps := root.byClass("step")
	require.Len(t, steps, len(plan.Steps))
	byTask := map[string]*svgNode{}
	for _, n := range steps {
		byTask[n.attr("data-task")] = n
	}
	lanes := map[int][]Step{}
	for _, s := range plan.Steps {
		n, ok := byTask[s.Task.Name]
		require.True(t, ok, "no bar for step %s", s.Task.Name)
		checkBar(t, ax, n, s.Interval, "step "+s.Task.Name)
		require.Equal(t, s.Task.Kind().String(), n.attr("data-kind"))
		lane, err := strconv.Atoi(n.attr("data-lane"))
		require.NoError(t, err)
		require.GreaterOrEqual(t, lane, 1)
		require.LessOrEqual(t, lane, p.lanes, "more lanes than the profile's parallel")
		// The first lane free at its start: every lane before it is busy.
		for l := 1; l < lane; l++ {
			busy := false
			for _, o := range lanes[l] {
				busy = busy || (!o.Start.After(s.Start) && o.End.After(s.Start))
			}
			require.True(t, busy, "step %s in lane %d while lane %d is free at its start", s.Task.Name, lane, l)
		}
		lanes[lane] = append(lanes[lane], s)
	}
	// Lanes never overlap, in time or on the drawing, and share a row each.
	for l, list := range lanes {
		for i := 1; i < len(list); i++ {
			prev, cur := byTask[list[i-1].Task.Name], byTask[list[i].Task.Name]
			require.False(t, list[i].Start.Before(list[i-1].End), "lane %d: %s overlaps %s", l, list[i].Task.Name, list[i-1].Task.Name)
			require.LessOrEqual(t, prev.num(t, "x")+prev.num(t, "width"), cur.num(t, "x")+0.006)
			require.Equal(t, prev.attr("y"), cur.attr("y"), "lane %d is one row", l)
		}
	}

	// Holds: a buffer and a slot bar per visible slot occurrence.
	slots, buffers := root.byClass("slot"), root.byClass("buffer")
	find := func(list []*svgNode, token string, start time.Time) *svgNode {
		for _, n := range list {
			if n.attr("data-token") == token && n.instant(t, "data-start").Equal(start) {
				return n
			}
		}
		return nil
	}
	for _, s := range append(slices.Clone(plan.Slots), plan.Neighbours...) {
		if _, _, ok := ax.clip(s.Run); ok {
			n := find(slots, s.Token, s.Run.Start)
			require.NotNil(t, n, "no bar for slot %s at %s", s.Token, s.Run.Start)
			checkBar(t, ax, n, s.Run, "slot "+s.Token)
			require.Equal(t, s.Void, n.attr("data-void") == "true")
		}
		if _, _, ok := ax.clip(s.Buffer); ok {
			n := find(buffers, s.Token, s.Buffer.Start)
			require.NotNil(t, n, "no bar for the buffer of slot %s at %s", s.Token, s.Run.Start)
			checkBar(t, ax, n, s.Buffer, "buffer "+s.Token)
		}
	}

	// Timers: a tick a run on the axis.
	ticks := root.byClass("timer")
	onAxis := 0
	for _, r := range plan.Timers {
		if !r.At.Before(ax.from) && r.At.Before(ax.to) {
			onAxis++
		}
	}
	require.Len(t, ticks, onAxis, "a tick for each run on the axis")
	for _, n := range ticks {
		at := n.instant(t, "data-at")
		require.True(t, slices.ContainsFunc(plan.Timers, func(r TimerRun) bool { return r.Task.Name == n.attr("data-task") && r.At.Equal(at) }),
			"tick of %s at %s is no run of the plan", n.attr("data-task"), at)
		require.True(t, near(n.num(t, "x1"), ax.x(at)), "tick at %s", at)
	}

	// Downtimes, per resource.
	downs := root.byClass("downtime")
	require.Len(t, downs, len(plan.Downtimes))
	for k, dt := range plan.Downtimes {
		require.Equal(t, dt.Resource, downs[k].attr("data-resource"))
		require.Equal(t, dt.Action, downs[k].attr("data-action"))
		checkBar(t, ax, downs[k], dt.Interval, "downtime of "+dt.Resource)
	}

	// The window, and business hours exactly where the site is in business.
	windows := root.byClass("window")
	require.Len(t, windows, 1)
	checkBar(t, ax, windows[0], plan.Window, "window")
	var busy []Interval
	for _, n := range root.byClass("business") {
		iv := Interval{n.instant(t, "data-start"), n.instant(t, "data-end")}
		checkBar(t, ax, n, iv, "business hours")
		require.True(t, p.Site.InBusiness(iv.Start) && !p.Site.InBusiness(iv.End), "business band %v", iv)
		busy = append(busy, iv)
	}
	for m := ax.from; m.Before(ax.to); m = m.Add(5 * time.Minute) {
		in := slices.ContainsFunc(busy, func(iv Interval) bool { return iv.Contains(m) })
		require.Equal(t, p.Site.InBusiness(m), in, "business shading at %s", m.In(loc))
	}

	// Hour labels: local whole hours, at their instants.
	for _, n := range root.byClass("hour") {
		at := n.instant(t, "data-at")
		require.Zero(t, at.In(loc).Minute())
		require.Equal(t, at.In(loc).Format("15:04"), strings.TrimSpace(n.Text))
		require.True(t, near(n.num(t, "x"), ax.x(at)))
	}

	// Deferrals, in the plan's order, with their reasons.
	defs := root.byClass("deferral")
	require.Len(t, defs, len(plan.Deferred))
	for k, d := range plan.Deferred {
		require.Equal(t, d.Task.Name, defs[k].attr("data-task"))
		require.Equal(t, d.Reason, defs[k].attr("data-reason"))
	}
}

// svgHours returns the hour labels of a drawing and their abscissae.
func svgHours(t *testing.T, root *svgNode) (labels []string, xs []float64) {
	for _, n := range root.byClass("hour") {
		labels = append(labels, strings.TrimSpace(n.Text))
		xs = append(xs, n.num(t, "x"))
	}
	return labels, xs
}

// TestWriteSVGShifts checks the hours around a change of offset: a gap
// leaves its hour out, and the axis keeps elapsed time, so the labels around
// the gap are as far apart as the time between them.
func TestWriteSVGShifts(t *testing.T) {
	tests := []struct {
		name, profile, now string
		before, after      string
		minutes            float64 // elapsed between the two labels
		shift              string  // the change's label
	}{
		{"london spring forward", "testdata/svg/london-spring-night.profile.json", "2026-03-28T12:00:00Z", "00:00", "02:00", 60, "clocks go forward 1h: GMT → BST"},
		{"lord howe half hour", "testdata/lordhowe-gap.profile.json", "2026-10-03T15:00:00Z", "01:00", "03:00", 90, "clocks go forward 30m: +1030 → +11"},
		{"lord howe fall back", "testdata/lordhowe-overlap.profile.json", "2026-04-04T14:00:00Z", "01:00", "02:00", 90, "clocks go back 30m: +11 → +1030"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, plan := svgCasePlan(t, tt.profile, tt.now)
			var b bytes.Buffer
			require.NoError(t, plan.WriteSVG(&b))
			root, ax := parseSVG(t, b.Bytes())
			labels, xs := svgHours(t, root)
			i := slices.Index(labels, tt.before)
			require.GreaterOrEqual(t, i, 0, "labels %v", labels)
			require.Less(t, i+1, len(labels))
			require.Equal(t, tt.after, labels[i+1], "the label after %s in %v", tt.before, labels)
			require.True(t, near(xs[i+1]-xs[i], tt.minutes*ax.ppm), "%s to %s: %.2f px, want %v minutes", tt.before, tt.after, xs[i+1]-xs[i], tt.minutes)
			shifts := root.byClass("shift")
			require.Len(t, shifts, 1)
			require.Contains(t, b.String(), tt.shift)
		})
	}
}

// TestWriteSVGEscapes draws names with XML's special characters: they are
// escaped in text and attributes, and read back as they were.
func TestWriteSVGEscapes(t *testing.T) {
	p, plan := svgCasePlan(t, "testdata/svg/kathmandu-lanes.profile.json", "2026-07-15T12:00:00Z")
	var b bytes.Buffer
	require.NoError(t, plan.WriteSVG(&b))
	require.NotContains(t, b.String(), "<cache>")
	require.NotContains(t, b.String(), "<thamel>")
	root, _ := parseSVG(t, b.Bytes())
	require.Equal(t, p.Client, root.attr("data-client"))
	var names []string
	for _, n := range root.byClass("step") {
		names = append(names, n.attr("data-task"))
	}
	require.Contains(t, names, `purge "old" <cache> & tmp`)
}

// TestWriteSVGNoPlan draws a nil plan, and a plan built by hand with an
// empty window and no site: both are valid SVG.
func TestWriteSVGNoPlan(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, (*Plan)(nil).WriteSVG(&b))
	var root svgNode
	require.NoError(t, xml.Unmarshal(b.Bytes(), &root))
	require.Contains(t, b.String(), "no plan")

	at := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	b.Reset()
	require.NoError(t, (&Plan{Client: "c", Day: "2026-11-24", Window: Interval{at, at}, From: at}).WriteSVG(&b))
	parseSVG(t, b.Bytes())
	require.Contains(t, b.String(), "no after-hours window in this cycle")
}

// TestWriteSVGOffChart notes the slots of the cycle that lie off the chart:
// renderProfile's anytime slot at noon, far from the night.
func TestWriteSVGOffChart(t *testing.T) {
	plan := renderPlan(t, "2026-06-16T12:00:00Z")
	var b bytes.Buffer
	require.NoError(t, plan.WriteSVG(&b))
	root, ax := parseSVG(t, b.Bytes())
	require.Contains(t, b.String(), "Off the chart: midday slot Wed 12:00-12:30 BST (report)")
	require.LessOrEqual(t, ax.to.Sub(ax.from).Minutes()*ax.ppm, svgMaxChart)
	for _, n := range root.byClass("slot") {
		require.NotEqual(t, "midday", n.attr("data-token"), "a slot off the axis has no bar")
	}
	// The void early slot (07:50 BST, in business hours) is drawn, void.
	var void []string
	for _, n := range root.byClass("slot") {
		if n.attr("data-void") == "true" {
			void = append(void, n.attr("data-token"))
		}
	}
	require.Equal(t, []string{"early"}, void)
}
