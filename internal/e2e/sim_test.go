package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
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
	why       map[string]int
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
// comment at the top of quiet_test.go).
func (s *sim) quiet() {
	s.t.Helper()
	t0 := time.Now()
	err := waitQuiet(60*time.Second, func() (bool, string) {
		if n := s.rq.busy(); n > 0 {
			return false, fmt.Sprintf("%d requests under way", n)
		}
		if n := activeRuns(s.execs); n > 0 {
			return false, fmt.Sprintf("%d runs active", n)
		}
		g := s.gen.Load()
		if idle, why := goroutinesIdle(&s.dump); !idle {
			if s.why != nil {
				line := why
				if i := strings.Index(why, "\n"); i > 0 {
					line = why[i+1:]
					if j := strings.Index(line, "\n"); j > 0 {
						line = line[:j]
					}
				}
				s.why[line]++
			}
			return false, "goroutine busy: " + why
		}
		if n := s.rq.busy(); n > 0 {
			return false, fmt.Sprintf("%d requests under way", n)
		}
		if s.gen.Load() != g {
			return false, "activity during the check"
		}
		if n := activeRuns(s.execs); n > 0 {
			return false, fmt.Sprintf("%d runs active", n)
		}
		return true, ""
	})
	require.NoError(s.t, err, "at %v", s.clk.now())
	s.quietTime += time.Since(t0)
}

// maxStep is the longest step: the agents' long-polls end (and start
// again) at least this often.
const maxStep = time.Hour

// runUntil steps the clock from deadline to deadline until t, waiting
// for quiet after each step.
func (s *sim) runUntil(t time.Time) {
	s.t.Helper()
	s.quiet() // after whatever the test did last
	for now := s.clk.now(); now.Before(t); now = s.clk.now() {
		limit := now.Add(maxStep)
		if limit.After(t) {
			limit = t
		}
		s.clk.set(s.clk.next(now, limit))
		s.steps++
		s.quiet()
	}
}
