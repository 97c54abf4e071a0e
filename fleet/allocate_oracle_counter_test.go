package fleet

// The allocation algorithm of commit 64be207, kept as the oracle the
// faster one is compared with (allocate_oracle_test.go): its counters,
// its search of the candidate minutes and its site feasibility, renamed
// with the prefix "old". Do not change it: it is the reference. Helpers
// unchanged since that commit (parallel, siteKey, spread, mod,
// ceilSecond) are the package's own.

import (
	"math"
	"math/bits"
	"slices"
	"sort"
	"time"

	"github.com/afterhours-go/afterhours"
)

// oldBest returns the base of cands whose slot meets the fewest clients at its
// busiest minute in g, then in lan (nil for none), then the least load over
// its length in g, below both capacities; among equals the first going round
// the day from minute from, so that ties spread. It returns -1 for none. The
// counters' windows around offset changes are not consulted: the caller
// checks the base it returns against them.
func oldBest(cands *minuteSet, from int, g *oldCounter, gk int, lan *oldCounter, lk int) int {
	if g.plain(gk) && (lan == nil || lan.plain(lk)) {
		return oldBestPlain(cands, from, g, lan)
	}
	const none = int64(1) << 62
	bestKey, bestM, bestSum := none, -1, int32(0)
	w0 := from >> 6
	for k := 0; k <= len(cands); k++ {
		i := (w0 + k) % len(cands)
		word := cands[i]
		switch {
		case k == 0:
			word &= ^uint64(0) << (from & 63)
		case k == len(cands):
			word &= 1<<(from&63) - 1
		}
		for word != 0 {
			m := i<<6 | bits.TrailingZeros64(word)
			word &= word - 1
			sg := g.peakAt(m, gk)
			if sg >= g.cap {
				continue
			}
			key := int64(sg) << 32
			if lan != nil {
				sl := lan.peakAt(m, lk)
				if sl >= lan.cap {
					continue
				}
				key |= int64(sl)
			}
			if key < bestKey || key == bestKey && g.sumAt(m, gk) < bestSum {
				bestKey, bestM, bestSum = key, m, g.sumAt(m, gk)
				if key == 0 && bestSum == 0 {
					return m
				}
			}
		}
	}
	return bestM
}

// oldBestPlain is oldBest for counters of one oldFrame in which the client's base
// is the oldFrame's minute (always so for a "UTC" resource): the loop that
// takes most of the time of a large allocation.
func oldBestPlain(cands *minuteSet, from int, g, lan *oldCounter) int {
	gf := g.frames[0]
	gcap, lcap := g.cap, int32(math.MaxInt32)
	var lpeak *[minutesPerDay]int32
	if lan != nil {
		lpeak, lcap = &lan.frames[0].peak, lan.cap
	}
	bestM := -1
	var bg, bl, bs int32
	w0 := from >> 6
	for k := 0; k <= len(cands); k++ {
		i := (w0 + k) % len(cands)
		word := cands[i]
		switch {
		case k == 0:
			word &= ^uint64(0) << (from & 63)
		case k == len(cands):
			word &= 1<<(from&63) - 1
		}
		for word != 0 {
			m := i<<6 | bits.TrailingZeros64(word)
			word &= word - 1
			pg := gf.peak[m]
			if pg >= gcap || bestM >= 0 && pg > bg {
				continue
			}
			var pl int32
			if lpeak != nil {
				if pl = lpeak[m]; pl >= lcap {
					continue
				}
			}
			sg := gf.sum[m]
			if bestM >= 0 && (pg == bg && (pl > bl || pl == bl && sg >= bs)) {
				continue
			}
			bestM, bg, bl, bs = m, pg, pl, sg
			if pg == 0 && pl == 0 && sg == 0 {
				return m
			}
		}
	}
	return bestM
}

// oldCounter counts, minute by minute, the placed clients that are in their
// slots, for one capacity: the fleet's (one per time zone for a "site"
// resource) or one LAN's.
//
// Away from offset changes every day looks the same, so a day of 1440
// minutes is enough: a oldFrame, in the wall clock of the oldCounter's first zone,
// in which a client of zone k at base m occupies minutes m+shift[k] to
// m+shift[k]+dlen-1, round the day. A oldCounter whose zones keep the same
// offsets from each other all year (one zone, or UTC) has one oldFrame; zones
// whose DST starts on different dates give one oldFrame per arrangement of
// their offsets. Around each offset change, where yesterday's slots and
// today's are read with different offsets and a wall time may be skipped or
// repeated, a oldWindow of exact per-minute counts over four days takes over.
// Frames are only kept for arrangements in force somewhere outside those
// windows, so the oldCounter is exact: it never refuses a base that would stay
// within capacity on every date of the period, except at the period's edges,
// where a oldFrame counts the slots of dates just outside it.
type oldCounter struct {
	cap    int32 // math.MaxInt32 when unlimited
	dlen   int   // minutes a slot occupies
	zones  []*zoneInfo
	frames []*oldFrame
	wins   []*oldWindow
	// scratch for the sliding maximum
	vals, pre, suf []int32
}

// oldFrame is one day of counts, round the clock.
type oldFrame struct {
	conc  [minutesPerDay]int32 // clients in their slots at each minute
	peak  [minutesPerDay]int32 // most of conc over the dlen minutes from each minute
	sum   [minutesPerDay]int32 // sum of conc over the dlen minutes from each minute
	shift []int                // per oldCounter zone, in [0, 1440)
}

// oldWindow holds exact counts over the four days around an offset change.
type oldWindow struct {
	first int64   // Unix minute of conc[0]
	conc  []int32 // clients in their slots at each minute
	dates [][]int // per oldCounter zone: the period's dates whose slots can touch the oldWindow
}

const oldWindowHalf = 2 * minutesPerDay // minutes on each side of an offset change

// oldNewCounter returns an empty oldCounter of capacity limit (0 for none) for
// slots of dlen minutes of clients in zones, over the horizon dates p0 to
// p0+n-1.
func oldNewCounter(zones []*zoneInfo, p0, n, limit, dlen int) *oldCounter {
	scratch := 2*minutesPerDay + dlen
	c := &oldCounter{cap: math.MaxInt32, dlen: dlen, zones: zones,
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
		w := &oldWindow{first: floorDiv(tr, 60) - oldWindowHalf, conc: make([]int32, 2*oldWindowHalf)}
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
		if !slices.ContainsFunc(c.frames, func(f *oldFrame) bool { return slices.Equal(f.shift, shift) }) {
			c.frames = append(c.frames, &oldFrame{shift: shift})
		}
	}
	return c
}

// reset empties the oldCounter.
func (c *oldCounter) reset() {
	for _, f := range c.frames {
		f.conc = [minutesPerDay]int32{}
		f.peak = [minutesPerDay]int32{}
		f.sum = [minutesPerDay]int32{}
	}
	for _, w := range c.wins {
		clear(w.conc)
	}
}

// zoneIndex returns the position of z among the oldCounter's zones.
func (c *oldCounter) zoneIndex(z *zoneInfo) int {
	for k, cz := range c.zones {
		if cz == z {
			return k
		}
	}
	panic("fleet: oldCounter has no zone " + z.name) // an oldAllocator bug, never input
}

// plain reports whether the oldCounter has one oldFrame in which a client of
// zone k at base m occupies the minutes from m.
func (c *oldCounter) plain(k int) bool {
	return len(c.frames) == 1 && c.frames[0].shift[k] == 0
}

// peakAt returns the most clients in their slots during the slot of a
// client of zone k at base m, as the frames count them.
func (c *oldCounter) peakAt(m, k int) int32 {
	f := c.frames[0]
	p := f.peak[(m+f.shift[k])%minutesPerDay]
	for _, f := range c.frames[1:] {
		p = max(p, f.peak[(m+f.shift[k])%minutesPerDay])
	}
	return p
}

// fitsWindows reports whether a client of zone k at base m stays within
// capacity in every oldWindow.
func (c *oldCounter) fitsWindows(m, k int) bool {
	z := c.zones[k]
	for _, w := range c.wins {
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
func (w *oldWindow) span(s int64, dlen int) (lo, hi int) {
	a := floorDiv(s, 60) - w.first
	b := a + int64(dlen)
	a, b = max(a, 0), min(b, int64(len(w.conc)))
	if a >= b {
		return 0, 0
	}
	return int(a), int(b)
}

// fits reports whether a client of zone k at base m stays within capacity.
func (c *oldCounter) fits(m, k int) bool {
	return c.peakAt(m, k) < c.cap && c.fitsWindows(m, k)
}

// add counts a client of zone k at base m.
func (c *oldCounter) add(m, k int) {
	for _, f := range c.frames {
		x := (m + f.shift[k]) % minutesPerDay
		for i := range c.dlen {
			f.conc[(x+i)%minutesPerDay]++
		}
		c.refresh(f, x)
		c.addSums(f, x, 1)
	}
	z := c.zones[k]
	for _, w := range c.wins {
		for _, i := range w.dates[k] {
			lo, hi := w.span(z.start(i, m), c.dlen)
			for j := lo; j < hi; j++ {
				w.conc[j]++
			}
		}
	}
}

// refresh recomputes the peaks that a slot added at oldFrame minute x changed:
// those of the minutes x-dlen+1 to x+dlen-1. It uses the van Herk/Gil-Werman
// sliding maximum over a copy of the counts: blocks of dlen values, the
// running maximum from each block's start (pre) and to its end (suf); the
// maximum of the oldWindow [j, j+dlen) is max(suf[j], pre[j+dlen-1]).
func (c *oldCounter) refresh(f *oldFrame, x int) {
	d := c.dlen
	y0, count := x-d+1, 2*d-1
	if count >= minutesPerDay {
		y0, count = 0, minutesPerDay
	}
	y0 = mod(y0, minutesPerDay)
	n := count + d - 1
	vals, pre, suf := c.vals[:n], c.pre[:n], c.suf[:n]
	for k := range vals {
		vals[k] = f.conc[(y0+k)%minutesPerDay]
	}
	for k, v := range vals {
		if k%d == 0 || v > pre[k-1] {
			pre[k] = v
		} else {
			pre[k] = pre[k-1]
		}
	}
	for k := n - 1; k >= 0; k-- {
		if v := vals[k]; k == n-1 || (k+1)%d == 0 || v > suf[k+1] {
			suf[k] = v
		} else {
			suf[k] = suf[k+1]
		}
	}
	for j := range count {
		f.peak[(y0+j)%minutesPerDay] = max(suf[j], pre[j+d-1])
	}
}

// remove uncounts a client of zone k at base m, added before.
func (c *oldCounter) remove(m, k int) {
	for _, f := range c.frames {
		x := (m + f.shift[k]) % minutesPerDay
		for i := range c.dlen {
			f.conc[(x+i)%minutesPerDay]--
		}
		c.refresh(f, x)
		c.addSums(f, x, -1)
	}
	z := c.zones[k]
	for _, w := range c.wins {
		for _, i := range w.dates[k] {
			lo, hi := w.span(z.start(i, m), c.dlen)
			for j := lo; j < hi; j++ {
				w.conc[j]--
			}
		}
	}
}

// addSums adds delta times the overlap with a slot at oldFrame minute x to
// the sums of the slots that overlap it.
func (c *oldCounter) addSums(f *oldFrame, x int, delta int32) {
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
	for j := 1 - d; j < d; j++ {
		overlap := d - j
		if j < 0 {
			overlap = d + j
		}
		f.sum[mod(x+j, minutesPerDay)] += delta * int32(overlap)
	}
}

// sumAt returns the load of the slot of a client of zone k at base m: the
// sum of its minutes' counts in the first oldFrame.
func (c *oldCounter) sumAt(m, k int) int32 {
	f := c.frames[0]
	return f.sum[(m+f.shift[k])%minutesPerDay]
}

// oldFeasible is what one site allows: the bases whose slot lies inside the
// site's after-hours windows on every date of the period, and among them
// those whose whole hold (buffer and slot) does.
type oldFeasible struct {
	slot, hold minuteSet
	nSlot      int
	// emptyAt is the horizon index of the date that rules out the last
	// bases when nSlot is 0.
	emptyAt int
}

// oldIval is a half-open interval of Unix seconds.
type oldIval struct{ lo, hi int64 }

// oldFeasibleBases computes what site s allows for slots of dur seconds with a
// buffer of buf seconds, in zone z, on the horizon dates p0 to p0+n-1.
//
// A slot occurrence is allowed when it lies inside the windows (touching
// windows count as one: a slot may run on from one cycle's oldWindow into the
// next's), or when it starts in the span of a cycle whose oldWindow is empty
// (that cycle has no after hours to keep to; the client voids the slot).
func oldFeasibleBases(s *afterhours.Site, z *zoneInfo, p0, n int, dur, buf int64) oldFeasible {
	lo := z.mids[p0] - buf - 2*secondsPerDay
	hi := z.mids[p0+n-1] + 2*secondsPerDay + dur + 2*secondsPerDay
	loc := s.Location()
	last := afterhours.DateOf(time.Unix(hi, 0).In(loc))
	var windows, exempt []oldIval
	for d := afterhours.DateOf(time.Unix(lo, 0).In(loc)); d.Compare(last) <= 0; d = d.AddDays(1) {
		c := s.Cycle(d)
		if c.Window.Empty() {
			if !c.Span.Empty() {
				exempt = append(exempt, oldIval{ceilSecond(c.Span.Start), ceilSecond(c.Span.End)})
			}
			continue
		}
		w := oldIval{ceilSecond(c.Window.Start), c.Window.End.Unix()}
		if k := len(windows) - 1; k >= 0 && w.lo <= windows[k].hi {
			windows[k].hi = max(windows[k].hi, w.hi)
			continue
		}
		windows = append(windows, w)
	}
	slotOK := oldOkStarts(windows, exempt, 0, dur)
	holdOK := oldOkStarts(windows, exempt, buf, dur)

	var f oldFeasible
	badSlot, emptyAt := oldForbidden(z, p0, n, slotOK)
	badHold, _ := oldForbidden(z, p0, n, holdOK)
	f.emptyAt = emptyAt
	f.slot = badSlot.complement()
	f.hold = badHold.complement() // within f.slot: a hold inside the windows has its slot inside them
	f.nSlot = f.slot.len()
	return f
}

// oldOkStarts returns, sorted and merged, the instants at which a slot of dur
// seconds preceded by a buffer of buf seconds may start: inside a oldWindow
// with its buffer and slot, or anywhere in an exempt span.
func oldOkStarts(windows, exempt []oldIval, buf, dur int64) []oldIval {
	out := make([]oldIval, 0, len(windows)+len(exempt))
	for _, w := range windows {
		if lo, hi := w.lo+buf, w.hi-dur+1; lo < hi {
			out = append(out, oldIval{lo, hi})
		}
	}
	out = append(out, exempt...)
	slices.SortFunc(out, func(a, b oldIval) int { return oldCmpInt64(a.lo, b.lo) })
	merged := out[:0]
	for _, iv := range out {
		if k := len(merged) - 1; k >= 0 && iv.lo <= merged[k].hi {
			merged[k].hi = max(merged[k].hi, iv.hi)
			continue
		}
		merged = append(merged, iv)
	}
	return merged
}

func oldCmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// oldForbidden returns the base minutes whose occurrence on some horizon date
// p0 to p0+n-1 of zone z starts outside ok, and the first date after which
// none is left (-1 if some is).
func oldForbidden(z *zoneInfo, p0, n int, ok []oldIval) (bad minuteSet, emptyAt int) {
	j := 0
	emptyAt = -1
	for i := p0; i < p0+n; i++ {
		if emptyAt < 0 && i > p0 && bad == fullDay {
			emptyAt = i - 1
		}
		if tab := z.table(i); tab != nil {
			for m, s := range tab {
				k := sort.Search(len(ok), func(k int) bool { return ok[k].hi > s })
				if k == len(ok) || ok[k].lo > s {
					bad.add(m)
				}
			}
			continue
		}
		// An ordinary date: minute m starts at s0 + 60m.
		s0 := z.mids[i]
		for j < len(ok) && ok[j].hi <= s0 {
			j++
		}
		pos := 0
		for k := j; k < len(ok) && ok[k].lo < s0+secondsPerDay; k++ {
			lo := int(max(ceilDiv(ok[k].lo-s0, 60), 0))
			hi := int(min(ceilDiv(ok[k].hi-s0, 60), minutesPerDay))
			bad.addRange(pos, lo)
			pos = max(pos, hi)
		}
		bad.addRange(pos, minutesPerDay)
	}
	if emptyAt < 0 && bad == fullDay {
		emptyAt = p0 + n - 1
	}
	return bad, emptyAt
}
