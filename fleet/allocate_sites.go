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
		if t := tmplOf[i]; t.site != nil {
			f = feasibleFrom(t.cycles, a.siteCycles(fresh[i], t), z, a.p0, a.n, a.dur, a.buf)
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
	t.site, t.reach = ts, reachOf(s.BusinessHours)
	first, last := cycleDates(ts.Location(), z, a.p0, a.n, a.dur, a.buf)
	t.first = first
	// Away from offset changes a week's cycles are the last week's, a
	// week later: a cycle reads the business hours of at most reach+6
	// dates around its own, and converts their wall times with one offset.
	lo := resolve(first, 0, ts.Location()) - periodBefore*secondsPerDay
	trans := transitions(ts.Location(), lo, resolve(last, 0, ts.Location())+periodAfter(t.reach)*secondsPerDay)
	const week = 7 * secondsPerDay * time.Second
	for d := first; d.Compare(last) <= 0; d = d.AddDays(1) {
		i := len(t.cycles)
		if i >= 7 && !changesNear(trans, resolve(d, 0, ts.Location()), t.reach) {
			c := t.cycles[i-7]
			t.cycles = append(t.cycles, afterhours.Cycle{Day: d,
				Span:   afterhours.Interval{Start: c.Span.Start.Add(week), End: c.Span.End.Add(week)},
				Window: afterhours.Interval{Start: c.Window.Start.Add(week), End: c.Window.End.Add(week)}})
			continue
		}
		t.cycles = append(t.cycles, ts.Cycle(d))
	}
}

// A template's cycle of date d is computed, rather than copied from d-7,
// when an offset change lies less than periodBefore days before d's
// midnight or periodAfter(reach) after it: the cycles of d and d-7 read
// the business hours of the dates d-10 to d+2+reach, and their instants
// run a day further; two days more on each side allow for dates a zone
// skips.
const periodBefore = 7 + 3 + 2

func periodAfter(reach int) int64 { return int64(reach) + 2 + 1 + 2 }

// changesNear reports whether an offset change of trans lies near Unix
// second t, as above.
func changesNear(trans []int64, t int64, reach int) bool {
	for _, tr := range trans {
		if tr > t-periodBefore*secondsPerDay && tr < t+periodAfter(reach)*secondsPerDay {
			return true
		}
	}
	return false
}

// siteCycles returns the cycles of site s where they differ from those of
// its template t: those of the dates near its closed dates, by index in
// t.cycles.
func (a *Allocator) siteCycles(s *afterhours.Site, t *template) map[int]afterhours.Cycle {
	if len(s.Closed) == 0 {
		return nil
	}
	patch := map[int]afterhours.Cycle{}
	for _, c := range s.Closed {
		d, err := afterhours.ParseDate(c)
		if err != nil {
			continue // a validated site has none such
		}
		lo := d.AddDays(-2 - t.reach - closedMargin)
		for k := range 6 + t.reach + 2*closedMargin {
			i := int(dayNumber(lo.AddDays(k)) - dayNumber(t.first))
			if _, done := patch[i]; i >= 0 && i < len(t.cycles) && !done {
				patch[i] = s.Cycle(lo.AddDays(k))
			}
		}
	}
	return patch
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

// reachOf returns how many dates after its own a business period can run
// into: none past the next when no day's business runs to midnight, else
// up to the first date after a run of days of business around the clock
// (the period runs into the day after a midnight, then on through each
// day that is business all day).
func reachOf(hours map[string][]string) int {
	var full [7]bool
	midnight := false
	for d, day := range []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"} {
		var ivs [][2]int
		for _, iv := range hours[day] {
			lo, ok1 := parseBase(strings.Replace(iv[:min(5, len(iv))], "24:00", "00:00", 1))
			hi, ok2 := parseBase(strings.Replace(iv[min(6, len(iv)):], "24:00", "23:59", 1))
			if len(iv) != 11 || !ok1 || !ok2 {
				return 8 // not understood: assume the longest
			}
			if iv[6:] == "24:00" {
				hi, midnight = minutesPerDay, true
			}
			ivs = append(ivs, [2]int{lo, hi})
		}
		slices.SortFunc(ivs, func(x, y [2]int) int { return x[0] - y[0] })
		end := 0
		for _, iv := range ivs {
			if iv[0] > end {
				break
			}
			end = max(end, iv[1])
		}
		full[d] = end == minutesPerDay
	}
	if !midnight {
		return 1
	}
	run, longest := 0, 0
	for k := range 14 {
		if full[k%7] {
			run++
			longest = max(longest, min(run, 7))
		} else {
			run = 0
		}
	}
	return 2 + longest
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
