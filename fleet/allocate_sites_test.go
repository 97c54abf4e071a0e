package fleet

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

// The cycles of a site computed from its template (its kind of site
// without closed dates, copied week to week away from offset changes,
// recomputed near its own closed dates) are Site.Cycle's, on every date,
// for every test zone and shape, with closed dates on and around DST days.
func TestTemplateCycles(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, zone := range []string{"UTC", "site"} {
		for _, tz := range testZones {
			for _, sh := range testShapes {
				a, err := newAllocator(Resource{Token: "t", Zone: zone, Duration: 45 * time.Minute, Buffer: 15 * time.Minute}, date(2026, 3, 1))
				if err != nil {
					t.Fatal(err)
				}
				var closed []string
				for range 1 + rng.IntN(6) {
					closed = append(closed, date(2026, 2, 15).AddDays(rng.IntN(400)).String())
				}
				// Closed on the dates around the zone's offset changes.
				loc, _ := time.LoadLocation(tz)
				for _, tr := range transitions(loc, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(2027, 4, 1, 0, 0, 0, 0, time.UTC).Unix()) {
					closed = append(closed, afterhours.DateOf(time.Unix(tr, 0).In(loc)).AddDays(rng.IntN(5)-2).String())
				}
				slices.Sort(closed)
				s := mustSite(t, tz, sh, slices.Compact(closed))
				a.addSites([]Client{{ID: "x", Site: s}})
				z := a.zones[a.sites[0].zone]
				tmpl := a.templates[siteKey(s, false)]
				if tmpl.site == nil {
					t.Fatalf("%s %s: no template", tz, sh.name)
				}
				patch := a.siteCycles(s, tmpl)
				first, last := cycleDates(s.Location(), z, a.p0, a.n, a.dur, a.buf)
				d := first
				for i, c := range tmpl.cycles {
					if p, ok := patch[i]; ok {
						c = p
					}
					want := s.Cycle(d)
					if c.Day != want.Day || !c.Span.Start.Equal(want.Span.Start) || !c.Span.End.Equal(want.Span.End) ||
						!c.Window.Start.Equal(want.Window.Start) || !c.Window.End.Equal(want.Window.End) {
						t.Fatalf("%s %s, %s resource, closed %v: cycle %d of %v: %+v, Site.Cycle %+v", tz, sh.name, zone, closed, i, d, c, want)
					}
					d = d.AddDays(1)
				}
				if tmpl.first != first || d != last.AddDays(1) {
					t.Fatalf("%s %s: cycles to %v, want to %v", tz, sh.name, d, last)
				}
				if f := feasibleBases(s, z, a.p0, a.n, a.dur, a.buf); f != a.sites[0].feasible {
					t.Fatalf("%s %s: feasibility differs", tz, sh.name)
				}
			}
		}
	}
}

func TestReachOf(t *testing.T) {
	allDay := every([]string{"mon", "tue", "wed", "thu", "fri", "sat"}, "00:00-24:00")
	for _, tc := range []struct {
		hours map[string][]string
		want  int
	}{
		{officeShape.hours, 1},
		{kioskShape.hours, 1},
		{testShapes[3].hours, 2}, // night: into the next morning only
		{alwaysWed.hours, 3},     // Tuesday's business runs through Wednesday
		{allDay, 8},
		{every([]string{"mon"}, "00:00-12:00", "12:00-24:00"), 3},
		{every([]string{"mon"}, "12:00-24:00", "00:00-11:00"), 2},
		{every([]string{"mon"}, "bad"), 8},
	} {
		if got := reachOf(tc.hours); got != tc.want {
			t.Errorf("reachOf(%v) = %d, want %d", tc.hours, got, tc.want)
		}
	}
}
