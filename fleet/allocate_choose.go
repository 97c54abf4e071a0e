package fleet

import "math/bits"

// best returns the base of cands whose slot meets the fewest clients at its
// busiest minute in g, then in lan (nil for none), then the least load over
// its length in g, below both capacities; among equals the first going round
// the day from minute from, so that ties spread. It returns -1 for none. The
// counters' windows around offset changes are not consulted: the caller
// checks the base it returns against them.
//
// best looks at every candidate: it serves the counters a minTree cannot,
// those of several frames (a LAN whose zones change their offsets on
// different dates).
func best(cands *minuteSet, from int, g *counter, gk int, lan *counter, lk int) int {
	const noKey = int64(1) << 62
	bestKey, bestM, bestSum := noKey, -1, int32(0)
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

// spread hashes a client ID (FNV-1a) to spread ties over the day.
func spread(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= 1099511628211
	}
	return h
}
