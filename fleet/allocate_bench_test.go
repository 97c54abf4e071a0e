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

func BenchmarkAllocate(b *testing.B) {
	for _, size := range []struct{ clients, sites int }{{100_000, 500}, {1_000_000, 500}} {
		clients := benchFleet(b, size.clients, size.sites)
		for _, zone := range []string{"UTC", "site"} {
			name := fmt.Sprintf("clients=%d/sites=%d", size.clients, size.sites)
			if zone == "site" {
				name += "/zone=site"
			}
			b.Run(name, func(b *testing.B) {
				res := Resource{Token: "pkg-repo", Zone: zone, Duration: 20 * time.Minute, Buffer: 10 * time.Minute,
					Capacity: size.clients / 25, LANCapacity: 4}
				var a *Allocation
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if a, err = Allocate(clients, res, date(2026, 1, 1), nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(a.Assigned)), "placed")
			})
		}
		// Re-allocation a day later: 1% of the clients gone, 1% new.
		b.Run(fmt.Sprintf("clients=%d/sites=%d/previous", size.clients, size.sites), func(b *testing.B) {
			res := Resource{Token: "pkg-repo", Duration: 20 * time.Minute, Buffer: 10 * time.Minute, Capacity: size.clients / 25, LANCapacity: 4}
			first, err := Allocate(clients, res, date(2026, 1, 1), nil)
			if err != nil {
				b.Fatal(err)
			}
			prev := first.Bases()
			next := append([]Client(nil), clients[size.clients/100:]...)
			for i, c := range clients[:size.clients/100] {
				c.ID = fmt.Sprintf("new-%07d", i)
				next = append(next, c)
			}
			var a *Allocation
			b.ReportAllocs()
			for b.Loop() {
				if a, err = Allocate(next, res, date(2026, 1, 2), prev); err != nil {
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
