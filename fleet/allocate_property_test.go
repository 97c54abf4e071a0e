package fleet

import (
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// propertyCase is one fleet and resource of the property tests.
type propertyCase struct {
	name     string
	seed     uint64
	sites    int
	clients  int
	res      Resource
	from     func() (y int, m time.Month, d int)
	zones    []string
	wantFull bool // capacity is tight enough that some clients do not fit
}

var propertyCases = []propertyCase{
	{
		name: "utc", seed: 1, sites: 48, clients: 1200,
		res:  Resource{Token: "pkg-repo", Zone: "UTC", Duration: 30 * time.Minute, Buffer: 15 * time.Minute, Capacity: 40, LANCapacity: 3},
		from: func() (int, time.Month, int) { return 2026, time.January, 1 },
	},
	{
		name: "utc-tight", seed: 2, sites: 40, clients: 1500,
		res:  Resource{Token: "pkg-repo", Duration: 45 * time.Minute, Buffer: 10 * time.Minute, Capacity: 25, LANCapacity: 2},
		from: func() (int, time.Month, int) { return 2026, time.March, 15 }, wantFull: true,
	},
	{
		name: "site", seed: 3, sites: 48, clients: 1200,
		res:  Resource{Token: "lan-sync", Zone: "site", Duration: 40 * time.Minute, Buffer: 20 * time.Minute, Capacity: 20, LANCapacity: 2},
		from: func() (int, time.Month, int) { return 2026, time.January, 1 },
	},
	{
		// Few zones, many clients of kiosks and night shifts: slots crowd
		// the hours DST changes skip and repeat.
		name: "site-dst", seed: 4, sites: 12, clients: 900,
		res:   Resource{Token: "lan-sync", Zone: "site", Duration: 50 * time.Minute, Buffer: 5 * time.Minute, Capacity: 30, LANCapacity: 3},
		from:  func() (int, time.Month, int) { return 2026, time.February, 1 },
		zones: []string{"Europe/London", "Australia/Lord_Howe", "America/Santiago", "America/Havana"},
	},
}

func TestAllocateProperties(t *testing.T) {
	for _, pc := range propertyCases {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			zones := pc.zones
			if zones == nil {
				zones = testZones
			}
			shapes := testShapes
			if pc.zones != nil {
				shapes = []shape{testShapes[4], testShapes[3], testShapes[0]} // kiosk, night, office
			}
			clients := testFleet(t, pc.seed, pc.sites, pc.clients, zones, shapes)
			y, m, d := pc.from()
			from := date(y, m, d)
			a, err := Allocate(clients, pc.res, from, nil)
			if err != nil {
				t.Fatal(err)
			}
			checkAllocation(t, clients, a, pc.wantFull)

			// Stable: drop a tenth of the clients, add new ones.
			rng := rand.New(rand.NewPCG(pc.seed, 2))
			var next []Client
			for _, c := range clients {
				if rng.IntN(10) != 0 {
					next = append(next, c)
				}
			}
			more := testFleet(t, pc.seed+100, pc.sites, pc.clients/5, zones, shapes)
			for i := range more {
				more[i].ID = "new-" + more[i].ID
			}
			next = append(next, more...)
			b, err := Allocate(next, pc.res, from, a.Bases())
			if err != nil {
				t.Fatal(err)
			}
			before := a.Bases()
			for _, as := range b.Assigned {
				if old, ok := before[as.Client]; ok && (as.Base != old || !as.Kept) {
					t.Fatalf("%s moved from %s to %s (%q)", as.Client, old, as.Base, as.Moved)
				}
			}
			for _, u := range b.Unplaced {
				if _, ok := before[u.Client]; ok {
					t.Fatalf("%s lost its base: %s", u.Client, u.Reason)
				}
			}
			checkAllocation(t, next, b, false)

			// Deterministic: whatever the order of clients and the CPUs.
			shuffled := append([]Client(nil), next...)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			c, err := Allocate(shuffled, pc.res, from, a.Bases())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b, c) {
				t.Fatal("shuffling the clients changed the allocation")
			}
		})
	}
}

// checkAllocation checks an allocation's windows and capacities over its
// whole year, and that unplaced clients have a known reason.
func checkAllocation(t *testing.T, clients []Client, a *Allocation, wantFull bool) {
	t.Helper()
	if len(a.Assigned) == 0 {
		t.Fatal("nobody placed")
	}
	full := false
	for _, u := range a.Unplaced {
		switch u.Reason {
		case ReasonNoWindow:
		case ReasonCapacity, ReasonLANCapacity:
			full = true
		default:
			t.Fatalf("%s unplaced: %s (%s)", u.Client, u.Reason, u.Detail)
		}
	}
	if wantFull && !full {
		t.Error("capacity never reached: the case tests nothing")
	}
	ps := profiles(t, clients, a)
	checkWindows(t, clients, a, ps)
	// Every day of the year but the first and last two, whose load
	// includes slots of dates outside it.
	checkCapacity(t, clients, a, ps, yearDays(a.From.AddDays(2), a.To.AddDays(-2)))
	t.Logf("%d placed (%d with the whole hold in the windows), %d unplaced", len(a.Assigned), countHold(a), len(a.Unplaced))
}

func countHold(a *Allocation) int {
	n := 0
	for _, as := range a.Assigned {
		if as.HoldInWindow {
			n++
		}
	}
	return n
}

func TestAllocateSameOnOneCPU(t *testing.T) {
	clients := testFleet(t, 9, 30, 600, testZones, testShapes)
	res := Resource{Token: "pkg-repo", Duration: 20 * time.Minute, Buffer: 10 * time.Minute, Capacity: 15, LANCapacity: 2}
	a, err := Allocate(clients, res, date(2026, 1, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	b, err := Allocate(clients, res, date(2026, 1, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("GOMAXPROCS changed the allocation")
	}
}
