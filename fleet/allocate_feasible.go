package fleet

import (
	"slices"
	"sort"
	"time"

	"github.com/afterhours-go/afterhours"
)

// feasible is what one site allows: the bases whose slot lies inside the
// site's after-hours windows on every date of the period, and among them
// those whose whole hold (buffer and slot) does.
type feasible struct {
	slot, hold minuteSet
	nSlot      int
	// emptyAt is the horizon index of the date that rules out the last
	// bases when nSlot is 0.
	emptyAt int
}

// ival is a half-open interval of Unix seconds.
type ival struct{ lo, hi int64 }

// feasibleBases computes what site s allows for slots of dur seconds with a
// buffer of buf seconds, in zone z, on the horizon dates p0 to p0+n-1.
func feasibleBases(s *afterhours.Site, z *zoneInfo, p0, n int, dur, buf int64) feasible {
	first, last := cycleDates(s.Location(), z, p0, n, dur, buf)
	var cycles []afterhours.Cycle
	for d := first; d.Compare(last) <= 0; d = d.AddDays(1) {
		cycles = append(cycles, s.Cycle(d))
	}
	return feasibleFrom(cycles, nil, z, p0, n, dur, buf)
}

// cycleDates returns the first and the last site-local date (in loc) whose
// cycle can touch a slot or hold of a horizon date p0 to p0+n-1 of zone z.
func cycleDates(loc *time.Location, z *zoneInfo, p0, n int, dur, buf int64) (first, last afterhours.Date) {
	lo := z.mids[p0] - buf - 2*secondsPerDay
	hi := z.mids[p0+n-1] + 2*secondsPerDay + dur + 2*secondsPerDay
	return afterhours.DateOf(time.Unix(lo, 0).In(loc)), afterhours.DateOf(time.Unix(hi, 0).In(loc))
}

// feasibleFrom computes what a site allows from its cycles of the dates
// cycleDates returns, in order: cycles, but for those patch has.
//
// A slot occurrence is allowed when it lies inside the windows (touching
// windows count as one: a slot may run on from one cycle's window into the
// next's), or when it starts in the span of a cycle whose window is empty
// (that cycle has no after hours to keep to; the client voids the slot).
func feasibleFrom(cycles []afterhours.Cycle, patch map[int]afterhours.Cycle, z *zoneInfo, p0, n int, dur, buf int64) feasible {
	var windows, exempt []ival
	for i := range cycles {
		c := &cycles[i]
		if p, ok := patch[i]; ok {
			c = &p
		}
		if c.Window.Empty() {
			if !c.Span.Empty() {
				exempt = append(exempt, ival{ceilSecond(c.Span.Start), ceilSecond(c.Span.End)})
			}
			continue
		}
		w := ival{ceilSecond(c.Window.Start), c.Window.End.Unix()}
		if k := len(windows) - 1; k >= 0 && w.lo <= windows[k].hi {
			windows[k].hi = max(windows[k].hi, w.hi)
			continue
		}
		windows = append(windows, w)
	}
	slotOK := okStarts(windows, exempt, 0, dur)
	holdOK := okStarts(windows, exempt, buf, dur)

	var f feasible
	badSlot, emptyAt := forbidden(z, p0, n, slotOK)
	badHold, _ := forbidden(z, p0, n, holdOK)
	f.emptyAt = emptyAt
	f.slot = badSlot.complement()
	f.hold = badHold.complement() // within f.slot: a hold inside the windows has its slot inside them
	f.nSlot = f.slot.len()
	return f
}

// ceilSecond returns t's Unix second, rounded up.
func ceilSecond(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

// okStarts returns, sorted and merged, the instants at which a slot of dur
// seconds preceded by a buffer of buf seconds may start: inside a window
// with its buffer and slot, or anywhere in an exempt span.
func okStarts(windows, exempt []ival, buf, dur int64) []ival {
	out := make([]ival, 0, len(windows)+len(exempt))
	for _, w := range windows {
		if lo, hi := w.lo+buf, w.hi-dur+1; lo < hi {
			out = append(out, ival{lo, hi})
		}
	}
	out = append(out, exempt...)
	slices.SortFunc(out, func(a, b ival) int { return cmpInt64(a.lo, b.lo) })
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

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// forbidden returns the base minutes whose occurrence on some horizon date
// p0 to p0+n-1 of zone z starts outside ok, and the first date after which
// none is left (-1 if some is).
func forbidden(z *zoneInfo, p0, n int, ok []ival) (bad minuteSet, emptyAt int) {
	j := 0
	emptyAt = -1
	for i := p0; i < p0+n; i++ {
		if emptyAt < 0 && i > p0 && bad == fullDay {
			emptyAt = i - 1
		}
		if tab := z.table(i); tab != nil {
			// The instants of a date's minutes never go back (a skipped
			// time moves on, a repeated one is its first occurrence), so
			// the intervals are walked once; were one to, it is searched.
			k := 0
			for m, s := range tab {
				if m == 0 || s < tab[m-1] {
					k = sort.Search(len(ok), func(k int) bool { return ok[k].hi > s })
				}
				for k < len(ok) && ok[k].hi <= s {
					k++
				}
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
