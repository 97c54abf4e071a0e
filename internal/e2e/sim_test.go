package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/stretchr/testify/require"
)

// sim is the whole system: the server, the agents, the clock they share,
// and what tells when they are quiet.
type sim struct {
	t         *testing.T
	gen       *atomic.Int64
	clk       *simClock
	rq        *requests
	srv       *fleetServer
	hc        *http.Client
	agents    []*agent
	execs     []*afterhours.Executor
	dump      []byte
	steps     int
	quietTime time.Duration
	cancel    context.CancelFunc
}

func newSim(t *testing.T, clients int) *sim {
	t.Helper()
	gen := new(atomic.Int64)
	s := &sim{t: t, gen: gen, clk: newSimClock(simStart, gen), rq: newRequests(gen), dump: make([]byte, 1<<20)}
	dir := t.TempDir()
	s.srv = startServer(t, filepath.Join(dir, "fleet.db"), "127.0.0.1:0", s.clk.view(untracked), s.rq)
	s.srv.admin(http.MethodPut, "/v1/config", json.RawMessage(fleetConfig()), nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 4 * clients, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	s.hc = &http.Client{Transport: s.rq.transport(tr)}

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for i := range clients {
		site := sites[i%len(sites)]
		n := i / len(sites)
		id := fmt.Sprintf("%s-%03d", site.name, n)
		lan := fmt.Sprintf("%s-lan%d", site.name, n/lanSize)
		a := enrolAgent(ctx, t, s.srv, s.clk, s.hc, id, site.name, lan, site.zone)
		s.agents = append(s.agents, a)
		s.execs = append(s.execs, a.exec)
	}
	for _, a := range s.agents {
		a.start(ctx)
	}
	t.Cleanup(s.stopAgents)
	s.quiet()
	return s
}

// stopAgents ends every agent's executor and link and waits for them.
func (s *sim) stopAgents() {
	s.cancel()
	for _, a := range s.agents {
		<-a.done
	}
}

// quiet waits until nothing happens before the clock moves (see the
// comment at the top of quiet_test.go). The activity counter is read
// before the first look and compared after the last.
func (s *sim) quiet() {
	s.t.Helper()
	t0 := time.Now()
	err := waitQuiet(60*time.Second, func() (bool, string) {
		g := s.gen.Load()
		if n := s.rq.busy(); n > 0 {
			return false, fmt.Sprintf("%d requests under way", n)
		}
		if idle, why := goroutinesIdle(&s.dump); !idle {
			return false, why
		}
		if n := activeRuns(s.execs); n > 0 {
			return false, fmt.Sprintf("%d runs active", n)
		}
		if idle, why := goroutinesIdle(&s.dump); !idle {
			return false, why
		}
		if n := s.rq.busy(); n > 0 {
			return false, fmt.Sprintf("%d requests under way", n)
		}
		if s.gen.Load() != g {
			return false, "activity during the check"
		}
		return true, ""
	})
	require.NoError(s.t, err, "at %v", s.clk.now())
	s.quietTime += time.Since(t0)
}

// runUntil steps the clock from deadline to deadline until t, waiting
// for quiet after each step; each multiple of sweepEvery (from the Unix
// epoch) is a step too, where the untracked timers fire.
func (s *sim) runUntil(t time.Time) {
	s.t.Helper()
	s.quiet() // after whatever the test did last
	for now := s.clk.now(); now.Before(t); now = s.clk.now() {
		sweep := now.Truncate(sweepEvery).Add(sweepEvery)
		limit := earlier(sweep, t)
		next := s.clk.next(now, limit)
		s.clk.set(next, next.Equal(sweep))
		s.steps++
		s.quiet()
	}
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
