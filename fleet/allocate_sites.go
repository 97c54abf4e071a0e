package fleet

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/afterhours-go/afterhours"
)

// siteInfo is what one distinct site allows, ready for the search.
type siteInfo struct {
	feasible
	zone int // index in Allocator.zones
	// rest is the slot bases whose hold leaves the windows: slot minus
	// hold. The runs are those of hold and of rest, the counts their
	// sizes: the candidates of the two passes of a placement.
	rest               minuteSet
	holdRuns, restRuns []run
	nHold, nRest       int
}

// template is the cycles of the sites that share a zone, business hours
// and grace, computed without their closed dates.
type template struct {
	site   *afterhours.Site // validated, with no closed dates
	first  afterhours.Date  // the date of cycles[0]
	cycles []afterhours.Cycle
	// reach is how many dates after a date a cycle can read that date's
	// business hours from: the business period of a date is followed
	// through the days it runs into (see afterhours.Site).
	reach int
}

// Most clients of a fleet share a few kinds of site (a chain's shops keep
// the same hours) but not their closed dates. Site.Cycle costs a few
// microseconds, and a year of them for every site would cost most of a
// small allocation, so the cycles are computed once per template and, for
// each site, again only on the dates near its closed dates.
//
// A closed date D changes the cycle of a date d only when that cycle reads
// D's business hours: the cycle of d reads the raw anchors of d-3 to d+1
// (the never-backwards rule looks three days back), each of which follows
// its business period forward through the days it runs into, at most
// reach days, and the window ends by the next day's anchor. So D changes
// the cycles of D-2-reach to D+3 at most; two more dates on each side
// allow for DST days and dates a zone skips. TestTemplateCycles checks
// that the cycles agree with Site.Cycle on every date.
const closedMargin = 2

// addSites gives every validated site of clients an index in a.sites,
// computing what the new ones allow, in parallel.
func (a *Allocator) addSites(clients []Client) {
	var fresh []*afterhours.Site // new distinct sites
	var last *afterhours.Site
	for i := range clients {
		s := clients[i].Site
		if s == last || !s.Validated() {
			continue
		}
		last = s
		if _, ok := a.siteByPtr[s]; ok {
			continue
		}
		key := siteKey(s, true)
		idx, ok := a.siteByKey[key]
		if !ok {
			idx = int32(len(a.sites) + len(fresh))
			a.siteByKey[key] = idx
			fresh = append(fresh, s)
		}
		a.siteByPtr[s] = idx
	}
	if len(fresh) == 0 {
		return
	}

	// New zones, in name order.
	zoneOf := make([]int, len(fresh))
	if a.res.zone() == "UTC" {
		if len(a.zones) == 0 {
			a.addZones([]*time.Location{time.UTC})
		}
	} else {
		names := map[string]*time.Location{}
		for _, s := range fresh {
			if _, ok := a.zoneByName[s.Location().String()]; !ok {
				names[s.Location().String()] = s.Location()
			}
		}
		var locs []*time.Location
		for _, k := range slices.Sorted(mapKeys(names)) {
			locs = append(locs, names[k])
		}
		a.addZones(locs)
		for i, s := range fresh {
			zoneOf[i] = a.zoneByName[s.Location().String()]
		}
	}

	// Templates: one per zone, hours and grace of the new sites.
	tmplOf := make([]*template, len(fresh))
	var todo []int // indices in fresh of the sites that found the new templates
	for i, s := range fresh {
		key := siteKey(s, false)
		t, ok := a.templates[key]
		if !ok {
			t = &template{}
			a.templates[key] = t
			todo = append(todo, i)
		}
		tmplOf[i] = t
	}
	parallel(len(todo), func(k int) {
		i := todo[k]
		a.fillTemplate(tmplOf[i], fresh[i], a.zones[zoneOf[i]])
	})

	start := len(a.sites)
	a.sites = append(a.sites, make([]siteInfo, len(fresh))...)
	parallel(len(fresh), func(i int) {
		z := a.zones[zoneOf[i]]
		var f feasible
		if cycles := a.siteCycles(fresh[i], tmplOf[i], z); cycles != nil {
			f = feasibleFrom(cycles, z, a.p0, a.n, a.dur, a.buf)
		} else {
			f = feasibleBases(fresh[i], z, a.p0, a.n, a.dur, a.buf)
		}
		a.sites[start+i] = newSiteInfo(f, zoneOf[i])
	})
}

// addZones adds the zones of locs.
func (a *Allocator) addZones(locs []*time.Location) {
	first, days := a.from.AddDays(-horizonMargin), a.n+2*horizonMargin+1
	zs := make([]*zoneInfo, len(locs))
	parallel(len(locs), func(i int) { zs[i] = newZoneInfo(locs[i], first, days) })
	for _, z := range zs {
		a.zoneByName[z.name] = len(a.zones)
		a.zones = append(a.zones, z)
		a.global = append(a.global, nil)
	}
}

func newSiteInfo(f feasible, zone int) siteInfo {
	si := siteInfo{feasible: f, zone: zone}
	si.rest = f.slot.minus(&f.hold)
	si.holdRuns, si.restRuns = runsOf(&si.hold), runsOf(&si.rest)
	si.nHold, si.nRest = si.hold.len(), si.rest.len()
	return si
}

// fillTemplate computes the cycles of template t, whose sites are like s
// but for their closed dates. A template that cannot be made (its site
// fails to validate without closed dates, which validation does not
// consult) keeps no cycles, and its sites are computed whole.
func (a *Allocator) fillTemplate(t *template, s *afterhours.Site, z *zoneInfo) {
	ts := &afterhours.Site{Timezone: s.Timezone, BusinessHours: s.BusinessHours, Grace: s.Grace}
	if ts.Validate() != nil || ts.Location().String() != s.Location().String() {
		return
	}
	t.site, t.reach = ts, 1
	for _, ivs := range s.BusinessHours {
		for _, iv := range ivs {
			if strings.HasSuffix(iv, "24:00") {
				t.reach = 8 // past up to six whole days of business: a seventh would leave no after hours
			}
		}
	}
	first, last := cycleDates(ts.Location(), z, a.p0, a.n, a.dur, a.buf)
	t.first = first
	// Away from offset changes a week's cycles are the last week's, a
	// week later: a cycle reads the business hours of at most reach+6
	// dates around its own, and converts their wall times with one offset.
	lo := resolve(first, 0, ts.Location()) - periodMargin*secondsPerDay
	trans := transitions(ts.Location(), lo, resolve(last, 0, ts.Location())+periodMargin*secondsPerDay)
	const week = 7 * secondsPerDay * time.Second
	for d := first; d.Compare(last) <= 0; d = d.AddDays(1) {
		i := len(t.cycles)
		if i >= 7 && !changesNear(trans, resolve(d, 0, ts.Location())) {
			c := t.cycles[i-7]
			t.cycles = append(t.cycles, afterhours.Cycle{Day: d,
				Span:   afterhours.Interval{Start: c.Span.Start.Add(week), End: c.Span.End.Add(week)},
				Window: afterhours.Interval{Start: c.Window.Start.Add(week), End: c.Window.End.Add(week)}})
			continue
		}
		t.cycles = append(t.cycles, ts.Cycle(d))
	}
}

// periodMargin is how many days from an offset change a template's cycles
// are computed rather than copied from the week before: more than a
// cycle reads on either side (three days back, reach+2 ahead), and than
// the week it is copied from.
const periodMargin = 7 + 3 + 8 + 2

// changesNear reports whether an offset change of trans lies within
// periodMargin days of Unix second t.
func changesNear(trans []int64, t int64) bool {
	for _, tr := range trans {
		if tr > t-periodMargin*secondsPerDay && tr < t+periodMargin*secondsPerDay {
			return true
		}
	}
	return false
}

// siteCycles returns the cycles of site s of template t: the template's,
// recomputed near s's closed dates. It returns nil when t has none.
func (a *Allocator) siteCycles(s *afterhours.Site, t *template, z *zoneInfo) []afterhours.Cycle {
	if t.site == nil {
		return nil
	}
	if len(s.Closed) == 0 {
		return t.cycles
	}
	cycles := slices.Clone(t.cycles)
	done := make([]bool, len(cycles))
	for _, c := range s.Closed {
		d, err := afterhours.ParseDate(c)
		if err != nil {
			return nil // a validated site has none such
		}
		lo := d.AddDays(-2 - t.reach - closedMargin)
		for k := range 6 + t.reach + 2*closedMargin {
			i := int(dayNumber(lo.AddDays(k)) - dayNumber(t.first))
			if i >= 0 && i < len(cycles) && !done[i] {
				cycles[i], done[i] = s.Cycle(lo.AddDays(k)), true
			}
		}
	}
	return cycles
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// siteKey returns a string equal for sites with equal cycles; without
// closed, one equal for sites that differ at most by their closed dates.
func siteKey(s *afterhours.Site, closed bool) string {
	var b strings.Builder
	b.WriteString(s.Location().String())
	fmt.Fprintf(&b, "|%d|", int64(s.Grace))
	for _, day := range []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} {
		b.WriteString(day)
		for _, iv := range s.BusinessHours[day] {
			b.WriteString(" " + iv)
		}
		b.WriteByte('|')
	}
	if closed {
		dates := slices.Clone(s.Closed)
		slices.Sort(dates)
		b.WriteString(strings.Join(dates, ","))
	}
	return b.String()
}

// parallel calls f(0) to f(n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}
