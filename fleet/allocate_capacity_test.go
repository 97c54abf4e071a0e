package fleet

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

// hourly returns 24 kiosk clients with previous bases on the hour.
func hourly(t *testing.T, tz string) ([]Client, map[string]string) {
	s := mustSite(t, tz, kioskShape, nil)
	var clients []Client
	prev := map[string]string{}
	for h := range 24 {
		id := fmt.Sprintf("c%02d", h)
		clients = append(clients, Client{ID: id, Site: s})
		prev[id] = fmt.Sprintf("%02d:00", h)
	}
	return clients, prev
}

// On Europe/London's spring-forward day the site-local bases 01:00 and
// 02:00 are the same instant, and the day has 23 hours: 24 one-hour slots
// cannot all keep to a capacity of 1. In UTC they can.
func TestAllocateCountsDSTDaysExactly(t *testing.T) {
	clients, prev := hourly(t, "Europe/London")
	res := Resource{Token: "lan", Zone: "site", Duration: time.Hour, Capacity: 1}
	a, err := Allocate(clients, res, date(2026, 1, 1), prev)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Assigned) != 23 || len(a.Unplaced) != 1 || a.Unplaced[0].Client != "c02" || a.Unplaced[0].Reason != ReasonCapacity {
		t.Fatalf("assigned %d, unplaced %+v; want c02 unplaced for capacity", len(a.Assigned), a.Unplaced)
	}
	for _, as := range a.Assigned {
		if !as.Kept {
			t.Errorf("%s not kept: %+v", as.Client, as)
		}
	}
	ps := profiles(t, clients, a)
	days := []afterhours.Date{date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30), date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)}
	checkCapacity(t, clients, a, ps, days)

	res.Zone = "UTC"
	a, err = Allocate(clients, res, date(2026, 1, 1), prev)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Assigned) != 24 {
		t.Fatalf("UTC: assigned %d, unplaced %+v; want all 24", len(a.Assigned), a.Unplaced)
	}
}

func TestAllocatePrevious(t *testing.T) {
	london := mustSite(t, "Europe/London", officeShape, nil)
	clients := []Client{
		{ID: "a", Site: london, LAN: "l1"},
		{ID: "b", Site: london, LAN: "l1"},
		{ID: "c", Site: london, LAN: "l1"},
		{ID: "d", Site: london, LAN: "l2"},
		{ID: "e", Site: london},
	}
	res := Resource{Token: "pkg", Duration: 20 * time.Minute, Buffer: 10 * time.Minute}
	prev := map[string]string{
		"a":    "22:00",
		"b":    "22:10", // overlaps a
		"c":    "12:00", // in business hours
		"d":    "24:00", // not a time
		"e":    "23:00",
		"gone": "01:00", // not a client any more: ignored
	}
	a, err := Allocate(clients, res, date(2026, 1, 1), prev)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Assignment{}
	for _, as := range a.Assigned {
		got[as.Client] = as
	}
	want := map[string]struct {
		kept  bool
		moved string
	}{
		"a": {true, ""}, "b": {true, ""}, "c": {false, ReasonNoWindow}, "d": {false, ReasonBadBase}, "e": {true, ""},
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok || g.Kept != w.kept || g.Moved != w.moved || g.Kept && g.Base != prev[id] {
			t.Errorf("%s: %+v; want kept %v, moved %q", id, g, w.kept, w.moved)
		}
	}

	// A lower capacity moves the later of two overlapping clients (in ID
	// order); a LAN capacity moves the later client of the LAN.
	res.Capacity = 1
	a, err = Allocate(clients, res, date(2026, 1, 1), prev)
	if err != nil {
		t.Fatal(err)
	}
	if as := find(a, "b"); as == nil || as.Kept || as.Moved != ReasonCapacity || as.Base == "22:10" {
		t.Errorf("capacity 1: b is %+v; want moved for capacity", as)
	}
	if as := find(a, "a"); as == nil || !as.Kept {
		t.Errorf("capacity 1: a is %+v; want kept", as)
	}
	res.Capacity, res.LANCapacity = 0, 1
	a, err = Allocate(clients, res, date(2026, 1, 1), prev)
	if err != nil {
		t.Fatal(err)
	}
	if as := find(a, "b"); as == nil || as.Kept || as.Moved != ReasonLANCapacity {
		t.Errorf("LAN capacity 1: b is %+v; want moved for LAN capacity", as)
	}
	ps := profiles(t, clients, a)
	checkCapacity(t, clients, a, ps, []afterhours.Date{date(2026, 2, 2), date(2026, 7, 1)})
}

func find(a *Allocation, id string) *Assignment {
	for i := range a.Assigned {
		if a.Assigned[i].Client == id {
			return &a.Assigned[i]
		}
	}
	return nil
}

// Load spreads over the whole of the available time: a uniform fleet at
// unlimited capacity fills its windows evenly, its peak close to the
// average.
func TestAllocateSpreads(t *testing.T) {
	tests := []struct {
		name    string
		site    *afterhours.Site
		clients int
		dur     time.Duration
		from    string // UTC minute span the windows allow, slot ends included
		to      string
	}{
		{"kiosk", mustSite(t, "UTC", kioskShape, nil), 2880, 10 * time.Minute, "00:00", "24:00"},
		{"london office", mustSite(t, "Europe/London", officeShape, nil), 1500, 20 * time.Minute, "18:30", "07:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var clients []Client
			for i := range tt.clients {
				clients = append(clients, Client{ID: fmt.Sprintf("c%05d", i), Site: tt.site})
			}
			a, err := Allocate(clients, Resource{Token: "pkg", Duration: tt.dur}, date(2026, 1, 1), nil)
			if err != nil {
				t.Fatal(err)
			}
			l, err := LoadForecast(mapValues(profiles(t, clients, a)), date(2026, 6, 10))
			if err != nil {
				t.Fatal(err)
			}
			lo, _ := parseBase(tt.from)
			n := minutesPerDay
			if hi, ok := parseBase(tt.to); ok {
				n = mod(hi-lo, minutesPerDay)
			}
			var in []int
			for k := range n {
				in = append(in, l.Token("pkg").Concurrency[(lo+k)%minutesPerDay])
			}
			// No slot can cover the first minutes of a window but one
			// that starts there: the load ramps up over a slot's length
			// at each end.
			avg := float64(tt.clients) * tt.dur.Minutes() / float64(len(in))
			ramp := int(tt.dur.Minutes())
			if n == minutesPerDay {
				ramp = 0
			}
			interior := in[ramp : len(in)-ramp]
			least, most := interior[0], 0
			for _, c := range interior {
				least = min(least, c)
			}
			for _, c := range in {
				most = max(most, c)
			}
			if float64(most) > math.Ceil(avg)+2 || float64(least) < 0.85*avg {
				t.Errorf("concurrency at least %d inside the windows, peak %d; want the peak within 2 of the average %.1f and no minute below 85%% of it", least, most, avg)
			}
		})
	}
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
