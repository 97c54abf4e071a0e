package server

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/afterhours-go/afterhours"
)

// BenchmarkPutReport ingests cycle reports (one failed run each) from 1,000
// clients in parallel, each a store transaction (fsynced on bbolt): the
// server's side of the agents' reports. It reports reports per second.
func BenchmarkPutReport(b *testing.B) {
	for _, kind := range []string{"mem", "bolt"} {
		b.Run("store="+kind, func(b *testing.B) {
			var store Store = NewMemStore()
			if kind == "bolt" {
				s, err := OpenBoltStore(filepath.Join(b.TempDir(), "fleet.db"))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				store = s
			}
			f, err := OpenFleet(store, WithClock(fixedClock()))
			b.Cleanup(func() { f.Close() })
			if err != nil {
				b.Fatal(err)
			}
			if err := f.SetConfig([]byte(testConfig)); err != nil {
				b.Fatal(err)
			}
			const nClients = 1000
			clients := make([]Client, nClients)
			for i := range clients {
				clients[i] = Client{ID: fmt.Sprintf("c-%04d", i), Site: "leeds"}
			}
			if _, err := f.Register(clients...); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := next.Add(1)
					r := Report{Cycle: "2026-11-24", Seq: n, Counts: map[afterhours.State]int{"completed": 4, "failed": 1},
						Failed: []FailedRun{{Task: "vacuum-db", Kind: afterhours.Housekeeping, Error: "exit status 2", ExitCode: 2}}}
					if _, err := f.PutReport(clients[n%nClients].ID, r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
		})
	}
}
