package fleet_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/afterhours-go/afterhours/fleet"
	"github.com/afterhours-go/afterhours/server"
)

// BenchmarkRolloutGroupSemaphore measures a rollout whose targets each take
// and give back a slot of the server's FleetLock groups in process
// (Fleet.GroupSemaphore, on the memory store), slots=N per group: a
// quarter of each group, as BenchmarkRollout's
// targets=10000/concurrency=1000/groups=50 has for its own group limit,
// the same rollout without a semaphore to compare with. Each slot taken
// and given back is a transaction of the server's store.
func BenchmarkRolloutGroupSemaphore(b *testing.B) {
	const targets, conc, groups = 10000, 1000, 50
	slots := targets / groups / 4
	var cfg strings.Builder
	cfg.WriteString(`{"fleetlock": {`)
	for g := range groups {
		if g > 0 {
			cfg.WriteString(", ")
		}
		fmt.Fprintf(&cfg, `"g%02d": %d`, g, slots)
	}
	cfg.WriteString("}}")
	h, err := server.New(server.NewMemStore())
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	if err := h.Fleet().SetConfig([]byte(cfg.String())); err != nil {
		b.Fatal(err)
	}
	ts := make([]fleet.Target, targets)
	for i := range ts {
		ts[i] = fleet.Target{ID: fmt.Sprintf("t%05d", i), Group: fmt.Sprintf("g%02d", i%groups)}
	}
	noop := []fleet.Phase{{Name: "patch", Run: func(context.Context, fleet.Target) error { return nil }}}
	name := fmt.Sprintf("targets=%d/concurrency=%d/groups=%d/slots=%d", targets, conc, groups, slots)
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r, err := fleet.NewRollout(ts, noop, fleet.WithConcurrency(fleet.Count(conc)),
				fleet.WithGroupSemaphore(h.Fleet().GroupSemaphore(), 0))
			if err != nil {
				b.Fatal(err)
			}
			if err := r.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			if r.Report().Stats.Counts.Succeeded != targets {
				b.Fatal("not every target succeeded")
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(targets), "ns/target")
	})
}
