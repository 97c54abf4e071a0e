package fleet

// The allocator of commit 64be207 (see allocate_oracle_counter_test.go).

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours"
)

// oldAllocator carries one call of Allocate.
type oldAllocator struct {
	clients  []Client
	res      Resource
	from, to afterhours.Date
	previous map[string]string

	p0, n    int   // horizon index of the period's first date; dates in the period
	dur, buf int64 // seconds, rounded up
	dlen     int   // minutes a slot occupies

	zones []*zoneInfo
	sites []oldFeasible
	siteZ []int // zone of each site

	recs        []oldRec      // every client, in ID order
	lans        []oldLanInfo  // LANs by index
	global      []*oldCounter // by zone for a "site" resource; one for "UTC"
	lanCounters map[string]*oldCounter
}

// oldRec is one client's state. It holds no pointers, so that a million of
// them cost the garbage collector nothing.
type oldRec struct {
	client    int32 // index in clients
	site      int32 // index in sites, -1 without a valid site
	lan       int32 // index in lans, -1 for none
	prev      int16 // previous base, -1 for none
	base      int16 // -1 until placed
	kept      bool
	hold      bool
	moved     oldReason // why the previous base was not kept
	oldReason oldReason // why unplaced
}

// oldReason is a Reason constant, as a small number.
type oldReason uint8

const (
	oldNoReason oldReason = iota
	oldNoWindow
	oldOverCapacity
	oldOverLANCapacity
	oldInvalidSite
	oldDuplicate
	oldNoID
	oldBadBase
)

var oldReasonNames = [...]string{
	oldNoReason: "", oldNoWindow: ReasonNoWindow, oldOverCapacity: ReasonCapacity, oldOverLANCapacity: ReasonLANCapacity,
	oldInvalidSite: ReasonInvalidSite, oldDuplicate: ReasonDuplicate, oldNoID: ReasonNoID, oldBadBase: ReasonBadBase,
}

// detail says more about why r is unplaced.
func (a *oldAllocator) detail(r *oldRec) string {
	c := &a.clients[r.client]
	switch r.oldReason {
	case oldNoID:
		return "the client has no ID"
	case oldDuplicate:
		return fmt.Sprintf("more than one client is %q", c.ID)
	case oldInvalidSite:
		return "the client's site is missing or not validated"
	case oldNoWindow:
		return fmt.Sprintf("no base keeps the slot inside the site's after-hours windows on every date of the year: the dates up to %v leave none",
			a.zones[a.siteZ[r.site]].first.AddDays(a.sites[r.site].emptyAt))
	case oldOverCapacity:
		return fmt.Sprintf("every base that fits the site's windows has %d clients in their slots at some minute", a.res.Capacity)
	case oldOverLANCapacity:
		return fmt.Sprintf("every base that fits the site's windows and the fleet's capacity has %d clients of LAN %q in their slots at some minute",
			a.res.LANCapacity, c.LAN)
	}
	return ""
}

type oldLanInfo struct {
	members []int32 // recs, in ID order
	zones   []int   // zones of its members, ascending
	counted bool    // the LAN has more members than its capacity
}

func oldNewAllocator(clients []Client, res Resource, from, to afterhours.Date, previous map[string]string) *oldAllocator {
	a := &oldAllocator{clients: clients, res: res, from: from, to: to, previous: previous}
	a.p0 = horizonMargin
	a.n = int(dayNumber(to) - dayNumber(from))
	a.dur = ceilDiv(int64(res.Duration), int64(time.Second))
	a.buf = ceilDiv(int64(res.Buffer), int64(time.Second))
	a.dlen = int(ceilDiv(int64(res.Duration), int64(time.Minute)))
	return a
}

func (a *oldAllocator) run() {
	a.sortClients()
	a.computeSites()
	a.groupLANs()
	a.keepPrevious()
	a.placeNew()
}

// sortClients fills recs in ID order, marking clients without an ID, with
// a oldDuplicate ID or without a valid site.
func (a *oldAllocator) sortClients() {
	order := make([]int32, len(a.clients))
	for i := range order {
		order[i] = int32(i)
	}
	// Clients with equal IDs are all unplaced alike, so their order does
	// not matter and the sort need not be stable.
	slices.SortFunc(order, func(x, y int32) int { return strings.Compare(a.clients[x].ID, a.clients[y].ID) })
	a.recs = make([]oldRec, len(order))
	for i, ci := range order {
		r := &a.recs[i]
		*r = oldRec{client: ci, site: -1, lan: -1, prev: -1, base: -1}
		c := &a.clients[ci]
		switch {
		case c.ID == "":
			r.oldReason = oldNoID
		case i > 0 && a.clients[order[i-1]].ID == c.ID || i+1 < len(order) && a.clients[order[i+1]].ID == c.ID:
			r.oldReason = oldDuplicate
		case !c.Site.Validated():
			r.oldReason = oldInvalidSite
		}
	}
}

// computeSites works out what each distinct site allows, in parallel.
func (a *oldAllocator) computeSites() {
	byPtr := map[*afterhours.Site]int32{}
	byKey := map[string]int32{}
	var distinct []*afterhours.Site
	for i := range a.recs {
		r := &a.recs[i]
		if r.oldReason != oldNoReason {
			continue
		}
		s := a.clients[r.client].Site
		idx, ok := byPtr[s]
		if !ok {
			key := siteKey(s, true)
			if idx, ok = byKey[key]; !ok {
				idx = int32(len(distinct))
				byKey[key] = idx
				distinct = append(distinct, s)
			}
			byPtr[s] = idx
		}
		r.site = idx
	}

	// The resource's zones: UTC, or every site's zone, in name order.
	var locs []*time.Location
	a.siteZ = make([]int, len(distinct))
	if a.res.zone() == "UTC" {
		locs = []*time.Location{time.UTC}
	} else {
		names := map[string]*time.Location{}
		for _, s := range distinct {
			names[s.Location().String()] = s.Location()
		}
		keys := slices.Sorted(oldMapKeys(names))
		for _, k := range keys {
			locs = append(locs, names[k])
		}
		for i, s := range distinct {
			a.siteZ[i], _ = slices.BinarySearch(keys, s.Location().String())
		}
	}
	first, days := a.from.AddDays(-horizonMargin), a.n+2*horizonMargin+1
	a.zones = make([]*zoneInfo, len(locs))
	parallel(len(locs), func(i int) { a.zones[i] = newZoneInfo(locs[i], first, days) })
	a.sites = make([]oldFeasible, len(distinct))
	parallel(len(distinct), func(i int) {
		a.sites[i] = oldFeasibleBases(distinct[i], a.zones[a.siteZ[i]], a.p0, a.n, a.dur, a.buf)
	})
}

func oldMapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// groupLANs indexes LANs, marks those whose capacity must be counted, reads
// previous bases and lists clients no base fits.
func (a *oldAllocator) groupLANs() {
	byName := map[string]int32{}
	for i := range a.recs {
		r := &a.recs[i]
		if r.oldReason != oldNoReason {
			continue
		}
		c := &a.clients[r.client]
		if f := &a.sites[r.site]; f.nSlot == 0 {
			r.oldReason = oldNoWindow
			continue
		}
		if p, ok := a.previous[c.ID]; ok {
			if m, ok := parseBase(p); ok {
				r.prev = int16(m)
			} else {
				r.moved = oldBadBase
			}
		}
		if c.LAN == "" {
			continue
		}
		li, ok := byName[c.LAN]
		if !ok {
			li = int32(len(a.lans))
			byName[c.LAN] = li
			a.lans = append(a.lans, oldLanInfo{})
		}
		r.lan = li
		l := &a.lans[li]
		l.members = append(l.members, int32(i))
		if z := a.zoneOf(r); !slices.Contains(l.zones, z) {
			l.zones = append(l.zones, z)
		}
	}
	for i := range a.lans {
		l := &a.lans[i]
		l.counted = a.res.LANCapacity > 0 && len(l.members) > a.res.LANCapacity
		slices.Sort(l.zones)
	}
	a.global = make([]*oldCounter, len(a.zones))
}

// zoneOf returns the index of the zone r's base is read in.
func (a *oldAllocator) zoneOf(r *oldRec) int {
	return a.siteZ[r.site]
}

// globalFor returns the fleet oldCounter of r, and r's zone index in it.
func (a *oldAllocator) globalFor(r *oldRec) (*oldCounter, int) {
	z := a.zoneOf(r)
	if a.global[z] == nil {
		a.global[z] = oldNewCounter([]*zoneInfo{a.zones[z]}, a.p0, a.n, a.res.Capacity, a.dlen)
	}
	return a.global[z], 0
}

// lanCounter returns an empty oldCounter for LAN l.
func (a *oldAllocator) lanCounter(l *oldLanInfo) *oldCounter {
	zs := make([]*zoneInfo, len(l.zones))
	for i, z := range l.zones {
		zs[i] = a.zones[z]
	}
	return oldNewCounter(zs, a.p0, a.n, a.res.LANCapacity, a.dlen)
}

// keepPrevious keeps the previous bases that still fit: the windows first,
// then the fleet's capacity in ID order, then each counted LAN's in ID order.
func (a *oldAllocator) keepPrevious() {
	for i := range a.recs {
		r := &a.recs[i]
		if r.oldReason != oldNoReason || r.prev < 0 {
			continue
		}
		f := &a.sites[r.site]
		g, gk := a.globalFor(r)
		switch m := int(r.prev); {
		case !f.slot.has(m):
			r.moved = oldNoWindow
		case !g.fits(m, gk):
			r.moved = oldOverCapacity
		default:
			g.add(m, gk)
			r.base, r.kept, r.hold = r.prev, true, f.hold.has(m)
		}
	}
	for li := range a.lans {
		l := &a.lans[li]
		if !l.counted {
			continue
		}
		lc := a.emptyLANCounter(l)
		for _, ri := range l.members {
			r := &a.recs[ri]
			if !r.kept {
				continue
			}
			m, k := int(r.base), lc.zoneIndex(a.zones[a.zoneOf(r)])
			if lc.fits(m, k) {
				lc.add(m, k)
				continue
			}
			g, gk := a.globalFor(r)
			g.remove(m, gk)
			r.base, r.kept, r.hold, r.moved = -1, false, false, oldOverLANCapacity
		}
	}
}

// emptyLANCounter returns an empty oldCounter for LAN l. LANs are counted one
// at a time, so one oldCounter serves every LAN of the same zones.
func (a *oldAllocator) emptyLANCounter(l *oldLanInfo) *oldCounter {
	key := fmt.Sprint(l.zones)
	if c, ok := a.lanCounters[key]; ok {
		c.reset()
		return c
	}
	c := a.lanCounter(l)
	if a.lanCounters == nil {
		a.lanCounters = map[string]*oldCounter{}
	}
	a.lanCounters[key] = c
	return c
}

// placeNew places every client not yet placed, fewest possible bases first,
// a counted LAN's clients together.
func (a *oldAllocator) placeNew() {
	// Fewest bases first, in ID order among equals (recs are in ID order):
	// a counting sort on the number of bases.
	var starts [minutesPerDay + 2]int
	for i := range a.recs {
		if r := &a.recs[i]; r.oldReason == oldNoReason && !r.kept {
			starts[a.sites[r.site].nSlot+1]++
		}
	}
	for k := 1; k < len(starts); k++ {
		starts[k] += starts[k-1]
	}
	todo := make([]int32, starts[len(starts)-1])
	for i := range a.recs {
		if r := &a.recs[i]; r.oldReason == oldNoReason && !r.kept {
			n := a.sites[r.site].nSlot
			todo[starts[n]] = int32(i)
			starts[n]++
		}
	}
	lanTodo := make([][]int32, len(a.lans))
	for _, ri := range todo {
		if r := &a.recs[ri]; r.lan >= 0 && a.lans[r.lan].counted {
			lanTodo[r.lan] = append(lanTodo[r.lan], ri)
		}
	}
	for _, ri := range todo {
		r := &a.recs[ri]
		if r.lan < 0 || !a.lans[r.lan].counted {
			a.place(r, nil)
			continue
		}
		list := lanTodo[r.lan]
		if list == nil {
			continue // placed with its LAN
		}
		lanTodo[r.lan] = nil
		l := &a.lans[r.lan]
		lc := a.emptyLANCounter(l)
		for _, mi := range l.members {
			if m := &a.recs[mi]; m.kept {
				lc.add(int(m.base), lc.zoneIndex(a.zones[a.zoneOf(m)]))
			}
		}
		for _, mi := range list {
			a.place(&a.recs[mi], lc)
		}
	}
}

// place gives r the least loaded base that fits, preferring those whose
// whole hold lies in the windows; lan is r's LAN oldCounter, nil when its LAN
// is not counted.
func (a *oldAllocator) place(r *oldRec, lan *oldCounter) {
	f := &a.sites[r.site]
	g, gk := a.globalFor(r)
	lk := 0
	if lan != nil {
		lk = lan.zoneIndex(a.zones[a.zoneOf(r)])
	}
	h := spread(a.clients[r.client].ID)
	slotOnly := f.slot.minus(&f.hold)
	for pass, set := range []*minuteSet{&f.hold, &slotOnly} {
		cands := *set
		n := cands.len()
		if n == 0 {
			continue
		}
		// Ties go to the first base from one drawn among the candidates,
		// not among all minutes: a draw in the day would land most ties at
		// the start of the windows.
		start := cands.nth(int(h % uint64(n)))
		for {
			m := oldBest(&cands, start, g, gk, lan, lk)
			if m < 0 {
				break
			}
			if g.fitsWindows(m, gk) && (lan == nil || lan.fitsWindows(m, lk)) {
				g.add(m, gk)
				if lan != nil {
					lan.add(m, lk)
				}
				r.base, r.hold = int16(m), pass == 0
				return
			}
			cands[m>>6] &^= 1 << (m & 63)
		}
	}
	r.oldReason = oldOverCapacity
	if lan != nil {
		cands := f.slot
		for m := oldBest(&cands, 0, g, gk, nil, 0); m >= 0; m = oldBest(&cands, 0, g, gk, nil, 0) {
			if g.fitsWindows(m, gk) {
				r.oldReason = oldOverLANCapacity
				break
			}
			cands[m>>6] &^= 1 << (m & 63)
		}
	}
}

// result builds the Allocation from recs, in ID order.
func (a *oldAllocator) result() *Allocation {
	out := &Allocation{Resource: a.res, From: a.from, To: a.to}
	placed := 0
	for i := range a.recs {
		if a.recs[i].base >= 0 {
			placed++
		}
	}
	out.Assigned = make([]Assignment, 0, placed)
	for i := range a.recs {
		r := &a.recs[i]
		id := a.clients[r.client].ID
		if r.base < 0 {
			out.Unplaced = append(out.Unplaced, Unplaced{Client: id, Reason: oldReasonNames[r.oldReason], Detail: a.detail(r)})
			continue
		}
		moved := oldReasonNames[r.moved]
		if r.kept {
			moved = ""
		}
		out.Assigned = append(out.Assigned, Assignment{
			Client: id, Base: baseNames[r.base], Kept: r.kept, Moved: moved, HoldInWindow: r.hold,
		})
	}
	return out
}

// oldAllocate is Allocate as of commit 64be207.
func oldAllocate(clients []Client, res Resource, from afterhours.Date, previous map[string]string) (*Allocation, error) {
	if err := res.validate(); err != nil {
		return nil, err
	}
	to := afterhours.DateOf(time.Date(from.Year+1, from.Month, from.Day, 12, 0, 0, 0, time.UTC))
	a := oldNewAllocator(clients, res, from, to, previous)
	a.run()
	return a.result(), nil
}
