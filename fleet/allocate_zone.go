package fleet

import (
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/internal/wallclock"
)

const (
	secondsPerDay = 24 * 60 * 60
	// horizonMargin is how many dates before and after the period a zone
	// keeps: enough for the occurrences of neighbouring dates that reach
	// into the period's first and last days.
	horizonMargin = 3
	// irregularMargin is how many dates on each side of a transition's
	// local date are resolved minute by minute rather than by offset.
	irregularMargin = 2
)

// zoneInfo is what the allocator knows of a resource zone over its horizon
// (the period's dates and horizonMargin dates on each side): the instants
// its offset changes, and the instant each wall-clock minute of each date
// resolves to under the wall-clock rule of the core.
//
// On most dates wall minute m of date d is midnight(d) + m minutes. On the
// dates near a transition, where a wall time may be skipped or repeated, the
// instant of every minute is resolved and kept in a table.
type zoneInfo struct {
	name  string
	loc   *time.Location
	first afterhours.Date // first date of the horizon
	mids  []int64         // Unix second of 00:00 of each horizon date
	// trans are the Unix seconds at which the UTC offset changes, within
	// the horizon, ascending.
	trans []int64
	// irregular holds, by horizon date index, the instants of the 1440
	// wall minutes of the dates near a transition, nil for other dates;
	// read it through table.
	irregular []*[minutesPerDay]int64
	// pieces holds the same instants, for start, compactly: by horizon
	// date index, the runs of wall minutes whose instants are midnight
	// plus the minutes plus the same number of seconds: two or three on a
	// date with an offset change, nil for the dates around it whose
	// minutes all follow their midnight.
	pieces [][]piece
}

// piece is the wall minutes from from to the next piece's from, whose
// instants are off seconds off midnight plus the minutes.
type piece struct {
	from int32
	off  int32
}

// newZoneInfo builds the zone's view of the dates first to first+n-1.
func newZoneInfo(loc *time.Location, first afterhours.Date, n int) *zoneInfo {
	z := &zoneInfo{name: loc.String(), loc: loc, first: first, mids: make([]int64, n)}
	for i := range z.mids {
		z.mids[i] = resolve(first.AddDays(i), 0, loc)
	}
	if loc == time.UTC {
		return z
	}
	lo, hi := z.mids[0]-secondsPerDay, z.mids[n-1]+2*secondsPerDay
	z.trans = transitions(loc, lo, hi)
	for _, tr := range z.trans {
		d := afterhours.DateOf(time.Unix(tr, 0).In(loc))
		for k := -irregularMargin; k <= irregularMargin; k++ {
			i := z.index(d.AddDays(k))
			if i < 0 || i >= n || z.table(i) != nil {
				continue
			}
			if z.irregular == nil {
				z.irregular = make([]*[minutesPerDay]int64, n)
			}
			tab := new([minutesPerDay]int64)
			day := first.AddDays(i)
			for m := range tab {
				tab[m] = resolve(day, m, loc)
			}
			z.irregular[i] = tab
		}
	}
	if z.irregular != nil {
		z.pieces = make([][]piece, n)
		for i, tab := range z.irregular {
			if tab == nil {
				continue
			}
			for m, s := range tab {
				off := int32(s - z.mids[i] - int64(m)*60)
				if ps := z.pieces[i]; len(ps) == 0 || ps[len(ps)-1].off != off {
					z.pieces[i] = append(ps, piece{int32(m), off})
				}
			}
			if ps := z.pieces[i]; len(ps) == 1 && ps[0].off == 0 {
				z.pieces[i] = nil
			}
		}
	}
	return z
}

// resolve returns the Unix second of wall minute m of date d in loc under
// the wall-clock rule (a skipped time moves on by the gap, a repeated one
// means its first occurrence): the rule the client's planner applies to its
// slot bases.
func resolve(d afterhours.Date, m int, loc *time.Location) int64 {
	if loc == time.UTC {
		return dayNumber(d)*secondsPerDay + int64(m)*60
	}
	return wallclock.Resolve(d.Year, d.Month, d.Day, m/60, m%60, 0, loc).Unix()
}

// dayNumber returns the number of days from 1970-01-01 to d.
func dayNumber(d afterhours.Date) int64 {
	return floorDiv(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix(), secondsPerDay)
}

// index returns the horizon index of date d (out of range when d is outside
// the horizon).
func (z *zoneInfo) index(d afterhours.Date) int {
	return int(dayNumber(d) - dayNumber(z.first))
}

// start returns the Unix second at which wall minute m of horizon date i
// begins, under the wall-clock rule.
func (z *zoneInfo) start(i, m int) int64 {
	s := z.mids[i] + int64(m)*60
	if uint(i) < uint(len(z.pieces)) {
		if ps := z.pieces[i]; ps != nil {
			off := ps[0].off
			for _, p := range ps[1:] {
				if int32(m) < p.from {
					break
				}
				off = p.off
			}
			s += int64(off)
		}
	}
	return s
}

// table returns the instants of the wall minutes of horizon date i, nil
// for a date far from a transition, whose minutes follow its midnight.
func (z *zoneInfo) table(i int) *[minutesPerDay]int64 {
	if uint(i) < uint(len(z.irregular)) {
		return z.irregular[i]
	}
	return nil
}

// offsetAt returns the zone's UTC offset at Unix second t, in seconds.
func (z *zoneInfo) offsetAt(t int64) int {
	if z.loc == time.UTC {
		return 0
	}
	_, off := time.Unix(t, 0).In(z.loc).Zone()
	return off
}

// transitions returns the instants in [lo, hi) at which loc's UTC offset
// changes. Changes of name or of the DST flag alone are not transitions.
func transitions(loc *time.Location, lo, hi int64) []int64 {
	var out []int64
	for cur := lo; cur < hi; {
		t := time.Unix(cur, 0).In(loc)
		_, end := t.ZoneBounds()
		if end.IsZero() {
			break
		}
		e := end.Unix()
		if e <= cur {
			// Go reports a period that does not contain cur on the last
			// UTC day of a leap year served by the zone's TZ rule
			// (golang/go#81583); the offset there is right, so move on
			// to the next UTC midnight.
			cur = floorDiv(cur, secondsPerDay)*secondsPerDay + secondsPerDay
			continue
		}
		if e >= hi {
			break
		}
		_, before := time.Unix(e-1, 0).In(loc).Zone()
		_, after := time.Unix(e, 0).In(loc).Zone()
		if before != after {
			out = append(out, e)
		}
		cur = e
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// ceilDiv returns a/b rounded up, for b > 0.
func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
