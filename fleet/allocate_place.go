package fleet

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/afterhours-go/afterhours"
)

// rec is one client's state. It holds no pointers, so that a million of
// them cost the garbage collector nothing.
type rec struct {
	spread uint64 // the hash of the client's ID
	client int32  // index in Allocator.clients
	site   int32  // index in Allocator.sites, -1 without a valid site
	lan    int32  // index in Allocator.lans, -1 for none
	prev   int16  // previous base, -1 for none
	base   int16  // -1 until placed
	kept   bool
	hold   bool
	moved  reason // why the previous base was not kept
	reason reason // why unplaced
	inUse  bool   // false for a removed client's record, free for reuse
	fresh  bool   // in the batch being taken in
}

// reason is a Reason constant, as a small number.
type reason uint8

const (
	noReason reason = iota
	noWindow
	overCapacity
	overLANCapacity
	invalidSite
	duplicate
	noID
	badBase
)

var reasonNames = [...]string{
	noReason: "", noWindow: ReasonNoWindow, overCapacity: ReasonCapacity, overLANCapacity: ReasonLANCapacity,
	invalidSite: ReasonInvalidSite, duplicate: ReasonDuplicate, noID: ReasonNoID, badBase: ReasonBadBase,
}

// waits reports whether r is unplaced for want of capacity: capacity that
// a removed client frees may let it in.
func (r *rec) waits() bool {
	return r.base < 0 && (r.reason == overCapacity || r.reason == overLANCapacity)
}

// detailKey names the records that share a detail: those of one reason
// and, for noWindow, one site, for overLANCapacity, one LAN.
type detailKey struct {
	why reason
	of  int32
}

// detailOnce returns a.detail(r), computing it once per key in memo.
func (a *Allocator) detailOnce(r *rec, memo map[detailKey]string) string {
	key := detailKey{r.reason, -1}
	switch r.reason {
	case duplicate:
		return a.detail(r) // it names the client
	case noWindow:
		key.of = r.site
	case overLANCapacity:
		key.of = r.lan
	}
	d, ok := memo[key]
	if !ok {
		d = a.detail(r)
		memo[key] = d
	}
	return d
}

// detail says more about why r is unplaced.
func (a *Allocator) detail(r *rec) string {
	c := &a.clients[r.client]
	switch r.reason {
	case noID:
		return "the client has no ID"
	case duplicate:
		return fmt.Sprintf("more than one client is %q", c.ID)
	case invalidSite:
		return "the client's site is missing or not validated"
	case noWindow:
		si := &a.sites[r.site]
		return fmt.Sprintf("no base keeps the slot inside the site's after-hours windows on every date of the year: the dates up to %v leave none",
			a.zones[si.zone].first.AddDays(si.emptyAt))
	case overCapacity:
		return fmt.Sprintf("every base that fits the site's windows has %d clients in their slots at some minute", a.res.Capacity)
	case overLANCapacity:
		return fmt.Sprintf("every base that fits the site's windows and the fleet's capacity has %d clients of LAN %q in their slots at some minute",
			a.res.LANCapacity, c.LAN)
	}
	return ""
}

type lanInfo struct {
	members  []int32 // recs of clients with a valid site, in the order they came, each batch in ID order
	zones    []int   // zones of its members, ascending
	lastZone int     // the zone of the last member that joined, one of zones
	counted  bool    // the LAN has more members than its capacity
}

// incoming is what the first pass over a batch learns of a client, in the
// order of the batch.
type incoming struct {
	spread uint64 // the hash of the ID, found here as the clients are read in order
	site   int32  // -1 for none valid
	lan    int32  // -1 for none
	prev   int16  // -1 for none, -2 for one that is not a base
	noID   bool
}

// add takes a batch of clients in, as Allocate takes its clients: their
// previous bases first, then the others, fewest possible bases first. It
// returns the batch's records in ID order, and those of the clients
// waiting for capacity whose outcome changed when replaced clients freed
// some.
func (a *Allocator) add(clients []Client, previous map[string]string) (batch, again []int32) {
	// Clients held under the IDs of the batch are taken out first; a base
	// they had is their previous base unless previous says otherwise.
	freed := false
	var held map[string]string
	if a.index != nil {
		for i := range clients {
			id := clients[i].ID
			for _, ri := range a.index.lookup(id) {
				if r := &a.recs[ri]; r.base >= 0 {
					if held == nil {
						held = map[string]string{}
					}
					held[id] = baseNames[r.base]
				}
				freed = a.drop(ri) || freed
			}
		}
	}

	// The order of IDs is found while the sites are computed.
	var order []int32
	var dup []bool
	sorted := make(chan struct{})
	go func() {
		order, dup = idOrder(clients)
		close(sorted)
	}()
	a.addSites(clients)
	in := a.read(clients, previous, held)
	<-sorted
	a.recs = slices.Grow(a.recs, len(clients))
	if a.own {
		a.clients = slices.Grow(a.clients, len(clients))
	}

	a.makeRoom(in)
	ordered := a.live == 0 && len(a.free) == 0
	batch = make([]int32, len(order))
	for k := range batch {
		batch[k] = a.newRec()
	}
	// The records are filled in parallel, then joined to their LANs.
	chunks := chunksOf(len(order), 4)
	parallel(len(chunks), func(j int) {
		for k := chunks[j].lo; k < chunks[j].hi; k++ {
			ci, ri := order[k], batch[k]
			p := &in[ci]
			client := ci
			if a.own {
				a.clients[ri] = clients[ci]
				client = ri
			}
			r := &a.recs[ri]
			*r = rec{spread: p.spread, client: client, site: -1, lan: -1, prev: -1, base: -1, inUse: true, fresh: true}
			switch {
			case p.noID:
				r.reason = noID
			case dup[ci]:
				r.reason = duplicate
			case p.site < 0:
				r.reason = invalidSite
			case a.sites[p.site].nSlot == 0:
				r.site = p.site
				r.reason = noWindow
			default:
				r.site, r.lan = p.site, p.lan
				switch p.prev {
				case -1:
				case -2:
					r.moved = badBase
				default:
					r.prev = p.prev
				}
			}
		}
	})
	a.joinAll(batch)
	if a.index != nil {
		for k, ri := range batch {
			a.index.add(clients[order[k]].ID, ri)
		}
	}
	a.ordered = ordered

	a.keepPrevious(batch)
	todo := make([]int32, 0, len(batch))
	for _, ri := range batch {
		if r := &a.recs[ri]; r.reason == noReason && !r.kept {
			todo = append(todo, ri)
		}
	}
	var was []reason
	if freed {
		again, was = a.takeWaiting()
		todo = append(todo, again...)
	}
	a.placeAll(todo, freed)
	for _, ri := range batch {
		r := &a.recs[ri]
		r.fresh = false
		if a.index != nil && r.waits() {
			a.index.waiting[ri] = struct{}{}
		}
	}
	return batch, a.changedOf(again, was)
}

// read returns what the clients say: their sites, LANs (indexing the new
// ones) and previous bases (previous, else held), in parallel chunks.
func (a *Allocator) read(clients []Client, previous, held map[string]string) []incoming {
	in := make([]incoming, len(clients))
	// One chunk per CPU: each chunk numbers the LANs it finds in a map
	// of its own.
	chunks := chunksOf(len(clients), 1)
	newLANs := make([][]string, len(chunks)) // per chunk, the LANs a.lanByName lacks
	parallel(len(chunks), func(k int) {
		var local map[string]int32
		var lastSite *afterhours.Site
		lastIdx := int32(-1)
		for i := chunks[k].lo; i < chunks[k].hi; i++ {
			c := &clients[i]
			p := &in[i]
			*p = incoming{spread: spread(c.ID), site: -1, lan: -1, prev: -1, noID: c.ID == ""}
			if c.Site != nil && c.Site == lastSite {
				p.site = lastIdx
			} else if c.Site.Validated() {
				p.site = a.siteByPtr[c.Site]
				lastSite, lastIdx = c.Site, p.site
			}
			if c.LAN != "" {
				li, ok := a.lanByName[c.LAN]
				if !ok {
					// Numbered in the chunk for now, as -2-i.
					if li, ok = local[c.LAN]; !ok {
						if local == nil {
							local = map[string]int32{}
						}
						li = -2 - int32(len(newLANs[k]))
						local[c.LAN] = li
						newLANs[k] = append(newLANs[k], c.LAN)
					}
				}
				p.lan = li
			}
			b, ok := previous[c.ID]
			if !ok {
				b, ok = held[c.ID]
			}
			if ok {
				p.prev = -2
				if m, ok := parseBase(b); ok {
					p.prev = int16(m)
				}
			}
		}
	})
	remap := make([][]int32, len(chunks))
	for k, names := range newLANs {
		for _, name := range names {
			li, ok := a.lanByName[name]
			if !ok {
				li = int32(len(a.lans))
				a.lanByName[name] = li
				a.lans = append(a.lans, lanInfo{})
			}
			remap[k] = append(remap[k], li)
		}
	}
	parallel(len(chunks), func(k int) {
		if len(remap[k]) == 0 {
			return
		}
		for i := chunks[k].lo; i < chunks[k].hi; i++ {
			if p := &in[i]; p.lan <= -2 {
				p.lan = remap[k][-2-p.lan]
			}
		}
	})
	return in
}

// span is the indices lo to hi-1.
type span struct{ lo, hi int }

// chunksOf splits n indices into chunks for parallel work: one for a few,
// perCPU per CPU for many.
func chunksOf(n, perCPU int) []span {
	parts := 1
	if n >= 4096 {
		parts = perCPU * runtime.GOMAXPROCS(0)
	}
	out := make([]span, 0, parts)
	for k := range parts {
		out = append(out, span{n * k / parts, n * (k + 1) / parts})
	}
	return out
}

// makeRoom gives the LANs of the clients room for their new members, in
// one array for the LANs that had none.
func (a *Allocator) makeRoom(in []incoming) {
	if len(in) < 64 {
		return
	}
	count := make([]int32, len(a.lans))
	total := 0
	for i := range in {
		if p := &in[i]; p.lan >= 0 && p.site >= 0 {
			count[p.lan]++
			total++
		}
	}
	backing := make([]int32, 0, total)
	for li, n := range count {
		if n == 0 {
			continue
		}
		l := &a.lans[li]
		if len(l.members) > 0 {
			l.members = slices.Grow(l.members, int(n))
			continue
		}
		off := len(backing)
		backing = backing[:off+int(n)]
		l.members = backing[off : off : off+int(n)]
	}
}

// joinAll makes the records of batch with a LAN members of it, in the
// order of batch. The LANs are split among the CPUs in ranges of indices,
// each worker going through the whole batch for its own.
func (a *Allocator) joinAll(batch []int32) {
	parts := 1
	if len(batch) >= 4096 {
		parts = runtime.GOMAXPROCS(0)
	}
	parallel(parts, func(w int) {
		lo, hi := int32(len(a.lans)*w/parts), int32(len(a.lans)*(w+1)/parts)
		for _, ri := range batch {
			if li := a.recs[ri].lan; li >= lo && li < hi {
				a.join(li, ri)
			}
		}
	})
}

// join makes record ri a member of LAN li.
func (a *Allocator) join(li, ri int32) {
	l := &a.lans[li]
	l.members = append(l.members, ri)
	// Most LANs are in one zone: the last zone joined is checked first.
	if z := a.sites[a.recs[ri].site].zone; len(l.zones) == 0 || z != l.lastZone {
		if !slices.Contains(l.zones, z) {
			l.zones = append(l.zones, z)
			slices.Sort(l.zones)
		}
		l.lastZone = z
	}
	a.recount(li)
}

// leave takes record ri out of LAN li.
func (a *Allocator) leave(li, ri int32) {
	l := &a.lans[li]
	k := slices.Index(l.members, ri)
	if k < 0 {
		return
	}
	l.members = slices.Delete(l.members, k, k+1)
	l.zones = l.zones[:0]
	for _, mi := range l.members {
		if z := a.sites[a.recs[mi].site].zone; !slices.Contains(l.zones, z) {
			l.zones = append(l.zones, z)
		}
	}
	slices.Sort(l.zones)
	if len(l.zones) > 0 {
		l.lastZone = l.zones[0]
	}
	a.recount(li)
}

// newRec returns the index of a record to use, and makes room for its
// client when the allocator keeps its own.
func (a *Allocator) newRec() int32 {
	a.live++
	if n := len(a.free); n > 0 {
		ri := a.free[n-1]
		a.free = a.free[:n-1]
		return ri
	}
	a.recs = append(a.recs, rec{})
	if a.own {
		a.clients = append(a.clients, Client{})
	}
	return int32(len(a.recs) - 1)
}

// recount sets whether LAN li's capacity is counted: whether it has more
// members than the capacity.
func (a *Allocator) recount(li int32) {
	l := &a.lans[li]
	l.counted = a.res.LANCapacity > 0 && len(l.members) > a.res.LANCapacity
}

// globalFor returns the fleet counter of r, and r's zone index in it.
func (a *Allocator) globalFor(r *rec) (*counter, int) {
	z := a.sites[r.site].zone
	if a.global[z] == nil {
		c := newCounter([]*zoneInfo{a.zones[z]}, a.p0, a.n, a.res.Capacity, a.dlen)
		c.tree = newMinTree(c.frames[0], c.cap)
		a.global[z] = c
	}
	return a.global[z], 0
}

// lanCounter returns an empty counter for LAN l. LANs are counted one at a
// time, so one counter serves every LAN of the same zones.
func (a *Allocator) lanCounter(l *lanInfo) *counter {
	a.keyBuf = a.keyBuf[:0]
	for _, z := range l.zones {
		a.keyBuf = strconv.AppendInt(a.keyBuf, int64(z), 10)
		a.keyBuf = append(a.keyBuf, ',')
	}
	if c, ok := a.lanCounters[string(a.keyBuf)]; ok {
		c.reset()
		return c
	}
	key := string(a.keyBuf)
	zs := make([]*zoneInfo, len(l.zones))
	for i, z := range l.zones {
		zs[i] = a.zones[z]
	}
	c := newCounter(zs, a.p0, a.n, a.res.LANCapacity, a.dlen)
	c.resets = true
	a.lanCounters[key] = c
	return c
}

// lanZone returns r's zone index in LAN counter lc.
func (a *Allocator) lanZone(lc *counter, r *rec) int {
	return lc.zoneIndex(a.zones[a.sites[r.site].zone])
}

// keepPrevious keeps the previous bases of the batch that still fit: the
// windows first, then the fleet's capacity in ID order, then each counted
// LAN's in ID order, beside every client placed before the batch.
func (a *Allocator) keepPrevious(batch []int32) {
	var lans []int32
	for _, ri := range batch {
		r := &a.recs[ri]
		if r.reason != noReason || r.prev < 0 {
			continue
		}
		f := &a.sites[r.site]
		g, gk := a.globalFor(r)
		switch m := int(r.prev); {
		case !f.slot.has(m):
			r.moved = noWindow
		case !g.fits(m, gk):
			r.moved = overCapacity
		default:
			g.add(m, gk)
			r.base, r.kept, r.hold = r.prev, true, f.hold.has(m)
			if r.lan >= 0 && a.lans[r.lan].counted {
				lans = append(lans, r.lan)
			}
		}
	}
	slices.Sort(lans)
	lans = slices.Compact(lans)
	for _, li := range lans {
		l := &a.lans[li]
		lc := a.lanCounter(l)
		// The members placed before the batch stay, and count first.
		for _, ri := range l.members {
			if r := &a.recs[ri]; r.base >= 0 && !r.fresh {
				lc.add(int(r.base), a.lanZone(lc, r))
			}
		}
		// Then the batch's kept bases, in ID order.
		for _, ri := range l.members {
			r := &a.recs[ri]
			if !r.fresh || !r.kept {
				continue
			}
			m, k := int(r.base), a.lanZone(lc, r)
			if lc.fits(m, k) {
				lc.add(m, k)
				continue
			}
			g, gk := a.globalFor(r)
			g.remove(m, gk)
			r.base, r.kept, r.hold, r.moved = -1, false, false, overLANCapacity
		}
	}
}

// placeAll places the records of todo, fewest possible bases first (then
// in ID order), a counted LAN's clients together. mixed says todo holds
// records of more than one batch, whose ID order must be found.
func (a *Allocator) placeAll(todo []int32, mixed bool) {
	if mixed {
		slices.SortFunc(todo, func(x, y int32) int {
			rx, ry := &a.recs[x], &a.recs[y]
			if n, m := a.sites[rx.site].nSlot, a.sites[ry.site].nSlot; n != m {
				return n - m
			}
			return strings.Compare(a.clients[rx.client].ID, a.clients[ry.client].ID)
		})
	} else {
		// todo is in ID order: a counting sort on the number of bases.
		var starts [minutesPerDay + 2]int
		for _, ri := range todo {
			starts[a.sites[a.recs[ri].site].nSlot+1]++
		}
		for k := 1; k < len(starts); k++ {
			starts[k] += starts[k-1]
		}
		sorted := make([]int32, len(todo))
		for _, ri := range todo {
			n := a.sites[a.recs[ri].site].nSlot
			sorted[starts[n]] = ri
			starts[n]++
		}
		todo = sorted
	}
	// The clients of each counted LAN, in the order above, side by side:
	// group g, the LAN whose first client comes g-th, is
	// grouped[start[g]:start[g+1]]; gOf[k] is the group of todo[k], -1 for
	// none.
	big := len(todo) >= len(a.lans)/4
	groupOf := newLANTable(big, len(a.lans))
	gOf := make([]int32, len(todo))
	var start []int32 // sizes first
	for k, ri := range todo {
		gOf[k] = -1
		if r := &a.recs[ri]; r.lan >= 0 && a.lans[r.lan].counted {
			g := groupOf.get(r.lan)
			if g < 0 {
				g = int32(len(start))
				groupOf.set(r.lan, g)
				start = append(start, 0)
			}
			start[g]++
			gOf[k] = g
		}
	}
	var total int32
	for g, n := range start {
		start[g] = total
		total += n
	}
	start = append(start, total)
	grouped := make([]int32, total)
	free := slices.Clone(start[:len(start)-1])
	for k, ri := range todo {
		if g := gOf[k]; g >= 0 {
			grouped[free[g]] = ri
			free[g]++
		}
	}
	for k, ri := range todo {
		g := gOf[k]
		if g < 0 {
			a.place(&a.recs[ri], nil)
			continue
		}
		members := grouped[start[g]:start[g+1]]
		if members[0] != ri {
			continue // placed with its LAN
		}
		l := &a.lans[a.recs[ri].lan]
		lc := a.lanCounter(l)
		for _, mi := range l.members {
			if m := &a.recs[mi]; m.base >= 0 {
				lc.add(int(m.base), a.lanZone(lc, m))
			}
		}
		for _, mi := range members {
			a.place(&a.recs[mi], lc)
		}
	}
}

// lanTable maps LANs to numbers, -1 for none: a slice for many, a map for
// a few.
type lanTable struct {
	s []int32
	m map[int32]int32
}

func newLANTable(big bool, lans int) lanTable {
	if !big {
		return lanTable{m: map[int32]int32{}}
	}
	t := lanTable{s: make([]int32, lans)}
	for i := range t.s {
		t.s[i] = -1
	}
	return t
}

func (t lanTable) get(li int32) int32 {
	if t.s != nil {
		return t.s[li]
	}
	if v, ok := t.m[li]; ok {
		return v
	}
	return -1
}

func (t lanTable) set(li, v int32) {
	if t.s != nil {
		t.s[li] = v
		return
	}
	t.m[li] = v
}

// place gives r the least loaded base that fits, preferring those whose
// whole hold lies in the windows; lan is r's LAN counter, nil when its LAN
// is not counted.
func (a *Allocator) place(r *rec, lan *counter) {
	f := &a.sites[r.site]
	g, gk := a.globalFor(r)
	lk := 0
	if lan != nil {
		lk = a.lanZone(lan, r)
	}
	// The tree serves counters of one frame, in which the base is the
	// frame's minute; others are searched minute by minute.
	fast := g.plain(gk) && (lan == nil || lan.plain(lk))
	if fast {
		g.tree.overlay(lan)
	}
	r.reason = noReason
	for pass := range 2 {
		set, runs, n := &f.hold, f.holdRuns, f.nHold
		if pass == 1 {
			set, runs, n = &f.rest, f.restRuns, f.nRest
		}
		if n == 0 {
			continue
		}
		// Ties go to the first base from one drawn among the candidates,
		// not among all minutes: a draw in the day would land most ties at
		// the start of the windows.
		start := set.nth(int(r.spread % uint64(n)))
		cands, owned := *set, false
		for {
			var m int
			if fast {
				m = g.tree.best(runs, start)
			} else {
				m = best(&cands, start, g, gk, lan, lk)
			}
			if m < 0 {
				break
			}
			if g.fitsWindows(m, gk) && (lan == nil || lan.fitsWindows(m, lk)) {
				// One update of the trees for both counters.
				g.change(m, gk, 1)
				if lan != nil {
					lan.change(m, lk, 1)
					lan.updateTrees(m, lk, g.tree)
				}
				g.updateTrees(m, gk, nil)
				r.base, r.hold = int16(m), pass == 0
				return
			}
			// Rare: the base overfills a date around an offset change.
			cands[m>>6] &^= 1 << (m & 63)
			if fast {
				if !owned {
					a.runBuf, owned = append(a.runBuf[:0], runs...), true
				}
				a.runBuf = without(a.runBuf, m)
				runs = a.runBuf
			}
		}
	}
	r.reason = overCapacity
	if lan != nil {
		// Would it fit without its LAN?
		for m := range minutesPerDay {
			if f.slot.has(m) && g.peakAt(m, gk) < g.cap && g.fitsWindows(m, gk) {
				r.reason = overLANCapacity
				break
			}
		}
	}
}

// drop takes record ri out, and reports whether it freed capacity.
func (a *Allocator) drop(ri int32) bool {
	r := &a.recs[ri]
	freed := r.base >= 0
	if freed {
		g, gk := a.globalFor(r)
		g.remove(int(r.base), gk)
	}
	if r.lan >= 0 {
		a.leave(r.lan, ri)
	}
	id := a.clients[r.client].ID
	a.index.remove(id, ri)
	delete(a.index.waiting, ri)
	a.clients[r.client] = Client{}
	*r = rec{}
	a.free = append(a.free, ri)
	a.live--
	a.ordered = false
	return freed
}
