// Package wallclock resolves a site-local wall-clock time to an instant with a
// defined rule for the wall times that a time-zone transition makes ambiguous.
//
// The standard library's time.Date leaves the result unspecified when the
// requested wall time does not exist or exists twice. This package fixes the
// rule:
//
//   - A wall time that does not exist because a transition skipped it (a gap,
//     such as the spring-forward of daylight saving time) means the instant
//     the gap moves it to: the wall time is interpreted with the UTC offset in
//     force just before the gap. When clocks jump from 02:00 to 03:00, 02:30
//     becomes 03:30.
//   - A wall time that occurs twice because a transition repeated it (an
//     overlap, such as the fall-back of daylight saving time) means its first
//     occurrence, which is the earlier instant.
//
// The rule applies to every transition recorded for the location, not only
// to daylight saving time; for example Pacific/Apia skipped 2011-12-30
// entirely, and 2011-12-30 12:00 there resolves to 2011-12-30T22:00:00Z.
//
// Resolve follows the rule exactly. Because the gap rule moves a skipped wall
// time forward by the size of the gap, Resolve is not monotonic across a gap:
// in Europe/London on 2026-03-29, 01:30 resolves to 01:30Z but 02:00 resolves
// to 01:00Z. Earliest maps a skipped wall time to the transition instant
// instead, which keeps it monotonic, and is the function to use for the start
// of an interval.
package wallclock

import (
	"math"
	"time"
)

const (
	// fastMargin is how far an instant has to be from both bounds of its
	// zone period for the instant returned by time.Date to be the only
	// instant with the requested wall clock. It is at least the largest
	// difference between two UTC offsets in use (26 h, from -12:00 to
	// +14:00); historical jumps in the tz database are at most 24 h.
	fastMargin = 26 * 60 * 60

	// window is how far before and after the wall time, read as UTC, the
	// slow path gathers zone periods. Every candidate instant lies within
	// the largest absolute UTC offset (under 16 h) of that reading.
	window = 3 * 24 * 60 * 60

	// maxPeriods bounds the number of zone periods gathered by the slow path.
	maxPeriods = 16
)

// Resolve returns the instant of the wall-clock time y-m-d hh:mm:ss in loc.
//
// A wall time that exists once maps to that instant. A wall time that exists
// twice (an overlap, such as the repeated hour when daylight saving time ends)
// maps to its first occurrence, the earlier instant. A wall time that does not
// exist (a gap, such as the skipped hour when daylight saving time starts)
// maps to the instant the gap moves it to: the wall time is read with the UTC
// offset in force just before the gap, so 02:30 becomes 03:30 when clocks
// jump from 02:00 to 03:00. The rule applies to every transition of loc, not
// only to daylight saving time.
//
// The fields are normalised as by time.Date: hh may be 24 meaning 00:00 of the
// next day, d may overflow into the next month, and so on. A nil loc means
// UTC. Resolve never panics.
func Resolve(y int, m time.Month, d, hh, mm, ss int, loc *time.Location) time.Time {
	t, _, _, _ := resolve(y, m, d, hh, mm, ss, loc)
	return t
}

// Earliest returns the first instant whose wall clock in loc reads at or after
// the wall-clock time y-m-d hh:mm:ss.
//
// It is the same as Resolve except when the wall time falls into a gap, where
// Earliest returns the instant of the transition that caused the gap: in
// Europe/London, 2026-03-29 01:30 yields 2026-03-29T01:00:00Z, which is 02:00
// BST. Unlike Resolve, Earliest never decreases as the wall time increases,
// so it suits the start of an interval (such as the start of business hours):
// an interval whose start is computed with Earliest and whose end is computed
// with Resolve never inverts.
//
// The fields are normalised as by time.Date, a nil loc means UTC, and
// Earliest never panics.
func Earliest(y int, m time.Month, d, hh, mm, ss int, loc *time.Location) time.Time {
	t, start, gap, _ := resolve(y, m, d, hh, mm, ss, loc)
	if gap {
		return start
	}
	return t
}

// Lookup reports how the wall-clock time y-m-d hh:mm:ss maps to an instant in
// loc.
//
// The instant t is the one Resolve returns. The flag gap reports that the
// wall time does not exist in loc because a transition skipped it; overlap
// reports that it exists twice because a transition repeated it, in which case
// t is the first occurrence. At most one of gap and overlap is true.
//
// The fields are normalised as by time.Date, a nil loc means UTC, and Lookup
// never panics.
func Lookup(y int, m time.Month, d, hh, mm, ss int, loc *time.Location) (t time.Time, gap, overlap bool) {
	t, _, gap, overlap = resolve(y, m, d, hh, mm, ss, loc)
	return t, gap, overlap
}

// resolve implements the rule. It returns the instant under the rule, the
// transition instant when the wall time falls into a gap (t otherwise), and
// the gap and overlap flags.
func resolve(y int, m time.Month, d, hh, mm, ss int, loc *time.Location) (t, transition time.Time, gap, overlap bool) {
	if loc == nil {
		loc = time.UTC
	}
	t = time.Date(y, m, d, hh, mm, ss, 0, loc)
	if loc == time.UTC {
		return t, t, false, false
	}

	// The requested wall time read as if it were UTC: the instant u-o has
	// the requested wall clock if and only if o is the offset in force at
	// u-o.
	u := time.Date(y, m, d, hh, mm, ss, 0, time.UTC).Unix()

	// Fast path: time.Date found an instant with the requested wall clock,
	// and that instant is so far from the bounds of its zone period that no
	// other period can hold another instant with the same wall clock.
	sec := t.Unix()
	if _, off := t.Zone(); sec+int64(off) == u {
		start, end := t.ZoneBounds()
		if (start.IsZero() || sec-start.Unix() > fastMargin) &&
			(end.IsZero() || end.Unix()-sec > fastMargin) {
			return t, t, false, false
		}
	}
	return slow(u, t, loc)
}

// period is one zone period of a location: the offset off is in force from
// start (inclusive) to end (exclusive), both Unix seconds.
type period struct {
	start, end int64
	off        int64
}

// slow resolves the wall time u (read as UTC) by examining every zone period
// that could hold an instant with that wall clock. The fallback is returned
// unchanged if the periods cannot explain u, which does not happen for the
// zones of the tz database.
func slow(u int64, fallback time.Time, loc *time.Location) (t, transition time.Time, gap, overlap bool) {
	var ps [maxPeriods]period
	n := gather(&ps, u, loc)

	// For every distinct offset o of the periods, the instant u-o reads u
	// if and only if o is the offset in force at u-o. Checking that with
	// Zone, rather than against the gathered bounds, keeps the count of
	// occurrences right even where Go reports imprecise bounds.
	count := 0
	best := int64(math.MaxInt64)
	for i, p := range ps[:n] {
		if seenOffset(ps[:i], p.off) {
			continue
		}
		c := u - p.off
		if _, off := time.Unix(c, 0).In(loc).Zone(); int64(off) == p.off {
			count++
			best = min(best, c)
		}
	}
	if count > 0 {
		t = time.Unix(best, 0).In(loc)
		return t, t, false, count > 1
	}

	// No occurrence: the wall time lies in the gap of the transition T
	// between consecutive periods with offsets o1 and o2 for which
	// T+o1 <= u < T+o2. It is read with the offset before the gap.
	for i := 0; i+1 < n; i++ {
		tr := ps[i].end
		if u-ps[i].off >= tr && u-ps[i+1].off < tr {
			return time.Unix(u-ps[i].off, 0).In(loc), time.Unix(tr, 0).In(loc), true, false
		}
	}
	return fallback, fallback, false, false
}

// seenOffset reports whether one of ps has the offset off.
func seenOffset(ps []period, off int64) bool {
	for _, p := range ps {
		if p.off == off {
			return true
		}
	}
	return false
}

// gather stores in ps the consecutive zone periods of loc that cover the
// instants from u-window to u+window and returns how many it stored.
// Consecutive periods are contiguous: each ends where the next starts.
func gather(ps *[maxPeriods]period, u int64, loc *time.Location) int {
	cur, hi := u-window, u+window
	n := 0
	for range 2 * maxPeriods {
		if n == len(ps) {
			break
		}
		t := time.Unix(cur, 0).In(loc)
		start, end := t.ZoneBounds()
		_, off := t.Zone()
		p := period{start: math.MinInt64, end: math.MaxInt64, off: int64(off)}
		if !start.IsZero() {
			p.start = min(start.Unix(), cur)
		}
		if !end.IsZero() {
			p.end = end.Unix()
		}
		if p.end <= cur {
			// The reported period does not contain cur. Go does this
			// on the last UTC day of a leap year served by the TZ rule
			// at the end of a TZif file (golang/go#81583): the period
			// really ends with that UTC day, and the offset is right.
			p.end = nextMidnight(cur)
		}
		switch {
		case n > 0 && p.off == ps[n-1].off:
			// Same offset as the previous period (a change of name or
			// of the DST flag only, or an artificial bound): merge.
			ps[n-1].end = p.end
		case n > 0:
			// Make the previous period end where this one starts.
			ps[n-1].end = max(ps[n-1].start, min(ps[n-1].end, p.start))
			p.start = ps[n-1].end
			ps[n] = p
			n++
		default:
			ps[n] = p
			n++
		}
		if p.end > hi || p.end <= cur {
			break
		}
		cur = p.end
	}
	return n
}

// nextMidnight returns the first UTC midnight after the Unix time sec.
func nextMidnight(sec int64) int64 {
	const day = 24 * 60 * 60
	r := sec % day
	if r < 0 {
		r += day
	}
	return sec - r + day
}
