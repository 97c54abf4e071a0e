package fleet

import (
	"sort"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

// profiles builds a validated profile per assigned client, with the
// allocation's sharing entry and a task in it.
func profiles(tb testing.TB, clients []Client, a *Allocation) map[string]*afterhours.Profile {
	tb.Helper()
	byID := map[string]Client{}
	for _, c := range clients {
		byID[c.ID] = c
	}
	out := map[string]*afterhours.Profile{}
	for _, as := range a.Assigned {
		c := byID[as.Client]
		tok := a.Resource.Entry(as.Base)
		tok.Tasks = []*afterhours.Task{{Name: "fetch", Run: []string{"/usr/lib/agent/fetch"}}}
		p := &afterhours.Profile{Client: c.ID, Site: *c.Site, Sharing: []*afterhours.Token{tok}}
		if err := p.Validate(); err != nil {
			tb.Fatalf("%s: %v", c.ID, err)
		}
		out[c.ID] = p
	}
	return out
}

// cycleIndex is a site's cycles over a stretch of dates, for finding the
// cycle whose span holds an instant.
type cycleIndex struct{ cycles []afterhours.Cycle }

func newCycleIndex(s *afterhours.Site, from, to afterhours.Date) *cycleIndex {
	ci := &cycleIndex{}
	for d := from; d.Compare(to) <= 0; d = d.AddDays(1) {
		ci.cycles = append(ci.cycles, s.Cycle(d))
	}
	return ci
}

// at returns the position of the cycle whose span holds t.
func (ci *cycleIndex) at(t time.Time) int {
	i := sort.Search(len(ci.cycles), func(i int) bool { return ci.cycles[i].Span.End.After(t) })
	for i < len(ci.cycles) && ci.cycles[i].Span.Empty() {
		i++
	}
	return i
}

// inWindows reports whether iv lies inside the windows of the cycles from
// position i on, touching windows counting as one.
func (ci *cycleIndex) inWindows(i int, iv afterhours.Interval) bool {
	c := ci.cycles[i]
	if !c.Window.Contains(iv.Start) {
		return false
	}
	end := c.Window.End
	for j := i + 1; end.Before(iv.End) && j < len(ci.cycles); j++ {
		n := ci.cycles[j]
		if n.Window.Empty() {
			if n.Span.Empty() {
				continue
			}
			return false
		}
		if !n.Window.Start.Equal(end) {
			return false
		}
		end = n.Window.End
	}
	return !end.Before(iv.End)
}

// checkWindows asserts that, on every date of the allocation's year, each
// assigned client's slot (and its hold, when the assignment says so) lies
// inside its site's windows, unless the slot starts in the span of a cycle
// with an empty window. Slots are computed by the client's own code
// (Token.SlotOn of a validated profile) and looked up in the site's cycles.
func checkWindows(t *testing.T, clients []Client, a *Allocation, ps map[string]*afterhours.Profile) {
	t.Helper()
	byID := map[string]Client{}
	for _, c := range clients {
		byID[c.ID] = c
	}
	indexes := map[*afterhours.Site]*cycleIndex{}
	type key struct {
		site *afterhours.Site
		base string
		hold bool
	}
	done := map[key]bool{}
	for _, as := range a.Assigned {
		c := byID[as.Client]
		k := key{c.Site, as.Base, as.HoldInWindow}
		if done[k] {
			continue
		}
		done[k] = true
		ci := indexes[c.Site]
		if ci == nil {
			ci = newCycleIndex(c.Site, a.From.AddDays(-5), a.To.AddDays(5))
			indexes[c.Site] = ci
		}
		tok := ps[as.Client].Sharing[0]
		for d := a.From; d.Compare(a.To) < 0; d = d.AddDays(1) {
			sl := tok.SlotOn(d)
			i := ci.at(sl.Run.Start)
			if ci.cycles[i].Window.Empty() {
				continue
			}
			if !ci.inWindows(i, sl.Run) {
				t.Fatalf("%s (%s, base %s %s): slot %v-%v of %v outside the windows (cycle %v window %v-%v)",
					as.Client, c.Site.Name, as.Base, a.Resource.zone(), sl.Run.Start, sl.Run.End, d,
					ci.cycles[i].Day, ci.cycles[i].Window.Start, ci.cycles[i].Window.End)
			}
			if as.HoldInWindow && !ci.inWindows(ci.at(sl.Hold().Start), sl.Hold()) {
				t.Fatalf("%s (%s, base %s): hold %v-%v of %v outside the windows", as.Client, c.Site.Name, as.Base, sl.Hold().Start, sl.Hold().End, d)
			}
		}
	}
}

// checkCapacity asserts, with LoadForecast over each day of days, that the
// fleet's peak (by zone for a "site" resource) and each LAN's stay within
// capacity and that no slot is void. It returns the fleet's highest peak.
func checkCapacity(t *testing.T, clients []Client, a *Allocation, ps map[string]*afterhours.Profile, days []afterhours.Date) int {
	t.Helper()
	byID := map[string]Client{}
	for _, c := range clients {
		byID[c.ID] = c
	}
	fleetGroups := map[string][]*afterhours.Profile{}
	lanGroups := map[string][]*afterhours.Profile{}
	for _, as := range a.Assigned {
		c := byID[as.Client]
		g := ""
		if a.Resource.zone() == "site" {
			g = c.Site.Timezone
		}
		fleetGroups[g] = append(fleetGroups[g], ps[as.Client])
		lanGroups[c.LAN] = append(lanGroups[c.LAN], ps[as.Client])
	}
	highest := 0
	check := func(what string, group []*afterhours.Profile, limit int, day afterhours.Date) {
		l, err := LoadForecast(group, day)
		if err != nil {
			t.Fatal(err)
		}
		tl := l.Token(a.Resource.Token)
		if tl == nil {
			t.Fatalf("%s %v: no load for %s", what, day, a.Resource.Token)
		}
		if limit > 0 && tl.Peak > limit {
			t.Fatalf("%s %v: peak %d at %v over capacity %d", what, day, tl.Peak, tl.PeakAt, limit)
		}
		if tl.Void > 0 {
			t.Fatalf("%s %v: %d void slots", what, day, tl.Void)
		}
		if what == "fleet" {
			highest = max(highest, tl.Peak)
		}
	}
	for _, day := range days {
		for _, g := range fleetGroups {
			check("fleet", g, a.Resource.Capacity, day)
		}
		if a.Resource.LANCapacity > 0 {
			for name, g := range lanGroups {
				if len(g) > a.Resource.LANCapacity {
					check("LAN "+name, g, a.Resource.LANCapacity, day)
				}
			}
		}
	}
	return highest
}
