package server

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkReplicaCatchUp measures what a replica pays to see one client's
// record changed by another replica, in fleets of growing size: reading
// the log and the one record (reload=changed), against reloading the whole
// fleet (reload=all, what a replica does when the log no longer reaches
// its generation). The first should not grow with the fleet.
func BenchmarkReplicaCatchUp(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		for _, reload := range []string{"changed", "all"} {
			b.Run(fmt.Sprintf("clients=%d/reload=%s", n, reload), func(b *testing.B) { benchCatchUp(b, n, reload == "all") })
		}
	}
}

func benchCatchUp(b *testing.B, n int, all bool) {
	store := NewMemStore()
	defer store.Close()
	nSites := max(5, n/200)
	a := testFleet(b, store, string(benchConfig(nSites, n)))
	clients := make([]Client, n)
	for i := range clients {
		si := (i * 7919) % nSites
		clients[i] = Client{ID: fmt.Sprintf("client-%07d", i), Site: fmt.Sprintf("site-%03d", si), LAN: fmt.Sprintf("lan-%d-%d", si, (i/nSites)%10)}
	}
	if _, err := a.Register(clients...); err != nil {
		b.Fatal(err)
	}
	f, err := OpenFleet(store, WithClock(fixedClock()))
	if err != nil {
		b.Fatal(err)
	}
	f.Close() // it catches up in the loop only
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		// Another replica changes one client's record.
		id := clients[i%n].ID
		i++
		err := a.change(func() error {
			rec := *a.clients[id]
			rec.Joined = rec.Joined.Add(time.Second)
			return a.commit(&fleetChange{put: []*clientRecord{&rec}})
		})
		if err != nil {
			b.Fatal(err)
		}
		if all { // the log no longer reaches f's generation
			err := store.Update(func(tx Tx) error { return tx.Delete(changeKey(genOf(a))) })
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		err = f.catchUpNow()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if genOf(f) != genOf(a) || f.clients[clients[0].ID].Joined != a.clients[clients[0].ID].Joined {
		b.Fatal("the replica did not catch up")
	}
}
