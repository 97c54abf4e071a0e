package e2e_test

import (
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	s := newSim(t, 30)
	s.why = map[string]int{}
	start := time.Now()
	s.runUntil(simStart.Add(50 * time.Hour))
	t.Logf("steps %d in %v, quiet %v", s.steps, time.Since(start), s.quietTime)
	for k, v := range s.why {
		if v > 5 {
			t.Logf("%5d %s", v, k)
		}
	}
}
