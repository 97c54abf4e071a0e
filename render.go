package afterhours

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// textTimelineWidth is the most columns the timeline's time axis takes.
const textTimelineWidth = 72

// textColumnMinutes are the minutes a timeline column may stand for: the shortest
// that fits the window in textTimelineWidth columns is used, so that hours fall
// on whole columns.
var textColumnMinutes = []time.Duration{1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 720, 1440}

// String returns the plan as [Plan.WriteText] writes it.
func (p *Plan) String() string {
	var b strings.Builder
	_ = p.WriteText(&b) // a strings.Builder does not fail
	return b.String()
}

// WriteText writes the plan as readable text: a header with the client, the
// cycle's day, the window and the instant steps are projected from; tables
// of the slots, the steps and the deferrals; and a timeline of the window
// with one row per slot hold ('-' for the buffer zone, '#' for the slot),
// the holds of neighbouring cycles' slots included, and per step ('=' for
// its projected run), clipped to the window. Times are in
// the plan's own location, the site's zone, with its abbreviation. The
// output is deterministic, for golden files; programs should read the JSON
// form instead.
func (p *Plan) WriteText(w io.Writer) error {
	var buf bytes.Buffer
	if p == nil {
		buf.WriteString("no plan\n")
	} else {
		p.writeText(&buf)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (p *Plan) writeText(buf *bytes.Buffer) {
	// Instants are shown in the location of the window, the site's zone,
	// whatever location a caller or the planner left on the others.
	loc := p.Window.Start.Location()
	in := func(iv Interval) Interval { return Interval{iv.Start.In(loc), iv.End.In(loc)} }
	window := in(p.Window)
	header := func(key, value string) {
		buf.WriteString(strings.TrimRight(fmt.Sprintf("%-8s%s", key, value), " ") + "\n")
	}
	header("client", p.Client)
	header("cycle", p.Day)
	if window.Empty() {
		header("window", "none: no after-hours window")
	} else {
		header("window", fmt.Sprintf("%s - %s (%s)", textLongTime(window.Start), textLongTime(window.End), textDuration(window.Duration())))
		header("from", textLongTime(p.From.In(loc)))
	}

	var rows [][]string
	for _, s := range p.Slots {
		names := make([]string, 0, len(s.Tasks))
		for _, t := range s.Tasks {
			names = append(names, t.Name)
		}
		tasks, void := strings.Join(names, ", "), ""
		if tasks == "" {
			tasks = "-"
		}
		if s.Void {
			void = "void"
		}
		rows = append(rows, []string{s.Token, textInterval(in(s.Buffer)), textInterval(in(s.Run)), tasks, void})
	}
	textTable(buf, "slots", []string{"TOKEN", "BUFFER", "RUN", "TASKS", ""}, rows)
	rows = rows[:0]
	for _, s := range p.Steps {
		rows = append(rows, []string{textTime(s.Start.In(loc)), textTime(s.End.In(loc)), s.Task.Kind().String(), s.Task.Name})
	}
	textTable(buf, "steps", []string{"START", "END", "KIND", "TASK"}, rows)
	if len(p.Downtimes) > 0 {
		rows = rows[:0]
		for _, d := range p.Downtimes {
			ended := ""
			if d.Ended {
				ended = "ended early"
			}
			rows = append(rows, []string{d.Resource, textInterval(in(d.Interval)), d.Action, ended})
		}
		textTable(buf, "downtimes", []string{"RESOURCE", "DOWN", "ACTION", ""}, rows)
	}
	if len(p.Timers) > 0 {
		// One row a timer: a minute timer has 1,440 runs a day.
		rows = rows[:0]
		index := map[*Task]int{}
		for _, r := range p.Timers {
			at := textTime(r.At.In(loc))
			i, seen := index[r.Task]
			if !seen {
				index[r.Task] = len(rows)
				rows = append(rows, []string{r.Task.Name, "1", at, at})
				continue
			}
			n, _ := strconv.Atoi(rows[i][1])
			rows[i][1], rows[i][3] = strconv.Itoa(n+1), at
		}
		textTable(buf, "timers", []string{"TIMER", "RUNS", "FIRST", "LAST"}, rows)
	}
	rows = rows[:0]
	for _, d := range p.Deferred {
		rows = append(rows, []string{d.Task.Name, d.Task.Kind().String(), d.Reason, d.Detail})
	}
	textTable(buf, "deferred", []string{"TASK", "KIND", "REASON", "DETAIL"}, rows)

	buf.WriteString("\n")
	p.writeTimeline(buf, window)
}

// textTable writes a titled, indented table with a header row, or "(none)".
func textTable(buf *bytes.Buffer, title string, header []string, rows [][]string) {
	fmt.Fprintf(buf, "\n%s\n", title)
	if len(rows) == 0 {
		buf.WriteString("  (none)\n")
		return
	}
	tw := tabwriter.NewWriter(buf, 0, 0, 2, ' ', 0)
	for _, r := range append([][]string{header}, rows...) {
		// Trailing empty cells would leave trailing blanks.
		for len(r) > 0 && r[len(r)-1] == "" {
			r = r[:len(r)-1]
		}
		fmt.Fprintf(tw, "  %s\n", strings.Join(r, "\t"))
	}
	tw.Flush()
}

// writeTimeline draws the window as a time axis with a row per slot hold
// and per step.
func (p *Plan) writeTimeline(buf *bytes.Buffer, window Interval) {
	if window.Empty() {
		buf.WriteString("timeline: no after-hours window\n")
		return
	}
	tl := newTextTimeline(window)
	fmt.Fprintf(buf, "timeline, %s a column, %s to %s\n", textDuration(tl.step), textTime(window.Start), textTime(window.End))

	type row struct{ label, cells, note string }
	var rows []row
	for _, s := range p.Slots {
		cells := bytes.Repeat([]byte{'.'}, tl.cols)
		in := tl.mark(cells, s.Buffer, '-')
		in = tl.mark(cells, s.Run, '#') || in
		note := ""
		switch {
		case s.Void:
			note = "void"
		case !in:
			note = "outside the window"
		}
		rows = append(rows, row{s.Token, string(cells), note})
	}
	for _, s := range p.Neighbours {
		cells := bytes.Repeat([]byte{'.'}, tl.cols)
		tl.mark(cells, s.Buffer, '-')
		tl.mark(cells, s.Run, '#')
		rows = append(rows, row{s.Token, string(cells), "hold of a neighbouring cycle's slot"})
	}
	for _, s := range p.Steps {
		cells := bytes.Repeat([]byte{'.'}, tl.cols)
		tl.mark(cells, s.Interval, '=')
		rows = append(rows, row{s.Task.Name, string(cells), ""})
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.label))
	}
	labels, ticks := tl.axis()
	fmt.Fprintf(buf, "  %-*s  %s\n", width, "", strings.TrimRight(labels, " "))
	fmt.Fprintf(buf, "  %-*s  %s\n", width, "", strings.TrimRight(ticks, " "))
	for _, r := range rows {
		line := fmt.Sprintf("  %-*s  %s  %s", width, r.label, r.cells, r.note)
		buf.WriteString(strings.TrimRight(line, " ") + "\n")
	}
}

// textTimeline maps the instants of a window to columns of step each. Column
// 0 starts at origin, the window's start rounded down to a multiple of step
// in local time, so that hours fall on column boundaries.
type textTimeline struct {
	window Interval
	origin time.Time
	step   time.Duration
	cols   int
}

func newTextTimeline(window Interval) textTimeline {
	tl := textTimeline{window: window}
	for _, n := range textColumnMinutes {
		tl.step = n * time.Minute
		tl.origin = textFloor(window.Start, tl.step)
		if window.End.Sub(tl.origin) <= tl.step*textTimelineWidth {
			break // windows last two days at most, far less than 72 columns of a day
		}
	}
	tl.cols = max(1, int((window.End.Sub(tl.origin)+tl.step-1)/tl.step))
	return tl
}

// textFloor rounds t down to a multiple of step (which divides a day) since
// its local midnight, as a wall clock reads it.
func textFloor(t time.Time, step time.Duration) time.Time {
	h, m, s := t.Clock()
	wall := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
	return t.Add(-(wall % step))
}

// mark sets c in the columns of iv, clipped to the window, and reports
// whether the clipped interval is not empty. An interval takes the columns
// between the column boundaries nearest its ends, so that intervals that do
// not overlap never share a column, and at least the column of its start.
func (tl textTimeline) mark(cells []byte, iv Interval, c byte) bool {
	start, end := laterOf(iv.Start, tl.window.Start), iv.End
	if end.After(tl.window.End) {
		end = tl.window.End
	}
	if !end.After(start) {
		return false
	}
	nearest := func(t time.Time) int { return int((t.Sub(tl.origin) + tl.step/2) / tl.step) }
	from, to := nearest(start), nearest(end)
	if from >= to {
		from = int(start.Sub(tl.origin) / tl.step)
		to = from + 1
	}
	for i := from; i < min(to, tl.cols); i++ {
		cells[i] = c
	}
	return true
}

// axis returns the hour labels, in the window's local time, and a line of
// ticks under them. Hours are labelled every 1, 2, 3, ... hours, as often as
// two-digit labels fit.
func (tl textTimeline) axis() (labels, ticks string) {
	lb := bytes.Repeat([]byte{' '}, tl.cols+2)
	tk := bytes.Repeat([]byte{' '}, tl.cols)
	every := 24
	for _, k := range []int{1, 2, 3, 4, 6, 12} {
		if time.Duration(k)*time.Hour >= 3*tl.step {
			every = k
			break
		}
	}
	// Walk the quarter hours of local time (every zone's offset is a
	// multiple of 15 minutes today), so that DST days get their real hours.
	free := 0
	for t := textFloor(tl.origin, 15*time.Minute); t.Before(tl.window.End); t = t.Add(15 * time.Minute) {
		if t.Before(tl.origin) || t.Minute() != 0 || t.Hour()%every != 0 {
			continue
		}
		col := int(t.Sub(tl.origin) / tl.step)
		if col < free || col >= tl.cols {
			continue
		}
		copy(lb[col:], t.Format("15"))
		tk[col] = '|'
		free = col + 3
	}
	return string(lb), string(tk)
}

// textTime formats an instant with its weekday (a window lasts two days at
// most) and its zone (a DST night reads an hour twice); textLongTime adds the
// date.
func textTime(t time.Time) string { return t.Format("Mon ") + textClock(t) + t.Format(" MST") }
func textLongTime(t time.Time) string {
	return t.Format("Mon 02 Jan 2006 ") + textClock(t) + t.Format(" MST")
}

// textClock formats the time of day, with seconds only when there are any.
func textClock(t time.Time) string {
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return t.Format("15:04:05")
	}
	return t.Format("15:04")
}

// textInterval formats an interval, shortening its end when it shares the
// start's day and zone.
func textInterval(iv Interval) string {
	if iv.Empty() {
		return "-"
	}
	if DateOf(iv.Start) == DateOf(iv.End) && iv.Start.Format("MST") == iv.End.Format("MST") {
		return iv.Start.Format("Mon ") + textClock(iv.Start) + "-" + textClock(iv.End) + iv.End.Format(" MST")
	}
	return textTime(iv.Start) + " - " + textTime(iv.End)
}

// textDuration formats d as 13h30m rather than 13h30m0s.
func textDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// WriteForecast writes a forecast as one line per cycle (its day, its
// window, and the names of what runs: steps, then timers with their number
// of runs), then each plan in full as [Plan.WriteText] writes it.
func WriteForecast(w io.Writer, plans []*Plan) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CYCLE\tWINDOW\tRUNS")
	for _, p := range plans {
		loc := p.Window.Start.Location()
		window := "none"
		if !p.Window.Empty() {
			window = textLongTime(p.Window.Start.In(loc)) + " - " + textLongTime(p.Window.End.In(loc))
		}
		var runs []string
		for _, s := range p.Steps {
			runs = append(runs, s.Task.Name)
		}
		counts := map[*Task]int{}
		var timers []*Task
		for _, r := range p.Timers {
			if counts[r.Task] == 0 {
				timers = append(timers, r.Task)
			}
			counts[r.Task]++
		}
		for _, t := range timers {
			runs = append(runs, fmt.Sprintf("%s×%d", t.Name, counts[t]))
		}
		if len(runs) == 0 {
			runs = append(runs, "-")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Day, window, strings.Join(runs, " "))
	}
	tw.Flush()
	for _, p := range plans {
		buf.WriteString("\n")
		p.writeText(&buf)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
