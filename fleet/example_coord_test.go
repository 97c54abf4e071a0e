package fleet_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/afterhours-go/afterhours/fleet"
)

// Two controllers run one rollout of 20 targets together on a
// MemoryCoordinator, as two processes would on etcd: each is given every
// target, takes those it has room for and skips those the other took;
// together they run at most 4 targets at once and one per group, and each
// target once.
func ExampleNewMemoryCoordinator() {
	var targets []fleet.Target
	for i := range 20 {
		targets = append(targets, fleet.Target{ID: fmt.Sprintf("node-%02d", i), Group: fmt.Sprintf("cluster-%d", i%5)})
	}
	var mu sync.Mutex
	runs := make(map[string]int)
	phases := []fleet.Phase{{Name: "patch", Run: func(_ context.Context, t fleet.Target) error {
		mu.Lock()
		runs[t.ID]++
		mu.Unlock()
		return nil
	}}}

	m := fleet.NewMemoryCoordinator()
	var controllers []*fleet.Rollout
	for range 2 {
		r, err := fleet.NewRollout(targets, phases, fleet.WithConcurrency(fleet.Count(4)),
			fleet.WithGroupLimit(fleet.Count(1)), fleet.WithCoordinator(m))
		if err != nil {
			fmt.Println(err)
			return
		}
		controllers = append(controllers, r)
	}
	var wg sync.WaitGroup
	for _, r := range controllers {
		wg.Go(func() {
			if err := r.Run(context.Background()); err != nil {
				fmt.Println(err)
			}
		})
	}
	wg.Wait()

	ran, left := 0, 0
	for _, r := range controllers {
		for _, rec := range r.Report().Targets {
			switch {
			case rec.Outcome == fleet.Succeeded && !rec.Resumed:
				ran++ // by this controller
			case rec.Outcome == fleet.Pending:
				left++
			}
		}
	}
	once := len(runs) == 20
	for _, n := range runs {
		once = once && n == 1
	}
	fmt.Println("targets run by the controllers:", ran)
	fmt.Println("each target run once:", once)
	fmt.Println("left pending:", left)
	// Output:
	// targets run by the controllers: 20
	// each target run once: true
	// left pending: 0
}
