package fleet

import (
	"math"
	"slices"
	"time"

	"github.com/afterhours-go/afterhours"
)

// counter counts, minute by minute, the placed clients that are in their
// slots, for one capacity: the fleet's (one per time zone for a "site"
// resource) or one LAN's.
//
// Away from offset changes every day looks the same, so a day of 1440
// minutes is enough: a frame, in the wall clock of the counter's first zone,
// in which a client of zone k at base m occupies minutes m+shift[k] to
// m+shift[k]+dlen-1, round the day. A counter whose zones keep the same
// offsets from each other all year (one zone, or UTC) has one frame; zones
// whose DST starts on different dates give one frame per arrangement of
// their offsets. Around each offset change, where yesterday's slots and
// today's are read with different offsets and a wall time may be skipped or
// repeated, a window of exact per-minute counts over four days takes over.
// Frames are only kept for arrangements in force somewhere outside those
// windows, so the counter is exact: it never refuses a base that would stay
// within capacity on every date of the period, except at the period's edges,
// where a frame counts the slots of dates just outside it.
type counter struct {
	cap    int32 // math.MaxInt32 when unlimited
	dlen   int   // minutes a slot occupies
	zones  []*zoneInfo
	frames []*frame
	wins   []*window
	// touched holds, for a LAN's counter, the frame minutes whose counts
	// or peaks may not be zero: what reset clears, and the leaves a tree
	// must recompute when the counter is laid over it or taken off.
	touched minuteSet
	// tree is the counter's minTree, for a fleet counter of one frame;
	// ovTree the tree this (LAN) counter is laid over, if any.
	tree, ovTree *minTree
	// resets is set for a LAN's counter, one emptied by reset many times:
	// it keeps what to clear (touched, the windows' spans), and no sums,
	// since only the fleet's load orders bases. A fleet counter keeps the
	// sums, and reset clears it whole.
	resets bool
	// scratch for the sliding maximum
	vals, pre, suf []int32
}

// frame is one day of counts, round the clock.
type frame struct {
	conc  [minutesPerDay]int32 // clients in their slots at each minute
	peak  [minutesPerDay]int32 // most of conc over the dlen minutes from each minute
	sum   [minutesPerDay]int32 // sum of conc over the dlen minutes from each minute
	shift []int                // per counter zone, in [0, 1440)
}

// window holds exact counts over the four days around an offset change.
type window struct {
	first int64   // Unix minute of conc[0]
	conc  []int32 // clients in their slots at each minute
	// full counts the minutes of conc at the counter's capacity: while
	// there are none, every slot fits the window.
	full int
	// spans are the slots counted since the last reset, conc[lo:hi] each,
	// for counters that are reset (a LAN's): what reset clears.
	spans [][2]int32
	dates [][]int // per counter zone: the period's dates whose slots can touch the window
}

const windowHalf = 2 * minutesPerDay // minutes on each side of an offset change

// newCounter returns an empty counter of capacity limit (0 for none) for
// slots of dlen minutes of clients in zones, over the horizon dates p0 to
// p0+n-1.
func newCounter(zones []*zoneInfo, p0, n, limit, dlen int) *counter {
	scratch := 2*minutesPerDay + dlen
	c := &counter{cap: math.MaxInt32, dlen: dlen, zones: zones,
		vals: make([]int32, scratch), pre: make([]int32, scratch), suf: make([]int32, scratch)}
	if limit > 0 {
		c.cap = int32(min(limit, math.MaxInt32))
	}
	// Windows around every offset change of every zone.
	var trans []int64
	for _, z := range zones {
		trans = append(trans, z.trans...)
	}
	slices.Sort(trans)
	trans = slices.Compact(trans)
	for _, tr := range trans {
		w := &window{first: floorDiv(tr, 60) - windowHalf, conc: make([]int32, 2*windowHalf)}
		for _, z := range zones {
			from := max(z.index(afterhours.DateOf(time.Unix(tr-3*secondsPerDay, 0).In(z.loc))), p0)
			to := min(z.index(afterhours.DateOf(time.Unix(tr+2*secondsPerDay, 0).In(z.loc))), p0+n-1)
			var ds []int
			for i := from; i <= to; i++ {
				ds = append(ds, i)
			}
			w.dates = append(w.dates, ds)
		}
		c.wins = append(c.wins, w)
	}
	// Frames for the arrangements of offsets in force outside the windows,
	// from the period's first midnight to a day past its last.
	from, to := zones[0].mids[p0], zones[0].mids[p0+n-1]+2*secondsPerDay
	var samples []int64
	at := from
	for _, w := range c.wins {
		if lo := w.first * 60; at < lo && at < to {
			samples = append(samples, at)
		}
		at = max(at, (w.first+int64(len(w.conc)))*60)
	}
	if at < to || len(samples) == 0 {
		samples = append(samples, min(at, to))
	}
	for _, t := range samples {
		off0 := zones[0].offsetAt(t)
		shift := make([]int, len(zones))
		for k, z := range zones {
			shift[k] = mod(-(z.offsetAt(t)-off0)/60, minutesPerDay)
		}
		if !slices.ContainsFunc(c.frames, func(f *frame) bool { return slices.Equal(f.shift, shift) }) {
			c.frames = append(c.frames, &frame{shift: shift})
		}
	}
	return c
}

func mod(a, b int) int {
	r := a % b
	if r < 0 {
		r += b
	}
	return r
}

// reset empties the counter, and takes it off the tree it is laid over.
func (c *counter) reset() {
	if c.ovTree != nil {
		c.ovTree.overlay(nil)
	}
	for _, f := range c.frames {
		if !c.resets {
			clear(f.conc[:])
			clear(f.peak[:])
			clear(f.sum[:])
			continue
		}
		c.touched.eachRun(func(lo, hi int) {
			clear(f.conc[lo:hi])
			clear(f.peak[lo:hi])
		})
	}
	c.touched = minuteSet{}
	for _, w := range c.wins {
		if !c.resets {
			clear(w.conc)
		}
		for _, sp := range w.spans {
			clear(w.conc[sp[0]:sp[1]])
		}
		w.spans = w.spans[:0]
		w.full = 0
	}
	if c.tree != nil {
		c.tree.update(0, minutesPerDay)
	}
}

// zoneIndex returns the position of z among the counter's zones.
func (c *counter) zoneIndex(z *zoneInfo) int {
	for k, cz := range c.zones {
		if cz == z {
			return k
		}
	}
	panic("fleet: counter has no zone " + z.name) // an allocator bug, never input
}

// plain reports whether the counter has one frame in which a client of
// zone k at base m occupies the minutes from m.
func (c *counter) plain(k int) bool {
	return len(c.frames) == 1 && c.frames[0].shift[k] == 0
}

// peakAt returns the most clients in their slots during the slot of a
// client of zone k at base m, as the frames count them.
func (c *counter) peakAt(m, k int) int32 {
	f := c.frames[0]
	p := f.peak[(m+f.shift[k])%minutesPerDay]
	for _, f := range c.frames[1:] {
		p = max(p, f.peak[(m+f.shift[k])%minutesPerDay])
	}
	return p
}

// fitsWindows reports whether a client of zone k at base m stays within
// capacity in every window.
func (c *counter) fitsWindows(m, k int) bool {
	z := c.zones[k]
	for _, w := range c.wins {
		if w.full == 0 {
			continue
		}
		for _, i := range w.dates[k] {
			lo, hi := w.span(z.start(i, m), c.dlen)
			for _, n := range w.conc[lo:hi] {
				if n >= c.cap {
					return false
				}
			}
		}
	}
	return true
}

// span returns the indices of w.conc a slot of dlen minutes starting at Unix
// second s occupies.
func (w *window) span(s int64, dlen int) (lo, hi int) {
	a := floorDiv(s, 60) - w.first
	b := a + int64(dlen)
	a, b = max(a, 0), min(b, int64(len(w.conc)))
	if a >= b {
		return 0, 0
	}
	return int(a), int(b)
}

// fits reports whether a client of zone k at base m stays within capacity.
func (c *counter) fits(m, k int) bool {
	return c.peakAt(m, k) < c.cap && c.fitsWindows(m, k)
}

// add counts a client of zone k at base m.
func (c *counter) add(m, k int) {
	c.change(m, k, 1)
	c.updateTrees(m, k, nil)
}

// remove uncounts a client of zone k at base m, added before.
func (c *counter) remove(m, k int) {
	c.change(m, k, -1)
	c.updateTrees(m, k, nil)
}

// updateTrees updates the trees that read the counter, but done, for a
// change at base m of zone k.
func (c *counter) updateTrees(m, k int, done *minTree) {
	if c.tree == nil && c.ovTree == nil {
		return
	}
	x := (m + c.frames[0].shift[k]) % minutesPerDay
	if c.tree != nil && c.tree != done {
		c.tree.updateAround(x, c.dlen)
	}
	if c.ovTree != nil && c.ovTree != done {
		c.ovTree.updateAround(x, c.dlen)
	}
}

// change adds delta clients, 1 or -1, of zone k at base m. The trees that
// read the counter are left for the caller to update.
func (c *counter) change(m, k int, delta int32) {
	d := c.dlen
	for _, f := range c.frames {
		x := m + f.shift[k]
		if x >= minutesPerDay {
			x -= minutesPerDay
		}
		if delta > 0 && 2*d-1 < minutesPerDay {
			c.raise(f, x, delta)
		} else {
			for i, j := 0, x; i < d; i++ {
				f.conc[j] += delta
				if j++; j == minutesPerDay {
					j = 0
				}
			}
			c.refresh(f, x)
			if !c.resets {
				c.addSums(f, x, delta)
			}
		}
		if c.resets {
			c.touched.addCyclic(x-d+1, 2*d-1)
		}
	}
	z := c.zones[k]
	for _, w := range c.wins {
		for _, i := range w.dates[k] {
			lo, hi := w.span(z.start(i, m), d)
			if lo == hi {
				continue
			}
			// A minute becomes full from one short of the capacity, and
			// stops being full from the capacity.
			edge := c.cap - 1
			if delta < 0 {
				edge = c.cap
			}
			for j := lo; j < hi; j++ {
				if w.conc[j] == edge {
					w.full += int(delta)
				}
				w.conc[j] += delta
			}
			if c.resets && delta > 0 {
				w.spans = append(w.spans, [2]int32{int32(lo), int32(hi)})
			}
		}
	}
}

// raise adds delta > 0 to the counts of a slot at frame minute x, raises
// the peaks that changed, and for a fleet counter adds to the sums, for
// slots shorter than half a day. Counts only grew, so the peak of a slot
// that overlaps this one is its old peak or the largest new count of the
// overlap, whichever is larger. A slot from y = x+i (i = 1-dlen to
// dlen-1) overlaps this one's minutes x to x+i+dlen-1 when i <= 0 (a
// prefix), x+i to x+dlen-1 when i >= 0 (a suffix): the running maxima
// from either end give them all.
func (c *counter) raise(f *frame, x int, delta int32) {
	d := c.dlen
	lo := x - d + 1
	if lo < 0 || x+d > minutesPerDay {
		c.raiseRound(f, x, delta)
		return
	}
	// No wrap round midnight: peak[i] and sum[i] are those of minute lo+i,
	// the slot's minute x+i is conc[i].
	conc, peak, sum := f.conc[x:x+d], f.peak[lo:x+d], f.sum[lo:x+d]
	top := int32(math.MinInt32)
	for i := range conc {
		v := conc[i] + delta
		conc[i] = v
		top = max(top, v)
		peak[i] = max(peak[i], top)
	}
	top = math.MinInt32
	for i := d - 1; i >= 1; i-- {
		top = max(top, conc[i])
		peak[d-1+i] = max(peak[d-1+i], top)
	}
	if c.resets {
		return
	}
	for i := range d {
		sum[i] += delta * int32(i+1)
	}
	for i := 1; i < d; i++ {
		sum[d-1+i] += delta * int32(d-i)
	}
}

// raiseRound is raise for a slot whose minutes, or those of the slots
// that overlap it, go round midnight.
func (c *counter) raiseRound(f *frame, x int, delta int32) {
	d := c.dlen
	pre := c.pre[:d]
	top := int32(math.MinInt32)
	for i, j := 0, x; i < d; i++ {
		v := f.conc[j] + delta
		f.conc[j] = v
		top = max(top, v)
		pre[i] = top
		if j++; j == minutesPerDay {
			j = 0
		}
	}
	y := x - d + 1
	if y < 0 {
		y += minutesPerDay
	}
	for i := range d {
		f.peak[y] = max(f.peak[y], pre[i])
		if y++; y == minutesPerDay {
			y = 0
		}
	}
	top = math.MinInt32
	for i := d - 1; i >= 1; i-- {
		j := x + i
		if j >= minutesPerDay {
			j -= minutesPerDay
		}
		top = max(top, f.conc[j])
		f.peak[j] = max(f.peak[j], top)
	}
	if !c.resets {
		c.addSums(f, x, delta)
	}
}

// refresh recomputes the peaks that a slot added or removed at frame
// minute x changed: those of the minutes x-dlen+1 to x+dlen-1. It uses the
// van Herk/Gil-Werman sliding maximum over a copy of the counts: blocks of
// dlen values, the running maximum from each block's start (pre) and to
// its end (suf); the maximum of the window [j, j+dlen) is max(suf[j],
// pre[j+dlen-1]).
func (c *counter) refresh(f *frame, x int) {
	d := c.dlen
	y0, count := x-d+1, 2*d-1
	if count >= minutesPerDay {
		y0, count = 0, minutesPerDay
	}
	if y0 < 0 {
		y0 += minutesPerDay
	}
	n := count + d - 1
	vals, pre, suf := c.vals[:n], c.pre[:n], c.suf[:n]
	for k, j := 0, y0; k < n; k++ {
		vals[k] = f.conc[j]
		if j++; j == minutesPerDay {
			j = 0
		}
	}
	for start := 0; start < n; start += d {
		end := min(start+d, n)
		pre[start] = vals[start]
		for k := start + 1; k < end; k++ {
			pre[k] = max(pre[k-1], vals[k])
		}
		suf[end-1] = vals[end-1]
		for k := end - 2; k >= start; k-- {
			suf[k] = max(suf[k+1], vals[k])
		}
	}
	for j, y := 0, y0; j < count; j++ {
		f.peak[y] = max(suf[j], pre[j+d-1])
		if y++; y == minutesPerDay {
			y = 0
		}
	}
}

// addSums adds delta times the overlap with a slot at frame minute x to
// the sums of the slots that overlap it.
func (c *counter) addSums(f *frame, x int, delta int32) {
	d := c.dlen
	if 2*d-1 >= minutesPerDay {
		// Long slots: recompute every sum.
		var s int32
		for i := range d {
			s += f.conc[i%minutesPerDay]
		}
		for y := range minutesPerDay {
			f.sum[y] = s
			s += f.conc[(y+d)%minutesPerDay] - f.conc[y]
		}
		return
	}
	y := x - d + 1
	if y < 0 {
		y += minutesPerDay
	}
	for j := 1 - d; j < d; j++ {
		overlap := d - j
		if j < 0 {
			overlap = d + j
		}
		f.sum[y] += delta * int32(overlap)
		if y++; y == minutesPerDay {
			y = 0
		}
	}
}

// sumAt returns the load of the slot of a client of zone k at base m: the
// sum of its minutes' counts in the first frame.
func (c *counter) sumAt(m, k int) int32 {
	f := c.frames[0]
	return f.sum[(m+f.shift[k])%minutesPerDay]
}
