package fleet

import (
	"math"
	"math/bits"
	"slices"
)

// treeSize is the number of leaves of a minTree: the minutes of the day,
// rounded up to a power of two.
const treeSize = 2048

// minTree finds the base of a set of candidate minutes whose slot meets the
// fewest clients at its busiest minute, then the fewest of a LAN, then the
// least load over its length, without looking at each candidate: a
// segment tree over the minutes of a counter's frame, whose leaf m holds
// the key of a slot starting at frame minute m and whose inner nodes hold
// the least key beneath them.
//
// The tree belongs to a fleet counter of one frame. While a client of a
// counted LAN is placed, the LAN's counter (of one frame, with the same
// frame minutes) is laid over it: the leaves then count the LAN too. The
// counters keep the tree up to date as they change: a slot added or removed
// at minute x changes the leaves x-dlen+1 to x+dlen-1.
type minTree struct {
	g    *frame // the fleet counter's frame
	gcap int32
	// lan is the frame of the LAN counter laid over the tree, nil for
	// none; lanOwner is that counter.
	lan      *frame
	lcap     int32
	lanOwner *counter
	node     [2 * treeSize]tnode
}

// tnode is a key: the busiest minute of the slot's fleet count and LAN
// count in a, its fleet load and its minute in b. Keys compare as (a, b),
// the 128-bit numbers a<<64 | b, so that among equal slots the earliest
// minute is the least. A slot over a capacity has the key none.
type tnode struct{ a, b uint64 }

var none = tnode{math.MaxUint64, math.MaxUint64}

const minuteBits = 11 // treeSize == 1 << minuteBits

// minNode returns the lesser of x and y, x when they are equal. It is
// branch-free: which key is less is as good as random to a branch
// predictor, and the trees' updates are mostly this. y < x as 128-bit
// numbers (a high, b low) exactly when y-x borrows.
func minNode(x, y tnode) tnode {
	_, borrow := bits.Sub64(y.b, x.b, 0)
	_, borrow = bits.Sub64(y.a, x.a, borrow)
	mask := -borrow
	return tnode{x.a ^ (x.a^y.a)&mask, x.b ^ (x.b^y.b)&mask}
}

// newMinTree returns the tree of frame g for a capacity of gcap.
func newMinTree(g *frame, gcap int32) *minTree {
	t := &minTree{g: g, gcap: gcap}
	for i := range t.node {
		t.node[i] = none
	}
	t.update(0, minutesPerDay)
	return t
}

// leaf returns the key of a slot at minute m.
func (t *minTree) leaf(m int) tnode {
	pg := t.g.peak[m]
	if pg >= t.gcap {
		return none
	}
	var pl int32
	if t.lan != nil {
		if pl = t.lan.peak[m]; pl >= t.lcap {
			return none
		}
	}
	return tnode{uint64(pg)<<32 | uint64(pl), uint64(uint32(t.g.sum[m]))<<minuteBits | uint64(m)}
}

// update recomputes the leaves lo to hi-1 (0 <= lo < hi <= 1440) and the
// nodes above them, up to the first level where none changed.
func (t *minTree) update(lo, hi int) {
	if t.lan == nil {
		peak, sum, leaves := t.g.peak[lo:hi], t.g.sum[lo:hi], t.node[treeSize+lo:treeSize+hi]
		for i := range leaves {
			if pg := peak[i]; pg < t.gcap {
				leaves[i] = tnode{uint64(pg) << 32, uint64(uint32(sum[i]))<<minuteBits | uint64(lo+i)}
			} else {
				leaves[i] = none
			}
		}
	} else {
		for m := lo; m < hi; m++ {
			t.node[treeSize+m] = t.leaf(m)
		}
	}
	l, r := (lo+treeSize)>>1, (hi-1+treeSize)>>1
	for l >= 1 {
		var diff uint64
		for i := l; i <= r; i++ {
			v, old := minNode(t.node[2*i], t.node[2*i+1]), t.node[i]
			diff |= (v.a ^ old.a) | (v.b ^ old.b)
			t.node[i] = v
		}
		if diff == 0 {
			return
		}
		l, r = l>>1, r>>1
	}
}

// updateAround recomputes the leaves a slot at frame minute x changes:
// x-dlen+1 to x+dlen-1, round the day.
func (t *minTree) updateAround(x, dlen int) {
	lo, n := x-dlen+1, 2*dlen-1
	if n >= minutesPerDay {
		t.update(0, minutesPerDay)
		return
	}
	if lo < 0 {
		lo += minutesPerDay
	}
	if hi := lo + n; hi <= minutesPerDay {
		t.update(lo, hi)
	} else {
		t.update(lo, minutesPerDay)
		t.update(0, hi-minutesPerDay)
	}
}

// updateSet recomputes the leaves of the minutes of s.
func (t *minTree) updateSet(s *minuteSet) {
	s.eachRun(t.update)
}

// overlay lays LAN counter lan over the tree, or none when lan is nil,
// replacing the one laid before.
func (t *minTree) overlay(lan *counter) {
	if t.lanOwner == lan {
		return
	}
	if old := t.lanOwner; old != nil {
		t.lan, t.lanOwner, old.ovTree = nil, nil, nil
		t.updateSet(&old.touched)
	}
	if lan == nil {
		return
	}
	if lan.ovTree != nil {
		lan.ovTree.overlay(nil)
	}
	t.lan, t.lcap, t.lanOwner, lan.ovTree = lan.frames[0], lan.cap, lan, t
	t.updateSet(&lan.touched)
}

// min returns the least key of the leaves lo to hi-1.
func (t *minTree) min(lo, hi int) tnode {
	res := none
	for l, r := lo+treeSize, hi+treeSize; l < r; l, r = l>>1, r>>1 {
		if l&1 == 1 {
			res = minNode(res, t.node[l])
			l++
		}
		if r&1 == 1 {
			r--
			res = minNode(res, t.node[r])
		}
	}
	return res
}

// best returns the minute of cands with the least key, among equal keys
// the first going round the day from minute from; -1 when every candidate
// is over a capacity. cands are sorted, disjoint runs of minutes.
func (t *minTree) best(cands []run, from int) int {
	after, before := none, none
	for _, c := range cands {
		lo, hi := int(c.lo), int(c.hi)
		switch {
		case hi <= from:
			before = minNode(before, t.min(lo, hi))
		case lo >= from:
			after = minNode(after, t.min(lo, hi))
		default:
			before = minNode(before, t.min(lo, from))
			after = minNode(after, t.min(from, hi))
		}
	}
	// Minutes from from on come first: the earlier half wins a tie of
	// keys, whatever the minutes.
	if before.a < after.a || before.a == after.a && before.b>>minuteBits < after.b>>minuteBits {
		after = before
	}
	if after == none {
		return -1
	}
	return int(after.b & (1<<minuteBits - 1))
}

// run is the minutes lo to hi-1 of a day.
type run struct{ lo, hi int16 }

// runsOf returns the runs of s, ascending.
func runsOf(s *minuteSet) []run {
	var out []run
	s.eachRun(func(lo, hi int) { out = append(out, run{int16(lo), int16(hi)}) })
	return out
}

// without removes minute m from cands, which the caller owns.
func without(cands []run, m int) []run {
	for i, c := range cands {
		lo, hi := int(c.lo), int(c.hi)
		if m < lo || m >= hi {
			continue
		}
		switch {
		case lo == m && m+1 == hi:
			return slices.Delete(cands, i, i+1)
		case lo == m:
			cands[i].lo++
		case m+1 == hi:
			cands[i].hi--
		default:
			cands[i].hi = int16(m)
			cands = slices.Insert(cands, i+1, run{int16(m + 1), int16(hi)})
		}
		return cands
	}
	return cands
}
