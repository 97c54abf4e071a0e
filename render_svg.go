package afterhours

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Colours of the drawing, one a concept.
const (
	svgInk        = "#1a202c"
	svgGrey       = "#5a6472"
	svgGrid       = "#d5dbe3"
	svgWindowFill = "#e8f1fb"
	svgBusyFill   = "#f5e6c8"
	svgSlotFill   = "#dd6b20"
	svgVoidFill   = "#a0aec0"
	svgTimerInk   = "#2d3748"
	svgDownInk    = "#c53030"
	svgShiftInk   = "#97266d"
)

// svgKindFill is the colour of a step of each kind.
func svgKindFill(k Kind) string {
	switch k {
	case Housekeeping:
		return "#2b6cb0"
	case Update:
		return "#2f855a"
	case SelfUpdate:
		return "#6b46c1"
	}
	return "#4a5568"
}

const svgDefs = `<defs>
<pattern id="afterhours-buffer" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fde3c8"/><rect width="2.5" height="6" fill="#e8944a"/></pattern>
<pattern id="afterhours-void" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#edf0f4"/><rect width="2" height="6" fill="#a0aec0"/></pattern>
<pattern id="afterhours-down" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><rect width="6" height="6" fill="#fde2e2"/><rect width="2.5" height="6" fill="#e07a7a"/></pattern>
</defs>
`

// WriteSVG draws the plan as a self-contained SVG image (no external font,
// style sheet or script): a time axis in the site's zone with hour ticks
// labelled in local time, from a whole hour before the window to a whole
// hour after it. The axis is linear in elapsed time, so a DST night is drawn
// with its real length and its labels show the jump (00:00 02:00 03:00 on
// Europe/London's spring-forward night), with a marked line where the
// offset changes. On the axis it shades the after-hours window and, for a
// plan made by [PlanAt], [BuildPlan] or [Forecast], the site's business
// hours; it draws, one row a sharing token, the holds of its slots (the
// buffer zone hatched, the slot solid, void slots grey, slots of the
// neighbouring cycles paler); one row a lane, the steps, each in the first
// lane free at its start, as the executor's parallel lanes run them; one row
// a timer, a tick a run; one row a resource, its downtimes. The deferred
// tasks follow the chart with their reasons and details, after a note for
// each slot of the cycle that lies off the chart (such as an anytime slot
// at noon). A nil plan draws "no plan".
//
// The scale is the largest of a few round numbers of pixels a minute that
// keeps the axis within 1,080 pixels. Patterns are defined with ids that
// start with "afterhours-", so several drawings can share an HTML page.
//
// Programs can read the drawing back. The root element carries the scale:
// an instant t lies at x = data-x0 + (minutes from data-from to t) ×
// data-px-per-minute. Each drawn element has a class (window, business,
// buffer, slot, step, timer, downtime, deferral) and data attributes with
// what it stands for: data-task, data-token, data-resource, data-lane
// (from 1), data-start and data-end (the real instants, in RFC 3339 UTC,
// even where the bar is clipped to the axis) or data-at. Text is escaped, so
// any task name is safe. The output is deterministic: the same plan gives the
// same bytes.
func (p *Plan) WriteSVG(w io.Writer) error {
	var buf bytes.Buffer
	if p == nil {
		buf.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" width="320" height="40" viewBox="0 0 320 40">` +
			`<text x="16" y="24" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="13" fill="` + svgInk + `">no plan</text></svg>` + "\n")
	} else {
		p.writeSVG(&buf)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// svgDrawing accumulates the chart's layers while its rows are laid out;
// the background's height is known only at the end.
type svgDrawing struct {
	p      *Plan
	ax     svgAxis
	loc    *time.Location
	rows   bytes.Buffer
	y      float64
	legend []svgLegendItem
}

type svgLegendItem struct{ fill, label string }

func (d *svgDrawing) legendAdd(fill, label string) {
	for _, it := range d.legend {
		if it.label == label {
			return
		}
	}
	d.legend = append(d.legend, svgLegendItem{fill, label})
}

func (p *Plan) writeSVG(buf *bytes.Buffer) {
	loc := p.Window.Start.Location()
	d := &svgDrawing{p: p, ax: newSVGAxis(p, loc), loc: loc}
	ax := d.ax
	width := ax.right() + svgMargin + 8
	d.legendAdd(svgWindowFill, "after-hours window")
	business := svgBusiness(p.site, ax)
	if len(business) > 0 {
		d.legendAdd(svgBusyFill, "business hours")
	}

	// Rows first, below a header whose height depends on the legend they
	// fill; they are drawn at y from 0 and shifted into place.
	outside := d.drawRows()

	var head bytes.Buffer
	title := p.Client
	if day, err := ParseDate(p.Day); err == nil {
		title += " · after-hours plan for " + time.Date(day.Year, day.Month, day.Day, 12, 0, 0, 0, time.UTC).Format("Monday 2 January 2006")
	} else {
		title += " · cycle " + p.Day
	}
	window := "no after-hours window in this cycle"
	if w := p.Window; !w.Empty() {
		window = "window " + textLongTime(w.Start.In(loc)) + " – " + textLongTime(w.End.In(loc)) + " (" + textDuration(w.Duration()) + ")"
		if p.From.After(w.Start) {
			window += " · planned from " + textTime(p.From.In(loc))
		}
	}
	fmt.Fprintf(&head, `<text x="%s" y="26" font-size="16" font-weight="bold" fill="%s">%s</text>`+"\n", svgNum(svgMargin), svgInk, svgEsc(title))
	fmt.Fprintf(&head, `<text x="%s" y="46" font-size="12" fill="%s">%s · times in %s</text>`+"\n", svgNum(svgMargin), svgGrey, svgEsc(window), svgEsc(loc.String()))
	// The legend, in lines that fit the width.
	lx, ly := svgMargin, 58.0
	for _, it := range d.legend {
		w := 12 + 6 + float64(len([]rune(it.label)))*svgSansW + 18
		if lx+w > width-svgMargin && lx > svgMargin {
			lx, ly = svgMargin, ly+18
		}
		fmt.Fprintf(&head, `<rect class="legend" x="%s" y="%s" width="12" height="12" fill="%s" stroke="%s" stroke-width="0.5"/>`+
			`<text x="%s" y="%s" font-size="11" fill="%s">%s</text>`+"\n",
			svgNum(lx), svgNum(ly), it.fill, svgGrid, svgNum(lx+18), svgNum(ly+10), svgInk, svgEsc(it.label))
		lx += w
	}
	dayY := ly + 12 + 22
	hourY := dayY + 15
	top := hourY + 8
	bottom := top + d.y + 4

	// The body, below the root element whose height it sets.
	root := buf
	buf = new(bytes.Buffer)
	buf.WriteString(svgDefs)
	fmt.Fprintf(buf, `<rect width="%s" height="100%%" fill="#ffffff"/>`+"\n", svgNum(width))
	buf.Write(head.Bytes())

	// Background: business hours, the window, what lies before From.
	band := func(class string, iv Interval, fill, extra string) {
		if x, w, ok := ax.clip(iv); ok {
			fmt.Fprintf(buf, `<rect class="%s" data-start="%s" data-end="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"%s/>`+"\n",
				class, svgInstant(iv.Start), svgInstant(iv.End), svgNum(x), svgNum(top), svgNum(w), svgNum(bottom-top), fill, extra)
		}
	}
	fmt.Fprintf(buf, `<rect x="%s" y="%s" width="%s" height="%s" fill="#fafbfc" stroke="%s"/>`+"\n",
		svgNum(ax.x0), svgNum(top), svgNum(ax.right()-ax.x0), svgNum(bottom-top), svgGrid)
	for _, iv := range business {
		band("business", iv, svgBusyFill, "")
	}
	band("window", p.Window, svgWindowFill, "")
	if p.From.After(p.Window.Start) && !p.Window.Empty() {
		band("past", Interval{p.Window.Start, p.From}, "#ffffff", ` fill-opacity="0.6"`)
	}

	// The axis: hour ticks and labels, day labels at midnight.
	fmt.Fprintf(buf, `<g class="axis" data-from="%s" data-to="%s" data-x0="%s" data-px-per-minute="%s" font-size="11">`+"\n",
		svgInstant(ax.from), svgInstant(ax.to), svgNum(ax.x0), svgNum(ax.ppm))
	dayLabel := func(t time.Time) string { return t.Format("Mon 2 Jan") }
	ticks := ax.ticks()
	firstMidnight := ax.right()
	for _, tk := range ticks {
		if tk.midnight {
			firstMidnight = ax.x(tk.at)
			break
		}
	}
	if firstMidnight-ax.x0 >= svgMonoWidth(dayLabel(ax.from.In(loc)))+svgLabelGap {
		fmt.Fprintf(buf, `<text class="day" x="%s" y="%s" font-weight="bold" fill="%s">%s</text>`+"\n", svgNum(ax.x0), svgNum(dayY), svgInk, dayLabel(ax.from.In(loc)))
	}
	for _, tk := range ticks {
		x := svgNum(ax.x(tk.at))
		stroke, sw := svgGrid, "1"
		if tk.midnight {
			stroke, sw = "#8a94a3", "1.5"
			fmt.Fprintf(buf, `<text class="day" x="%s" y="%s" font-weight="bold" fill="%s">%s</text>`+"\n", x, svgNum(dayY), svgInk, dayLabel(tk.at))
		}
		fmt.Fprintf(buf, `<line class="tick" data-at="%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"/>`+"\n",
			svgInstant(tk.at), x, svgNum(top-4), x, svgNum(bottom), stroke, sw)
		if tk.label {
			fmt.Fprintf(buf, `<text class="hour" data-at="%s" x="%s" y="%s" text-anchor="middle" fill="%s">%s</text>`+"\n",
				svgInstant(tk.at), x, svgNum(hourY), svgGrey, tk.at.Format("15:04"))
		}
	}
	buf.WriteString("</g>\n")

	// The rows, shifted below the axis.
	fmt.Fprintf(buf, `<g class="rows" transform="translate(0 %s)" font-size="11">`+"\n", svgNum(top))
	buf.Write(d.rows.Bytes())
	buf.WriteString("</g>\n")

	// Marks across the chart: offset changes and the instant planned from,
	// labelled under it.
	var lab svgLabeler
	var marks bytes.Buffer // their labels, over every line
	y := bottom + 4
	mark := func(class string, at time.Time, ink, label, attrs string) {
		x, tw := ax.x(at), svgMonoWidth(label)
		line := lab.place(x-tw/2, tw, ax.x0, width-svgMargin)
		ty := y + 11 + float64(line)*svgLineH
		fmt.Fprintf(buf, `<line class="%s" data-at="%s"%s x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="4 3"/>`+"\n",
			class, svgInstant(at), attrs, svgNum(x), svgNum(top-4), svgNum(x), svgNum(ty-9), ink)
		fmt.Fprintf(&marks, `<rect x="%s" y="%s" width="%s" height="12" fill="#ffffff"/>`+"\n", svgNum(lab.lastX-1), svgNum(ty-10), svgNum(tw+2))
		fmt.Fprintf(&marks, `<text x="%s" y="%s"%s font-size="11" fill="%s">%s</text>`+"\n", svgNum(lab.lastX), svgNum(ty), svgMonoAttr, ink, svgEsc(label))
	}
	for _, s := range ax.shifts() {
		verb := "clocks go forward"
		if s.toOffset < s.fromOffset {
			verb = "clocks go back"
		}
		label := fmt.Sprintf("%s %s: %s → %s", verb, textDuration(time.Duration(s.toOffset-s.fromOffset).Abs()*time.Second), s.from, s.to)
		mark("shift", s.at, svgShiftInk, label, fmt.Sprintf(` data-from-zone="%s" data-to-zone="%s"`, svgEsc(s.from), svgEsc(s.to)))
	}
	if p.From.After(p.Window.Start) && p.From.Before(p.Window.End) {
		mark("from", p.From, svgInk, "planned from "+textClock(p.From.In(loc)), "")
	}
	buf.Write(marks.Bytes())
	y += float64(len(lab.ends))*svgLineH + 14

	// Notes, then the deferred tasks.
	for _, s := range outside {
		fmt.Fprintf(buf, `<text class="note" x="%s" y="%s" font-size="11" fill="%s">%s</text>`+"\n", svgNum(svgMargin), svgNum(y), svgGrey, svgEsc(s))
		y += 15
	}
	y += 10
	y = d.writeDeferred(buf, y, width)
	buf.WriteString("</svg>\n")

	height := svgNum(y + 8)
	fmt.Fprintf(root, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s"`+
		` data-client="%s" data-day="%s" data-zone="%s" data-from="%s" data-to="%s" data-x0="%s" data-px-per-minute="%s"`+
		` font-family="DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif">`+"\n",
		svgNum(width), height, svgNum(width), height, svgEsc(p.Client), svgEsc(p.Day), svgEsc(loc.String()),
		svgInstant(ax.from), svgInstant(ax.to), svgNum(ax.x0), svgNum(ax.ppm))
	root.Write(buf.Bytes())
}

// writeDeferred lists the deferred tasks from y on and returns the y after.
func (d *svgDrawing) writeDeferred(buf *bytes.Buffer, y, width float64) float64 {
	p := d.p
	if len(p.Deferred) == 0 {
		fmt.Fprintf(buf, `<text x="%s" y="%s" font-size="13" font-weight="bold" fill="%s">Nothing is deferred: every task of the profile runs.</text>`+"\n", svgNum(svgMargin), svgNum(y), svgInk)
		return y + 6
	}
	heading := "Deferred: 1 task does not run in this cycle"
	if n := len(p.Deferred); n > 1 {
		heading = fmt.Sprintf("Deferred: %d tasks do not run in this cycle", n)
	}
	fmt.Fprintf(buf, `<text x="%s" y="%s" font-size="13" font-weight="bold" fill="%s">%s</text>`+"\n", svgNum(svgMargin), svgNum(y), svgInk, heading)
	y += 20
	chars := max(30, int((width-2*svgMargin-24)/svgSansW))
	for _, def := range p.Deferred {
		ink := svgGrey
		switch {
		case def.Reason == ReasonFailed || def.Reason == ReasonStopped:
			ink = svgDownInk
		case strings.HasPrefix(def.Reason, "downtime:") || def.Reason == ReasonWindowFull || def.Reason == ReasonBusinessHours ||
			def.Reason == ReasonNoSlot || def.Reason == ReasonUpdatesPending:
			ink = "#b7791f"
		}
		fmt.Fprintf(buf, `<g class="deferral" data-task="%s" data-kind="%s" data-reason="%s">`+"\n", svgEsc(def.Task.Name), def.Task.Kind(), svgEsc(def.Reason))
		fmt.Fprintf(buf, `<text x="%s" y="%s" font-size="12"><tspan font-family="DejaVu Sans Mono, Liberation Mono, monospace" font-weight="bold" fill="%s">%s</tspan><tspan fill="%s"> (%s) </tspan><tspan font-weight="bold" fill="%s">%s</tspan></text>`+"\n",
			svgNum(svgMargin), svgNum(y), svgInk, svgEsc(def.Task.Name), svgGrey, def.Task.Kind(), ink, svgEsc(def.Reason))
		y += 15
		for _, line := range svgWrap(def.Detail, chars) {
			fmt.Fprintf(buf, `<text x="%s" y="%s" font-size="11" fill="%s">%s</text>`+"\n", svgNum(svgMargin+24), svgNum(y), svgGrey, svgEsc(line))
			y += 14
		}
		buf.WriteString("</g>\n")
		y += 5
	}
	return y
}

// svgLabeler packs labels into lines under a row: each goes in the first
// line with room for it.
type svgLabeler struct {
	ends  []float64 // per line, the x from which it is free
	lastX float64   // x of the label placed last
}

// place puts a label of width w at x (moved left to end by right, never left
// of left) and returns its line.
func (l *svgLabeler) place(x, w, left, right float64) int {
	x = max(left, min(x, right-w))
	l.lastX = x
	for i, end := range l.ends {
		if x >= end {
			l.ends[i] = x + w + svgLabelGap
			return i
		}
	}
	l.ends = append(l.ends, x+w+svgLabelGap)
	return len(l.ends) - 1
}

// svgRow draws one row of bars at y (relative to the rows' group), labels
// inside the bars that have room and under the others.
type svgRow struct {
	d       *svgDrawing
	y       float64
	lab     svgLabeler
	leaders bytes.Buffer // drawn under the texts
	texts   bytes.Buffer
}

func (d *svgDrawing) heading(title string) {
	fmt.Fprintf(&d.rows, `<text class="heading" x="%s" y="%s" font-size="10" font-weight="bold" letter-spacing="1" fill="%s">%s</text>`+"\n",
		svgNum(svgMargin), svgNum(d.y+14), svgGrey, svgEsc(strings.ToUpper(title)))
	fmt.Fprintf(&d.rows, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n",
		svgNum(svgMargin), svgNum(d.y+18), svgNum(d.ax.right()), svgNum(d.y+18), svgGrid)
	d.y += 22
}

func (d *svgDrawing) row(label string) *svgRow {
	fmt.Fprintf(&d.rows, `<text class="row-label" x="%s" y="%s" font-family="DejaVu Sans Mono, Liberation Mono, monospace" fill="%s">%s<title>%s</title></text>`+"\n",
		svgNum(svgMargin+8), svgNum(d.y+4+11), svgInk, svgEsc(svgTrunc(label, svgLabelChars)), svgEsc(label))
	return &svgRow{d: d, y: d.y}
}

// bar draws a rectangle for iv, clipped to the axis, with the element's
// class and data attributes, a tooltip, and a label. It reports whether
// anything was drawn.
func (r *svgRow) bar(class, attrs string, iv Interval, fill, extra, tooltip, label string) bool {
	x, w, ok := r.d.ax.clip(iv)
	if !ok {
		return false
	}
	fmt.Fprintf(&r.d.rows, `<rect class="%s"%s data-start="%s" data-end="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"%s><title>%s</title></rect>`+"\n",
		class, attrs, svgInstant(iv.Start), svgInstant(iv.End), svgNum(x), svgNum(r.y+4), svgNum(w), svgNum(svgBarH), fill, extra, svgEsc(tooltip))
	r.label(x, w, label, svgInk)
	return true
}

const svgMonoAttr = ` font-family="DejaVu Sans Mono, Liberation Mono, monospace"`

// label writes text inside the bar at x, w when it fits, else under it.
func (r *svgRow) label(x, w float64, text, ink string) {
	if text == "" {
		return
	}
	tw := svgMonoWidth(text)
	if tw+8 <= w {
		fmt.Fprintf(&r.texts, `<text x="%s" y="%s"%s fill="#ffffff">%s</text>`+"\n", svgNum(x+4), svgNum(r.y+4+11), svgMonoAttr, svgEsc(text))
		return
	}
	line := r.lab.place(x+3, tw, r.d.ax.x0, r.d.ax.right())
	ty := r.y + 4 + svgBarH + 11 + float64(line)*svgLineH
	fmt.Fprintf(&r.leaders, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1"/>`+"\n",
		svgNum(x+0.5), svgNum(r.y+4+svgBarH), svgNum(x+0.5), svgNum(ty-3), svgGrey)
	// A pale ground keeps the text readable over the leaders of the labels
	// below it.
	fmt.Fprintf(&r.texts, `<rect x="%s" y="%s" width="%s" height="12" fill="#ffffff" fill-opacity="0.85"/>`+"\n",
		svgNum(r.lab.lastX-1), svgNum(ty-10), svgNum(tw+2))
	fmt.Fprintf(&r.texts, `<text x="%s" y="%s"%s fill="%s">%s</text>`+"\n", svgNum(r.lab.lastX), svgNum(ty), svgMonoAttr, ink, svgEsc(text))
}

// end writes the row's labels and moves the drawing below the row.
func (r *svgRow) end() {
	r.d.rows.Write(r.leaders.Bytes())
	r.d.rows.Write(r.texts.Bytes())
	h := 4 + svgBarH + 6
	if n := len(r.lab.ends); n > 0 {
		h += float64(n)*svgLineH + 2
	}
	r.d.y += h
}

// drawRows lays out the rows: sharing tokens, lanes, timers, downtimes. It
// returns notes on the slots that lie outside the chart.
func (d *svgDrawing) drawRows() (outside []string) {
	p, loc := d.p, d.loc
	in := func(iv Interval) Interval { return Interval{iv.Start.In(loc), iv.End.In(loc)} }
	taskNames := func(ts []*Task) string {
		names := make([]string, 0, len(ts))
		for _, t := range ts {
			names = append(names, t.Name)
		}
		return strings.Join(names, ", ")
	}

	// Sharing tokens, in order of first appearance.
	var tokens []string
	for _, list := range [][]Slot{p.Slots, p.Neighbours} {
		for _, s := range list {
			if !slices.Contains(tokens, s.Token) {
				tokens = append(tokens, s.Token)
			}
		}
	}
	if len(tokens) > 0 {
		d.heading("sharing slots (hold = buffer + slot)")
	}
	for _, tok := range tokens {
		r := d.row(tok)
		for k, list := range [][]Slot{p.Slots, p.Neighbours} {
			for _, s := range list {
				if s.Token != tok {
					continue
				}
				neighbour := k == 1
				attrs := fmt.Sprintf(` data-token="%s"`, svgEsc(s.Token))
				if s.Void {
					attrs += ` data-void="true"`
				}
				if neighbour {
					attrs += ` data-neighbour="true"`
				}
				extra := ""
				if neighbour {
					extra = ` fill-opacity="0.5"`
				}
				bufFill, runFill := "url(#afterhours-buffer)", svgSlotFill
				if s.Void {
					bufFill, runFill = "url(#afterhours-void)", "url(#afterhours-void)"
				}
				drawn := false
				if !s.Buffer.Empty() {
					d.legendAdd("url(#afterhours-buffer)", "buffer zone")
					drawn = r.bar("buffer", attrs, s.Buffer, bufFill, extra, s.Token+" buffer zone "+textInterval(in(s.Buffer)), "")
				}
				tasks := taskNames(s.Tasks)
				label := tasks
				switch {
				case s.Void:
					label = "void: in business hours"
					d.legendAdd("url(#afterhours-void)", "void slot (business hours)")
				case neighbour:
					label = "next cycle's: " + tasks
					if s.Run.Start.Before(p.Span.Start) {
						label = "previous cycle's: " + tasks
					}
				}
				if label == "" {
					label = "no task"
				}
				d.legendAdd(svgSlotFill, "slot")
				tip := fmt.Sprintf("%s slot %s: %s", s.Token, textInterval(in(s.Run)), label)
				if r.bar("slot", attrs+fmt.Sprintf(` data-tasks="%s"`, svgEsc(tasks)), s.Run, runFill, extra, tip, label) || drawn {
					continue
				}
				if !neighbour {
					outside = append(outside, fmt.Sprintf("Off the chart: %s slot %s (%s)", s.Token, textInterval(in(s.Run)), label))
				}
			}
		}
		r.end()
	}

	// Steps, a row a lane.
	lanes, n := svgLanes(p.Steps)
	d.heading("steps (parallel lanes)")
	if n == 0 {
		r := d.row("lane 1")
		fmt.Fprintf(&d.rows, `<text x="%s" y="%s" fill="%s">no step is placed in this cycle</text>`+"\n", svgNum(d.ax.x0+8), svgNum(r.y+4+11), svgGrey)
		r.end()
	}
	for l := range n {
		r := d.row(fmt.Sprintf("lane %d", l+1))
		for i, s := range p.Steps {
			if lanes[i] != l {
				continue
			}
			k := s.Task.Kind()
			d.legendAdd(svgKindFill(k), k.String())
			attrs := fmt.Sprintf(` data-task="%s" data-kind="%s" data-lane="%d"`, svgEsc(s.Task.Name), k, l+1)
			tip := fmt.Sprintf("%s (%s) %s, %s", s.Task.Name, k, textInterval(in(s.Interval)), textDuration(s.Duration()))
			if r.bar("step", attrs, s.Interval, svgKindFill(k), "", tip, s.Task.Name) && s.Start.After(d.ax.from) {
				// A hairline at its start tells it from a step of its kind
				// ending there; the bar itself keeps its exact geometry.
				x := svgNum(d.ax.x(s.Start))
				fmt.Fprintf(&d.rows, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#ffffff" stroke-width="1"/>`+"\n",
					x, svgNum(r.y+4), x, svgNum(r.y+4+svgBarH))
			}
		}
		r.end()
	}

	// Timers, a row a timer, a tick a run.
	var timers []*Task
	runs := map[*Task][]time.Time{}
	for _, tr := range p.Timers {
		if runs[tr.Task] == nil {
			timers = append(timers, tr.Task)
		}
		runs[tr.Task] = append(runs[tr.Task], tr.At)
	}
	if len(timers) > 0 {
		d.heading("timers (a tick a run)")
		d.legendAdd(svgTimerInk, "timer run")
	}
	for _, t := range timers {
		r := d.row(t.Name)
		first, drawn := 0.0, 0
		for _, at := range runs[t] {
			if at.Before(d.ax.from) || !at.Before(d.ax.to) {
				continue
			}
			x := svgNum(d.ax.x(at))
			if drawn == 0 {
				first = d.ax.x(at)
			}
			drawn++
			fmt.Fprintf(&d.rows, `<line class="timer" data-task="%s" data-at="%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5"/>`+"\n",
				svgEsc(t.Name), svgInstant(at), x, svgNum(r.y+4), x, svgNum(r.y+4+svgBarH), svgTimerInk)
		}
		if drawn > 0 {
			r.label(first, 0, fmt.Sprintf("%d runs on the chart, %d in the cycle", drawn, len(runs[t])), svgGrey)
		}
		r.end()
	}

	// Downtimes, a row a resource.
	var resources []string
	for _, dt := range p.Downtimes {
		if !slices.Contains(resources, dt.Resource) {
			resources = append(resources, dt.Resource)
		}
	}
	if len(resources) > 0 {
		d.heading("downtimes (per resource)")
		d.legendAdd("url(#afterhours-down)", "downtime")
	}
	for _, res := range resources {
		r := d.row(res)
		for _, dt := range p.Downtimes {
			if dt.Resource != res {
				continue
			}
			attrs := fmt.Sprintf(` data-resource="%s" data-action="%s"`, svgEsc(dt.Resource), svgEsc(dt.Action))
			label := dt.Resource + " down: " + dt.Action
			extra := ` stroke="` + svgDownInk + `" stroke-width="1"`
			if dt.Ended {
				attrs += ` data-ended="true"`
				label += ", ended early"
				extra += ` stroke-dasharray="3 2"`
			}
			r.bar("downtime", attrs, dt.Interval, "url(#afterhours-down)", extra, label+" "+textInterval(in(dt.Interval)), label)
		}
		r.end()
	}
	return outside
}
