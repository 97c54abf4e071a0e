package fleet

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

// benchFleet returns clients over nSites sites in the test zones and
// shapes (but the one no base fits), in LANs of about 20 clients, each LAN
// at one site.
func benchFleet(tb testing.TB, nClients, nSites int) []Client {
	tb.Helper()
	rng := rand.New(rand.NewPCG(uint64(nClients), uint64(nSites)))
	shapes := testShapes[:len(testShapes)-1]
	sites := make([]*afterhours.Site, nSites)
	for i := range sites {
		var closed []string
		for k := range rng.IntN(5) {
			closed = append(closed, date(2026, time.Month(1+k*2), 1+rng.IntN(28)).String())
		}
		sites[i] = mustSite(tb, testZones[i%len(testZones)], shapes[(i/len(testZones)+i)%len(shapes)], closed)
	}
	lansPerSite := max(1, nClients/20/nSites)
	clients := make([]Client, nClients)
	for i := range clients {
		si := rng.IntN(nSites)
		clients[i] = Client{
			ID:   fmt.Sprintf("client-%07d", rng.Uint32()),
			Site: sites[si],
			LAN:  fmt.Sprintf("lan-%d-%d", si, rng.IntN(lansPerSite)),
		}
	}
	return clients
}

// benchSizes are the fleets of BenchmarkAllocate: clients over 500 sites.
var benchSizes = []int{10_000, 100_000, 1_000_000}

// benchResource is the resource of the benchmarks: slots of 20 minutes, a
// capacity of a 25th of the fleet, four clients of a LAN at once.
func benchResource(clients int, zone string) Resource {
	return Resource{Token: "pkg-repo", Zone: zone, Duration: 20 * time.Minute, Buffer: 10 * time.Minute,
		Capacity: clients / 25, LANCapacity: 4}
}

func BenchmarkAllocate(b *testing.B) {
	benchAllocate(b, Allocate)
}

// BenchmarkAllocateOracle is BenchmarkAllocate for the algorithm of commit
// 64be207 (allocate_oracle_test.go): the figures to compare with, in the
// same run.
func BenchmarkAllocateOracle(b *testing.B) {
	benchAllocate(b, oldAllocate)
}

func benchAllocate(b *testing.B, allocate func([]Client, Resource, afterhours.Date, map[string]string) (*Allocation, error)) {
	const nSites = 500
	for _, n := range benchSizes {
		clients := benchFleet(b, n, nSites)
		for _, zone := range []string{"UTC", "site"} {
			name := fmt.Sprintf("clients=%d/sites=%d", n, nSites)
			if zone == "site" {
				name += "/zone=site"
			}
			b.Run(name, func(b *testing.B) {
				res := benchResource(n, zone)
				var a *Allocation
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if a, err = allocate(clients, res, date(2026, 1, 1), nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(a.Assigned)), "placed")
			})
		}
		// Re-allocation a day later: 1% of the clients gone, 1% new.
		b.Run(fmt.Sprintf("clients=%d/sites=%d/previous", n, nSites), func(b *testing.B) {
			res := benchResource(n, "UTC")
			first, err := Allocate(clients, res, date(2026, 1, 1), nil)
			if err != nil {
				b.Fatal(err)
			}
			prev := first.Bases()
			next := append([]Client(nil), clients[n/100:]...)
			for i, c := range clients[:n/100] {
				c.ID = fmt.Sprintf("new-%07d", i)
				next = append(next, c)
			}
			var a *Allocation
			b.ReportAllocs()
			for b.Loop() {
				if a, err = allocate(next, res, date(2026, 1, 2), prev); err != nil {
					b.Fatal(err)
				}
			}
			kept := 0
			for _, as := range a.Assigned {
				if as.Kept {
					kept++
				}
			}
			b.ReportMetric(float64(kept), "kept")
		})
	}
}
