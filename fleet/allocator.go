package fleet

import (
	"fmt"
	"slices"
	"time"

	"github.com/afterhours-go/afterhours"
)

// An Allocator holds an allocation of one resource for one year, with the
// counts of clients in their slots it was made with, so that clients can
// join and leave one at a time at a cost that does not grow with the
// fleet: a server places a client that registers without allocating the
// fleet again.
//
// An Allocator decides as [Allocate] does, and holds what Allocate would
// return given the bases it holds as the previous allocation: a client
// placed keeps its base while it is held, and placing or removing a client
// moves no other. [NewAllocator] starts one from the clients and a
// previous allocation, exactly as Allocate would; [Allocator.Place] takes
// clients in, [Allocator.Remove] takes them out, and [Allocator.Allocation]
// returns what it holds.
//
// The order of Places matters as the order of clients in one call to
// Allocate does not: each Place decides with the clients held, so one
// Place of many clients (which takes them in Allocate's order) may
// decide otherwise than one Place per client. Either way the result
// depends only on the calls made, not on the CPUs.
//
// An Allocator is not safe for concurrent use: calls must not overlap
// (a server holds it under its lock for changes). The Allocations it
// returns are copies, the caller's to keep. The zero value is not usable.
type Allocator struct {
	res      Resource
	from, to afterhours.Date
	p0, n    int   // horizon index of the period's first date; dates in the period
	dur, buf int64 // seconds, rounded up
	dlen     int   // minutes a slot occupies

	zones      []*zoneInfo
	zoneByName map[string]int
	sites      []siteInfo
	siteByPtr  map[*afterhours.Site]int32
	siteByKey  map[string]int32
	templates  map[string]*template

	// clients holds the clients: for Allocate, its argument, which it only
	// reads, recs pointing into it; for an Allocator of NewAllocator, its
	// own copies, clients[i] the client of recs[i].
	clients []Client
	own     bool
	recs    []rec
	free    []int32 // records of removed clients, for reuse
	live    int     // records in use
	ordered bool    // the records in use are recs[:live], in ID order
	index   *idIndex

	lans        []lanInfo
	lanByName   map[string]int32
	global      []*counter // by zone
	lanCounters map[string]*counter

	runBuf []run  // scratch for place
	keyBuf []byte // scratch for lanCounter
}

// idIndex finds an Allocator's records by client ID.
type idIndex struct {
	one     map[string]int32   // the IDs held once
	more    map[string][]int32 // the IDs held more than once, and ""
	waiting map[int32]struct{} // clients unplaced for want of capacity
}

func (x *idIndex) lookup(id string) []int32 {
	if ri, ok := x.one[id]; ok {
		return []int32{ri}
	}
	return slices.Clone(x.more[id])
}

func (x *idIndex) add(id string, ri int32) {
	if id != "" {
		if _, ok := x.more[id]; !ok {
			other, ok := x.one[id]
			if !ok {
				x.one[id] = ri
				return
			}
			delete(x.one, id)
			x.more[id] = []int32{other}
		}
	}
	x.more[id] = append(x.more[id], ri)
}

func (x *idIndex) remove(id string, ri int32) {
	if x.one[id] == ri {
		delete(x.one, id)
		return
	}
	list := slices.DeleteFunc(x.more[id], func(r int32) bool { return r == ri })
	switch {
	case len(list) == 0:
		delete(x.more, id)
	case len(list) == 1 && id != "":
		delete(x.more, id)
		x.one[id] = list[0]
	default:
		x.more[id] = list
	}
}

// newAllocator returns an empty Allocator, or an error for a resource or
// date it cannot allocate for.
func newAllocator(res Resource, from afterhours.Date) (*Allocator, error) {
	if err := res.validate(); err != nil {
		return nil, err
	}
	if from.Month < time.January || from.Month > time.December || from.Day < 1 || from.AddDays(0) != from {
		return nil, fmt.Errorf("%w: %v is not a date", ErrInvalidPeriod, from)
	}
	to := afterhours.DateOf(time.Date(from.Year+1, from.Month, from.Day, 12, 0, 0, 0, time.UTC))
	a := &Allocator{res: res, from: from, to: to,
		zoneByName: map[string]int{}, siteByPtr: map[*afterhours.Site]int32{}, siteByKey: map[string]int32{},
		templates: map[string]*template{}, lanByName: map[string]int32{}, lanCounters: map[string]*counter{}}
	a.p0 = horizonMargin
	a.n = int(dayNumber(to) - dayNumber(from))
	a.dur = ceilDiv(int64(res.Duration), int64(time.Second))
	a.buf = ceilDiv(int64(res.Buffer), int64(time.Second))
	a.dlen = int(ceilDiv(int64(res.Duration), int64(time.Minute)))
	return a, nil
}

// NewAllocator returns an Allocator holding the allocation that
// Allocate(clients, res, from, previous) returns. It returns an error
// wrapping [ErrInvalidResource] or [ErrInvalidPeriod] as Allocate does. It
// keeps copies of the clients; their sites it only reads, and they must
// not change while it holds them.
func NewAllocator(clients []Client, res Resource, from afterhours.Date, previous map[string]string) (*Allocator, error) {
	a, err := newAllocator(res, from)
	if err != nil {
		return nil, err
	}
	a.own = true
	a.index = &idIndex{one: make(map[string]int32, len(clients)), more: map[string][]int32{}, waiting: map[int32]struct{}{}}
	a.add(clients, previous)
	return a, nil
}

// Resource returns the resource allocated.
func (a *Allocator) Resource() Resource { return a.res }

// Period returns the dates the allocation holds for: from to the day
// before to.
func (a *Allocator) Period() (from, to afterhours.Date) { return a.from, a.to }

// Len returns the number of clients held, placed or not.
func (a *Allocator) Len() int { return a.live }

// Place takes the clients in, as Allocate takes its clients given the
// bases held as previous: a client's previous base (previous[ID], else the
// base it holds under that ID) is kept if it still lies in its site's
// windows and fits beside every client held, and the others are placed in
// the least loaded bases, fewest possible bases first. A client of an ID
// held is replaced (its site or LAN may have changed); IDs given twice
// are unplaced, as in Allocate. No client held moves; a replaced client's
// base may go to clients that were unplaced for want of capacity.
//
// Place returns the outcome of each client given, and of each client held
// whose outcome changed: a base found for one unplaced before, or another
// reason.
func (a *Allocator) Place(clients []Client, previous map[string]string) *Allocation {
	batch, again := a.add(clients, previous)
	return a.result(append(batch, again...), true)
}

// Remove takes the clients of the given IDs out; IDs it does not hold are
// ignored. No client held moves, but the capacity a removed client frees
// goes to clients unplaced for want of it, in the order Allocate places
// clients. Remove returns the outcome of each client whose outcome
// changed.
func (a *Allocator) Remove(ids ...string) *Allocation {
	freed := false
	for _, id := range ids {
		for _, ri := range a.index.lookup(id) {
			freed = a.drop(ri) || freed
		}
	}
	if !freed {
		return a.result(nil, false)
	}
	again, was := a.takeWaiting()
	a.placeAll(again, true)
	return a.result(a.changedOf(again, was), true)
}

// takeWaiting returns the records of the clients waiting for capacity, to
// be placed again, and their reasons.
func (a *Allocator) takeWaiting() (recs []int32, was []reason) {
	for ri := range a.index.waiting {
		recs = append(recs, ri)
	}
	clear(a.index.waiting)
	was = make([]reason, len(recs))
	for i, ri := range recs {
		r := &a.recs[ri]
		was[i], r.reason = r.reason, noReason
	}
	return recs, was
}

// changedOf returns the records of again, placed again, that found a base
// or another reason than was; the others wait again.
func (a *Allocator) changedOf(again []int32, was []reason) []int32 {
	var out []int32
	for i, ri := range again {
		r := &a.recs[ri]
		if r.waits() {
			a.index.waiting[ri] = struct{}{}
		}
		if r.base >= 0 || r.reason != was[i] {
			out = append(out, ri)
		}
	}
	return out
}

// Allocation returns the allocation held: every client held, by ID.
func (a *Allocator) Allocation() *Allocation {
	if a.ordered {
		recs := make([]int32, a.live)
		for i := range recs {
			recs[i] = int32(i)
		}
		return a.result(recs, false)
	}
	recs := make([]int32, 0, a.live)
	for i := range a.recs {
		if a.recs[i].inUse {
			recs = append(recs, int32(i))
		}
	}
	return a.result(recs, true)
}

// result builds an Allocation of the records; sort says they are not in
// ID order yet.
func (a *Allocator) result(recs []int32, sort bool) *Allocation {
	if sort {
		cs := make([]Client, len(recs))
		for i, ri := range recs {
			cs[i].ID = a.clients[a.recs[ri].client].ID
		}
		order, _ := idOrder(cs)
		sorted := make([]int32, len(recs))
		for i, k := range order {
			sorted[i] = recs[k]
		}
		recs = sorted
	}
	out := &Allocation{Resource: a.res, From: a.from, To: a.to}
	// Counted, then filled, in parallel chunks.
	chunks := chunksOf(len(recs), 4)
	placed := make([]int, len(chunks)+1)
	unplaced := make([]int, len(chunks)+1)
	parallel(len(chunks), func(k int) {
		for _, ri := range recs[chunks[k].lo:chunks[k].hi] {
			if a.recs[ri].base >= 0 {
				placed[k+1]++
			} else {
				unplaced[k+1]++
			}
		}
	})
	for k := range chunks {
		placed[k+1] += placed[k]
		unplaced[k+1] += unplaced[k]
	}
	out.Assigned = make([]Assignment, placed[len(chunks)])
	if n := unplaced[len(chunks)]; n > 0 {
		out.Unplaced = make([]Unplaced, n)
	}
	parallel(len(chunks), func(k int) {
		as, us := out.Assigned[placed[k]:placed[k+1]], out.Unplaced[unplaced[k]:unplaced[k+1]]
		memo := map[detailKey]string{}
		for _, ri := range recs[chunks[k].lo:chunks[k].hi] {
			r := &a.recs[ri]
			id := a.clients[r.client].ID
			if r.base < 0 {
				us[0] = Unplaced{Client: id, Reason: reasonNames[r.reason], Detail: a.detailOnce(r, memo)}
				us = us[1:]
				continue
			}
			moved := reasonNames[r.moved]
			if r.kept {
				moved = ""
			}
			as[0] = Assignment{Client: id, Base: baseNames[r.base], Kept: r.kept, Moved: moved, HoldInWindow: r.hold}
			as = as[1:]
		}
	})
	return out
}
