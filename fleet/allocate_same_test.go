package fleet

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

// The faster search decides exactly as the algorithm of commit 64be207
// (allocate_oracle_test.go): the same bases, reasons and flags, on random
// fleets and resources, from nothing and from a previous allocation.
func TestAllocateSameAsOracle(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, 7))
			zones, shapes := testZones, testShapes
			if seed%3 == 2 {
				// Few zones and shapes: clients crowd the same minutes.
				zones = []string{"Europe/London", "America/Santiago", "Australia/Lord_Howe"}
				shapes = []shape{testShapes[4], testShapes[3], testShapes[0]}
			}
			nClients := 200 + rng.IntN(1500)
			clients := testFleet(t, seed+50, 3+rng.IntN(40), nClients, zones, shapes)
			if seed%4 == 3 {
				// LANs over many sites and zones: LAN counters of several
				// zones, and of several frames for a "site" resource.
				for i := range clients {
					clients[i].LAN = fmt.Sprintf("wide-%d", i%17)
				}
			}
			res := Resource{Token: "t", Duration: time.Duration(1+rng.IntN(90)) * time.Minute,
				Buffer: time.Duration(rng.IntN(30)) * time.Minute}
			if seed%2 == 1 {
				res.Zone = "site"
			}
			if rng.IntN(4) > 0 {
				res.Capacity = 1 + rng.IntN(nClients/10+1)
			}
			if rng.IntN(4) > 0 {
				res.LANCapacity = 1 + rng.IntN(4)
			}
			from := date(2026, time.Month(1+rng.IntN(12)), 1+rng.IntN(28))
			compareWithOracle(t, clients, res, from, nil)

			// Again from the previous allocation, with a tenth of the
			// clients gone, new ones, and some previous bases made up.
			a, err := Allocate(clients, res, from, nil)
			if err != nil {
				t.Fatal(err)
			}
			prev := a.Bases()
			for _, c := range clients[:nClients/20] {
				prev[c.ID] = baseNames[rng.IntN(minutesPerDay)]
			}
			prev[clients[0].ID] = "25:00"
			var next []Client
			for _, c := range clients {
				if rng.IntN(10) > 0 {
					next = append(next, c)
				}
			}
			for i, c := range testFleet(t, seed+90, 3+rng.IntN(40), nClients/5, zones, shapes) {
				c.ID = fmt.Sprintf("new-%d", i)
				next = append(next, c)
			}
			compareWithOracle(t, next, res, from.AddDays(1), prev)
		})
	}
}

func compareWithOracle(t *testing.T, clients []Client, res Resource, from afterhours.Date, prev map[string]string) {
	t.Helper()
	got, err := Allocate(clients, res, from, prev)
	if err != nil {
		t.Fatal(err)
	}
	want, err := oldAllocate(clients, res, from, prev)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(got, want) {
		return
	}
	for i := range min(len(got.Assigned), len(want.Assigned)) {
		if got.Assigned[i] != want.Assigned[i] {
			t.Fatalf("%+v: %d placed (oracle %d), first difference: %+v, oracle %+v",
				res, len(got.Assigned), len(want.Assigned), got.Assigned[i], want.Assigned[i])
		}
	}
	t.Fatalf("%+v: %d placed, %d unplaced; oracle %d and %d", res, len(got.Assigned), len(got.Unplaced), len(want.Assigned), len(want.Unplaced))
}

// idOrder sorts IDs as strings.Compare does, and finds the IDs given
// twice: IDs with and without a shared prefix, of many lengths, with
// zero bytes, some equal.
func TestIDOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{"a", "b", "\x00", "client-", "0", "9", "host.example.com", "zz"}
	for _, n := range []int{0, 1, 2, 31, 33, 500, 5000} {
		for _, prefix := range []string{"", "client-", "x"} {
			clients := make([]Client, n)
			for i := range clients {
				id := prefix
				for range rng.IntN(6) {
					id += alphabet[rng.IntN(len(alphabet))]
				}
				if rng.IntN(3) == 0 {
					id += fmt.Sprint(rng.IntN(1000))
				}
				clients[i].ID = id
			}
			order, dup := idOrder(clients)
			count := map[string]int{}
			for _, c := range clients {
				count[c.ID]++
			}
			for k, i := range order {
				if k > 0 && clients[order[k-1]].ID > clients[i].ID {
					t.Fatalf("n=%d: %q before %q", n, clients[order[k-1]].ID, clients[i].ID)
				}
				if dup[i] != (count[clients[i].ID] > 1) {
					t.Fatalf("n=%d: %q: dup %v, want %v", n, clients[i].ID, dup[i], count[clients[i].ID] > 1)
				}
			}
			seen := make([]bool, n)
			for _, i := range order {
				if seen[i] {
					t.Fatalf("n=%d: %d twice", n, i)
				}
				seen[i] = true
			}
		}
	}
}

// A fleet large enough for the parallel paths (records filled in chunks,
// LANs indexed and joined by several CPUs) is allocated as the oracle
// allocates it; an Allocator given half of it, then the rest in one batch
// (LANs it knows and new ones), holds what Allocate gives from its bases.
func TestAllocateLargeSameAsOracle(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	clients := testFleet(t, 77, 80, 10000, testZones, testShapes)
	for i := range clients {
		if i%3 == 0 {
			clients[i].LAN = fmt.Sprintf("wide-%d", i%29)
		}
	}
	from := date(2026, 3, 1)
	for _, zone := range []string{"UTC", "site"} {
		res := Resource{Token: "t", Zone: zone, Duration: 25 * time.Minute, Buffer: 5 * time.Minute, Capacity: 250, LANCapacity: 2}
		compareWithOracle(t, clients, res, from, nil)

		a, err := NewAllocator(clients[:4000], res, from, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := a.Allocation().Bases()
		a.Place(clients[4000:], nil)
		want, err := Allocate(clients, res, from, before)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Allocation(); !reflect.DeepEqual(got.Bases(), want.Bases()) {
			t.Fatalf("%s: the Allocator given the rest in one batch differs from Allocate", zone)
		}
	}
}
