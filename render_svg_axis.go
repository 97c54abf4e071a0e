package afterhours

import (
	"encoding/xml"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The drawing's fixed measures, in CSS pixels.
const (
	svgMargin     = 16.0  // left margin, and the right margin after the chart
	svgX0         = 196.0 // x of the axis' origin; the row labels take the column before it
	svgMaxChart   = 1080.0
	svgCharW      = 6.63 // advance of an 11px DejaVu Sans Mono character (0.602 em)
	svgSansW      = 6.6  // a generous average advance of an 11px sans-serif character
	svgBarH       = 14.0
	svgLineH      = 13.0
	svgLabelGap   = 8.0
	svgMinTickGap = 46.0 // least distance between two hour labels
	svgLabelChars = 26   // longest row label shown in full
)

// svgPxPerMinute are the scales the axis may take: the largest that fits the
// drawn range in svgMaxChart pixels is used, so that positions are exact
// decimals.
var svgPxPerMinute = []float64{4, 3, 2, 1.5, 1.25, 1, 0.8, 0.75, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.125, 0.1, 0.08, 0.05, 0.04, 0.025, 0.02, 0.01}

// svgAxis maps instants to x: x0 + minutes since from × ppm. It is linear in
// elapsed time, so a DST day is drawn with its real length.
type svgAxis struct {
	from, to time.Time
	loc      *time.Location
	x0, ppm  float64
}

// newSVGAxis draws the window (the span when the window is empty) with a
// whole local hour of margin on each side.
func newSVGAxis(p *Plan, loc *time.Location) svgAxis {
	base := p.Window
	if base.Empty() {
		base = p.Span
	}
	if base.Empty() {
		base = Interval{p.Window.Start, p.Window.Start.Add(time.Hour)}
	}
	from := textFloor(base.Start.In(loc), time.Hour).Add(-time.Hour)
	to := textFloor(base.End.In(loc), time.Hour)
	if to.Before(base.End) {
		to = to.Add(time.Hour)
	}
	to = to.Add(time.Hour)
	minutes := to.Sub(from).Minutes()
	ax := svgAxis{from: from, to: to, loc: loc, x0: svgX0, ppm: svgMaxChart / minutes}
	for _, ppm := range svgPxPerMinute {
		if minutes*ppm <= svgMaxChart {
			ax.ppm = ppm
			break
		}
	}
	return ax
}

// x returns the abscissa of t.
func (ax svgAxis) x(t time.Time) float64 {
	return ax.x0 + t.Sub(ax.from).Minutes()*ax.ppm
}

// right is the abscissa of the axis' end.
func (ax svgAxis) right() float64 { return ax.x(ax.to) }

// clip returns the abscissa and width of iv clipped to the axis; ok is
// false when nothing of it is on the axis.
func (ax svgAxis) clip(iv Interval) (x, w float64, ok bool) {
	start, end := laterOf(iv.Start, ax.from), iv.End
	if end.After(ax.to) {
		end = ax.to
	}
	if !end.After(start) {
		return 0, 0, false
	}
	return ax.x(start), end.Sub(start).Minutes() * ax.ppm, true
}

// svgTick is an hour of local time on the axis.
type svgTick struct {
	at       time.Time
	label    bool // the hour is labelled
	midnight bool
}

// ticks returns the local whole hours on the axis, walking elapsed time by
// quarter hours (every zone's offset is a multiple of 15 minutes today) so
// that an hour a DST gap skips has no tick and one that occurs twice has
// two. Labels go every 1, 2, 3, 4, 6, 12 or 24 hours, as often as they stay
// svgMinTickGap apart, and are left out where a jump brings two too close.
func (ax svgAxis) ticks() []svgTick {
	every := 24
	for _, k := range []int{1, 2, 3, 4, 6, 12} {
		if float64(k)*60*ax.ppm >= svgMinTickGap {
			every = k
			break
		}
	}
	var ticks []svgTick
	last := math.Inf(-1)
	for t := ax.from.Truncate(15 * time.Minute); !t.After(ax.to); t = t.Add(15 * time.Minute) {
		lt := t.In(ax.loc)
		if t.Before(ax.from) || lt.Minute() != 0 || lt.Second() != 0 {
			continue
		}
		tk := svgTick{at: lt, midnight: lt.Hour() == 0}
		if x := ax.x(t); lt.Hour()%every == 0 && x-last >= svgMinTickGap {
			tk.label, last = true, x
		}
		ticks = append(ticks, tk)
	}
	return ticks
}

// svgShift is a change of the zone's offset on the axis.
type svgShift struct {
	at         time.Time
	from, to   string // abbreviations
	fromOffset int
	toOffset   int
}

// shifts returns the offset changes (DST and others) on the axis.
func (ax svgAxis) shifts() []svgShift {
	var out []svgShift
	t := ax.from.In(ax.loc)
	for range 64 {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(ax.to) {
			break
		}
		before, off0 := t.Zone()
		after, off1 := end.In(ax.loc).Zone()
		out = append(out, svgShift{at: end.In(ax.loc), from: before, to: after, fromOffset: off0, toOffset: off1})
		t = end.In(ax.loc)
	}
	return out
}

// svgBusiness returns the site's business intervals that overlap the axis,
// those that touch merged.
func svgBusiness(s *Site, ax svgAxis) []Interval {
	if s == nil || !s.validated || !s.open {
		return nil
	}
	var out []Interval
	last := DateOf(ax.to.In(s.loc)).AddDays(1)
	for d := DateOf(ax.from.In(s.loc)).AddDays(-1); d.Compare(last) <= 0; d = d.AddDays(1) {
		for _, sp := range s.spansOn(d) {
			iv := s.businessInterval(d, sp)
			iv = Interval{iv.Start.In(s.loc), iv.End.In(s.loc)}
			if iv.Empty() || !iv.Overlaps(Interval{ax.from, ax.to}) {
				continue
			}
			if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
				out[n-1].End = laterOf(out[n-1].End, iv.End)
				continue
			}
			out = append(out, iv)
		}
	}
	return out
}

// Lanes returns the lane of each of the plan's steps, from 0, in the order
// of Steps: the lane the executor's parallel lanes run it in (the first
// lane free at its start, steps taken in order of start), and the one
// [Plan.WriteSVG] draws it in, numbered from 1 there.
func (p *Plan) Lanes() []int {
	lanes, _ := svgLanes(p.Steps)
	return lanes
}

// svgLanes assigns each step the lane the executor's parallel lanes would
// run it in: the first lane free at its start, steps taken in order of
// start. It returns each step's lane and the number of lanes.
func svgLanes(steps []Step) (lanes []int, n int) {
	order := make([]int, len(steps))
	for i := range order {
		order[i] = i
	}
	// Plans list steps in order of start; sort anyway, stably, for plans
	// built by hand.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && steps[order[j]].Start.Before(steps[order[j-1]].Start); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	lanes = make([]int, len(steps))
	var free []time.Time
	for _, i := range order {
		l := -1
		for k, end := range free {
			if !end.After(steps[i].Start) {
				l = k
				break
			}
		}
		if l < 0 {
			l = len(free)
			free = append(free, time.Time{})
		}
		free[l], lanes[i] = steps[i].End, l
	}
	return lanes, len(free)
}

// svgNum formats a coordinate with at most two decimals.
func svgNum(v float64) string {
	v = math.Round(v*100) / 100
	if v == 0 {
		v = 0 // no "-0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// svgEsc escapes s for XML text and attribute values.
func svgEsc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}

// svgInstant formats an instant for a data attribute: RFC 3339 in UTC.
func svgInstant(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// svgTrunc shortens s to at most n characters, with an ellipsis.
func svgTrunc(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// svgMonoWidth is the width of s in the 11px monospace font.
func svgMonoWidth(s string) float64 { return float64(utf8.RuneCountInString(s)) * svgCharW }

// svgWrap breaks s into lines of at most n characters at spaces (a word
// longer than n is cut).
func svgWrap(s string, n int) []string {
	var lines []string
	var line []rune
	for _, word := range strings.Fields(s) {
		w := []rune(word)
		for len(w) > n {
			if len(line) > 0 {
				lines, line = append(lines, string(line)), nil
			}
			lines, w = append(lines, string(w[:n])), w[n:]
		}
		switch {
		case len(line) == 0:
			line = w
		case len(line)+1+len(w) <= n:
			line = append(append(line, ' '), w...)
		default:
			lines, line = append(lines, string(line)), w
		}
	}
	if len(line) > 0 {
		lines = append(lines, string(line))
	}
	return lines
}
