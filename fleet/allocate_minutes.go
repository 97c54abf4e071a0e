package fleet

import "math/bits"

// minutesPerDay is the number of base times a day offers: bases are whole
// minutes, 00:00 to 23:59.
const minutesPerDay = 24 * 60

// minuteSet is a set of minutes of the day, 0 to 1439: one bit per base time.
type minuteSet [(minutesPerDay + 63) / 64]uint64

// fullDay is the set of every minute of the day.
var fullDay = func() (s minuteSet) {
	s.addRange(0, minutesPerDay)
	return s
}()

func (s *minuteSet) has(m int) bool { return s[m>>6]&(1<<(m&63)) != 0 }
func (s *minuteSet) add(m int)      { s[m>>6] |= 1 << (m & 63) }

// addRange adds the minutes lo to hi-1; it does nothing when hi <= lo.
func (s *minuteSet) addRange(lo, hi int) {
	lo, hi = max(lo, 0), min(hi, minutesPerDay)
	for lo < hi {
		w, b := lo>>6, lo&63
		n := min(64-b, hi-lo)
		mask := ^uint64(0)
		if n < 64 {
			mask = (1<<n - 1) << b
		}
		s[w] |= mask
		lo += n
	}
}

// len returns the number of minutes in s.
func (s *minuteSet) len() int {
	n := 0
	for _, w := range s {
		n += bits.OnesCount64(w)
	}
	return n
}

// minus returns the minutes of s that are not in t.
func (s *minuteSet) minus(t *minuteSet) (r minuteSet) {
	for i := range s {
		r[i] = s[i] &^ t[i]
	}
	return r
}

// complement returns the minutes of the day that are not in s.
func (s *minuteSet) complement() minuteSet { return fullDay.minus(s) }

// nth returns the minute of s with k minutes of s before it; k must be
// below s.len().
func (s *minuteSet) nth(k int) int {
	for i, w := range s {
		n := bits.OnesCount64(w)
		if k >= n {
			k -= n
			continue
		}
		for range k {
			w &= w - 1
		}
		return i<<6 | bits.TrailingZeros64(w)
	}
	return -1
}

// eachRun calls f(lo, hi) for each run of consecutive minutes lo to hi-1
// of s, ascending.
func (s *minuteSet) eachRun(f func(lo, hi int)) {
	for m := 0; ; {
		lo := s.seek(m, true)
		if lo == minutesPerDay {
			return
		}
		hi := s.seek(lo, false)
		f(lo, hi)
		m = hi
	}
}

// seek returns the first minute from m on that is in s (in) or not in s
// (!in); minutesPerDay when there is none.
func (s *minuteSet) seek(m int, in bool) int {
	for i := m >> 6; i < len(s); i++ {
		w := s[i]
		if !in {
			w = ^w
		}
		if i == m>>6 {
			w &= ^uint64(0) << (m & 63)
		}
		if w != 0 {
			return min(i<<6|bits.TrailingZeros64(w), minutesPerDay)
		}
	}
	return minutesPerDay
}

// addCyclic adds the n minutes from lo (which may be negative), round the
// day.
func (s *minuteSet) addCyclic(lo, n int) {
	if n >= minutesPerDay {
		*s = fullDay
		return
	}
	lo = mod(lo, minutesPerDay)
	s.addRange(lo, lo+n)
	if lo+n > minutesPerDay {
		s.addRange(0, lo+n-minutesPerDay)
	}
}
