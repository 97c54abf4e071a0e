package fleet

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

// Zones of the property tests: DST on both hemispheres and at different
// dates, 30- and 45-minute offsets, a 30-minute DST (Lord Howe), DST
// changes at midnight (Santiago, Havana), and none.
var testZones = []string{
	"Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu",
	"Pacific/Auckland", "America/Sao_Paulo", "UTC", "Europe/Berlin", "America/Los_Angeles",
	"America/St_Johns", "Pacific/Chatham", "America/Santiago", "America/Havana", "Asia/Kolkata",
	"Asia/Tokyo", "Africa/Casablanca",
}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri"}

// shape is a kind of site: its business hours and grace.
type shape struct {
	name  string
	hours map[string][]string
	grace time.Duration
}

func every(days []string, ivs ...string) map[string][]string {
	m := map[string][]string{}
	for _, d := range days {
		m[d] = append(m[d], ivs...)
	}
	return m
}

func merge(ms ...map[string][]string) map[string][]string {
	out := map[string][]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = append(out[k], v...)
		}
	}
	return out
}

var testShapes = []shape{
	{"office", merge(every(weekdays, "08:00-18:00"), every([]string{"sat"}, "09:00-13:00")), 30 * time.Minute},
	{"retail", merge(every(append(weekdays, "sat"), "09:00-21:00"), every([]string{"sun"}, "10:00-16:00")), time.Hour},
	{"lunch", every(weekdays, "08:00-12:00", "13:00-17:00"), 0},
	{"night", merge(every([]string{"mon", "tue", "wed", "thu", "fri"}, "22:00-24:00"), every([]string{"tue", "wed", "thu", "fri", "sat"}, "00:00-06:00")), 15 * time.Minute},
	{"kiosk", nil, 0},
	{"long", every([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "06:00-23:00"), 30 * time.Minute},
	{"early", every(weekdays, "04:00-12:00"), 2 * time.Hour},
	{"always-wed", merge(every([]string{"mon", "tue", "thu", "fri"}, "09:00-17:00"), every([]string{"wed"}, "00:00-24:00")), 0},
}

func mustSite(tb testing.TB, tz string, sh shape, closed []string) *afterhours.Site {
	tb.Helper()
	s := &afterhours.Site{Name: sh.name + "@" + tz, Timezone: tz, BusinessHours: sh.hours, Closed: closed, Grace: afterhours.Duration(sh.grace)}
	if err := s.Validate(); err != nil {
		tb.Fatal(err)
	}
	return s
}

// testFleet builds nSites sites over the zones and shapes, with closed
// dates, and nClients clients spread over them, a few LANs a site.
func testFleet(tb testing.TB, seed uint64, nSites, nClients int, zones []string, shapes []shape) []Client {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	sites := make([]*afterhours.Site, nSites)
	for i := range sites {
		var closed []string
		for range rng.IntN(4) {
			d := afterhours.Date{Year: 2026, Month: time.January, Day: 1}.AddDays(rng.IntN(730) - 100)
			if !containsStr(closed, d.String()) {
				closed = append(closed, d.String())
			}
		}
		sites[i] = mustSite(tb, zones[i%len(zones)], shapes[(i/len(zones)+i)%len(shapes)], closed)
	}
	clients := make([]Client, nClients)
	for i := range clients {
		si := rng.IntN(nSites)
		clients[i] = Client{ID: fmt.Sprintf("c%06d", i), Site: sites[si], LAN: fmt.Sprintf("lan-%d-%d", si, rng.IntN(3))}
	}
	return clients
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// yearDays returns every date from from to the day before to.
func yearDays(from, to afterhours.Date) []afterhours.Date {
	var out []afterhours.Date
	for d := from; d.Compare(to) < 0; d = d.AddDays(1) {
		out = append(out, d)
	}
	return out
}

func date(y int, m time.Month, d int) afterhours.Date {
	return afterhours.Date{Year: y, Month: m, Day: d}
}
