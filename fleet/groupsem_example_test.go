package fleet_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours/fleet"
	"github.com/afterhours-go/afterhours/server"
)

// A rollout shares a server's FleetLock group of one slot with a node that
// Zincati reboots: the rollout's nodes run one at a time, and only once
// the Zincati node has given its slot back. (A retry of a millisecond
// keeps the example short; the default is DefaultSemaphoreRetry.)
func ExampleWithGroupSemaphore() {
	h, err := server.New(server.NewMemStore())
	if err != nil {
		panic(err)
	}
	defer h.Close()
	if err := h.Fleet().SetConfig([]byte(`{"fleetlock": {"cluster-a": 1}}`)); err != nil {
		panic(err)
	}
	f := h.Fleet()
	_ = f.FleetLockLock("cluster-a", "zincati-node") // what Zincati's pre-reboot does

	var mu sync.Mutex
	running, peak := 0, 0
	reboot := func(ctx context.Context, t fleet.Target) error {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	}
	targets := []fleet.Target{
		{ID: "node-1", Group: "cluster-a"}, {ID: "node-2", Group: "cluster-a"}, {ID: "node-3", Group: "cluster-a"},
	}
	r, err := fleet.NewRollout(targets, []fleet.Phase{{Name: "reboot", Run: reboot}},
		fleet.WithConcurrency(fleet.Count(3)), fleet.WithGroupSemaphore(f.GroupSemaphore(), time.Millisecond))
	if err != nil {
		panic(err)
	}
	events, _ := r.Subscribe()
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	for ev := range events {
		if ev.Kind == fleet.EventWaiting {
			fmt.Println("waiting:", ev.Reason)
			_ = f.FleetLockUnlock("cluster-a", "zincati-node") // Zincati's steady-state
			break
		}
	}
	if err := <-done; err != nil {
		panic(err)
	}
	groups, _ := f.FleetLock()
	fmt.Println("succeeded:", r.Report().Stats.Counts.Succeeded, "at most at once:", peak, "holders left:", len(groups[0].Holders))
	// Output:
	// waiting: group cluster-a's semaphore is full
	// succeeded: 3 at most at once: 1 holders left: 0
}
