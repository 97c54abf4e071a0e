package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/afterhours-go/afterhours/fleet"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// BenchmarkClaims measures claims through etcd: each operation is one
// target claimed and ended (two transactions), by workers spread over
// three controllers (a client each) of one rollout whose concurrency is in
// the name, with every target in a group limited to 2 at once (10,000 groups, so that the group places are taken in every claim but seldom full). A claim
// refused for room waits for the next change. claims/s is the rate the
// controllers together reach.
func BenchmarkClaims(b *testing.B) {
	for _, conc := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("controllers=3/concurrency=%d", conc), func(b *testing.B) {
			prefix := etcdtest.Prefix(b)
			groups := make(map[string]int)
			for g := range 10000 {
				groups[fmt.Sprintf("g%d", g)] = 2
			}
			plan := fleet.CoordPlan{Concurrency: conc, Budget: 0, GroupLimits: groups}
			var coords []*etcd.Coordinator
			for i := range 3 {
				cli, err := clientv3.New(clientv3.Config{Endpoints: etcdtest.Endpoints(b), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
				if err != nil {
					b.Fatal(err)
				}
				defer cli.Close()
				c, err := etcd.NewCoordinator(cli, prefix, fmt.Sprintf("ctl-%d", i))
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				if _, err := c.Join(context.Background(), plan); err != nil {
					b.Fatal(err)
				}
				coords = append(coords, c)
			}
			var next, worker atomic.Int64
			start := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
			// One worker per slot at most: more would only wait.
			b.SetParallelism(max(1, conc/2))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := coords[worker.Add(1)%3]
				ctx := context.Background()
				changes := c.Changes(b.Context())
				for pb.Next() {
					n := next.Add(1)
					rec := fleet.Record{ID: fmt.Sprintf("t%d", n), Group: fmt.Sprintf("g%d", n%10000), Phase: "patch", Start: start}
					for {
						err := c.Claim(ctx, rec)
						if err == nil {
							break
						}
						if !errors.Is(err, fleet.ErrNoRoom) {
							b.Error(err)
							return
						}
						<-changes
					}
					rec.Outcome, rec.End = fleet.Succeeded, start.Add(time.Minute)
					if err := c.End(ctx, rec); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
		})
	}
}
