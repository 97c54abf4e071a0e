package fleet

import (
	"fmt"
	"testing"
)

// BenchmarkAllocatorPlace places one more client into an Allocator
// holding a fleet (and, off the clock, removes it again).
func BenchmarkAllocatorPlace(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("clients=%d/sites=500", n), func(b *testing.B) {
			clients := benchFleet(b, n, 500)
			a, err := NewAllocator(clients, benchResource(n, "UTC"), date(2026, 1, 1), nil)
			if err != nil {
				b.Fatal(err)
			}
			one := []Client{joining(a, clients)}
			placed := 0
			b.ReportAllocs()
			for b.Loop() {
				got := a.Place(one, nil)
				placed += len(got.Assigned)
				b.StopTimer()
				a.Remove("joining")
				b.StartTimer()
			}
			if placed == 0 {
				b.Fatalf("the client was never placed: %+v", a.Place(one, nil))
			}
		})
	}
}

// BenchmarkAllocatorRemove removes a placed client from an Allocator
// holding a fleet, which places again the clients that waited for its
// capacity (and, off the clock, places it again).
func BenchmarkAllocatorRemove(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("clients=%d/sites=500", n), func(b *testing.B) {
			clients := benchFleet(b, n, 500)
			a, err := NewAllocator(clients, benchResource(n, "UTC"), date(2026, 1, 1), nil)
			if err != nil {
				b.Fatal(err)
			}
			one := []Client{joining(a, clients)}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				a.Place(one, nil)
				b.StartTimer()
				a.Remove("joining")
			}
			b.ReportMetric(float64(len(a.index.waiting)), "waiting")
		})
	}
}

// joining returns a new client at the site and in the LAN of the first
// client a placed.
func joining(a *Allocator, clients []Client) Client {
	first := a.Allocation().Assigned[0].Client
	for _, c := range clients {
		if c.ID == first {
			return Client{ID: "joining", Site: c.Site, LAN: c.LAN}
		}
	}
	panic("no client " + first)
}
