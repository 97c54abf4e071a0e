// Package coordtest checks an implementation of [fleet.Coordinator]
// against the interface's contract: the conformance tests every
// coordinator passes (the in-memory one and the file one of package fleet,
// etcd's). [Run] calls the coordinator directly; [RunRollouts] runs real
// Rollouts on it and checks, from the recorded start and end times, that
// together they keep the limits.
package coordtest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/fleet"
	"github.com/stretchr/testify/require"
)

// Suite is what the conformance tests need of an implementation.
type Suite struct {
	// New returns n coordinators of one new, empty rollout: one per
	// controller (they may be one value, when the implementation is
	// shared, as a MemoryCoordinator is). It registers their closing with
	// t.Cleanup. New is called with n at most Controllers.
	New func(t *testing.T, n int) []fleet.Coordinator
	// Controllers is how many controllers one rollout of the
	// implementation may have: 1 for one that serves a single controller
	// (the file coordinator); 0 stands for 3. The tests run with
	// min(3, Controllers) controllers; those that need two or more are
	// left out for one.
	Controllers int
	// Crash, when not nil, makes the controller of c die as its process
	// would (a SIGKILL: no End, no Close), and returns once the other
	// controllers can see it: its claims have expired and its running
	// targets are recorded as interrupted. Without it, the test of a
	// dead controller is left out.
	Crash func(t *testing.T, c fleet.Coordinator)
	// Wait is how long a change made by one controller may take to reach
	// another's Changes channel; 0 stands for one second.
	Wait time.Duration
}

func (s Suite) controllers() int {
	switch {
	case s.Controllers <= 0:
		return 3
	case s.Controllers > 3:
		return 3
	}
	return s.Controllers
}

func (s Suite) wait() time.Duration {
	if s.Wait <= 0 {
		return time.Second
	}
	return s.Wait
}

// join joins every coordinator of cs with p and returns the first's
// records.
func join(t *testing.T, cs []fleet.Coordinator, p fleet.CoordPlan) []fleet.Record {
	t.Helper()
	var first []fleet.Record
	for i, c := range cs {
		p.Run = fmt.Sprintf("run-%d", i)
		recs, err := c.Join(context.Background(), p)
		require.NoError(t, err, "controller %d joins", i)
		if i == 0 {
			first = recs
		}
	}
	return first
}

// claimRec is the record a Rollout claims target id of group with.
func claimRec(id, group string) fleet.Record {
	return fleet.Record{ID: id, Group: group, Outcome: fleet.Running, Phase: "drain", Attempts: 1,
		Start: time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC)}
}

// endRec is claimRec(id, group) ended with outcome o.
func endRec(id, group string, o fleet.Outcome) fleet.Record {
	rec := claimRec(id, group)
	rec.Outcome, rec.Phase, rec.End = o, "patch", rec.Start.Add(time.Minute)
	if o != fleet.Succeeded {
		rec.Error = "dpkg was interrupted"
	}
	return rec
}

// received waits for a value on ch for at most d.
func received(ch <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// Run runs the contract tests of s, as subtests of t: a claim is taken
// once, by one controller, until it ends (or is given back as pending);
// the concurrency and group limits hold across controllers and an end
// frees room and is signalled on Changes; a budget of B tolerates B
// failures and the next stops every controller, as a critical failure
// and the killswitch do (within Suite.Wait); a later Join gets the ended
// records, and, with Suite.Crash, a dead controller's running targets as
// interrupted; many goroutines claiming at once never exceed the limits.
func Run(t *testing.T, s Suite) {
	ctx := context.Background()
	n := s.controllers()

	t.Run("not-joined", func(t *testing.T) {
		c := s.New(t, 1)[0]
		require.ErrorIs(t, c.Claim(ctx, claimRec("t1", "")), fleet.ErrNotJoined)
	})

	t.Run("bad-plan", func(t *testing.T) {
		c := s.New(t, 1)[0]
		_, err := c.Join(ctx, fleet.CoordPlan{Run: "r", Concurrency: 0})
		require.ErrorIs(t, err, fleet.ErrPlanMismatch)
		_, err = c.Join(ctx, fleet.CoordPlan{Run: "r", Concurrency: 2, GroupLimits: map[string]int{"g": 0}})
		require.ErrorIs(t, err, fleet.ErrPlanMismatch)
	})

	if n >= 2 {
		t.Run("plan-mismatch", func(t *testing.T) {
			cs := s.New(t, 2)
			p := fleet.CoordPlan{Concurrency: 4, Budget: 1, GroupLimits: map[string]int{"g": 2}}
			join(t, cs[:1], p)
			for _, q := range []fleet.CoordPlan{
				{Concurrency: 5, Budget: 1, GroupLimits: map[string]int{"g": 2}},
				{Concurrency: 4, Budget: 2, GroupLimits: map[string]int{"g": 2}},
				{Concurrency: 4, Budget: 1, GroupLimits: map[string]int{"g": 3}},
				{Concurrency: 4, Budget: 1},
			} {
				_, err := cs[1].Join(ctx, q)
				require.ErrorIs(t, err, fleet.ErrPlanMismatch, "%+v", q)
			}
			_, err := cs[1].Join(ctx, fleet.CoordPlan{Run: "other", Concurrency: 4, Budget: 1, Failures: 1, GroupLimits: map[string]int{"g": 2}})
			require.NoError(t, err, "Run and Failures may differ")
		})
	}

	t.Run("claim-once", func(t *testing.T) {
		cs := s.New(t, n)
		join(t, cs, fleet.CoordPlan{Concurrency: 10})
		a, b := cs[0], cs[len(cs)-1]
		require.NoError(t, a.Claim(ctx, claimRec("t1", "")))
		require.ErrorIs(t, b.Claim(ctx, claimRec("t1", "")), fleet.ErrTaken, "claimed")
		require.NoError(t, a.Mark(ctx, "t1", "patch"))
		require.NoError(t, a.End(ctx, endRec("t1", "", fleet.Succeeded)))
		require.ErrorIs(t, b.Claim(ctx, claimRec("t1", "")), fleet.ErrTaken, "ended")
		require.ErrorIs(t, a.End(ctx, endRec("t1", "", fleet.Succeeded)), fleet.ErrNotClaimed, "ended twice")
		require.ErrorIs(t, a.Mark(ctx, "t2", "patch"), fleet.ErrNotClaimed)
		require.ErrorIs(t, a.End(ctx, endRec("t2", "", fleet.Failed)), fleet.ErrNotClaimed)

		// An end as pending gives the target back.
		require.NoError(t, a.Claim(ctx, claimRec("t3", "")))
		back := claimRec("t3", "")
		back.Outcome, back.Phase, back.Attempts, back.Start = fleet.Pending, "", 0, time.Time{}
		require.NoError(t, a.End(ctx, back))
		require.NoError(t, b.Claim(ctx, claimRec("t3", "")), "given back")
		require.NoError(t, b.End(ctx, endRec("t3", "", fleet.Succeeded)))
		require.NoError(t, b.Stopped())
	})

	t.Run("concurrency", func(t *testing.T) {
		cs := s.New(t, n)
		join(t, cs, fleet.CoordPlan{Concurrency: 3})
		for i := range 3 {
			require.NoError(t, cs[i%len(cs)].Claim(ctx, claimRec(fmt.Sprint("t", i), "")))
		}
		last := cs[len(cs)-1]
		err := last.Claim(ctx, claimRec("t3", ""))
		require.ErrorIs(t, err, fleet.ErrNoRoom)
		require.NotErrorIs(t, err, fleet.ErrGroupFull)
		changes := last.Changes(t.Context())
		require.NoError(t, cs[0].End(ctx, endRec("t0", "", fleet.Succeeded)))
		require.True(t, received(changes, s.wait()), "an end frees room: Changes receives")
		require.NoError(t, last.Claim(ctx, claimRec("t3", "")))
		require.ErrorIs(t, cs[0].Claim(ctx, claimRec("t4", "")), fleet.ErrNoRoom)
	})

	t.Run("group-limit", func(t *testing.T) {
		cs := s.New(t, n)
		join(t, cs, fleet.CoordPlan{Concurrency: 10, Budget: 5, GroupLimits: map[string]int{"db": 2, "web": 1}})
		require.NoError(t, cs[0].Claim(ctx, claimRec("db1", "db")))
		require.NoError(t, cs[len(cs)-1].Claim(ctx, claimRec("db2", "db")))
		err := cs[0].Claim(ctx, claimRec("db3", "db"))
		require.ErrorIs(t, err, fleet.ErrGroupFull)
		require.ErrorIs(t, err, fleet.ErrNoRoom)
		require.NoError(t, cs[0].Claim(ctx, claimRec("web1", "web")))
		require.ErrorIs(t, cs[0].Claim(ctx, claimRec("web2", "web")), fleet.ErrGroupFull)
		require.NoError(t, cs[0].Claim(ctx, claimRec("free1", "free")), "a group without a limit")
		require.NoError(t, cs[0].Claim(ctx, claimRec("free2", "free")))
		require.NoError(t, cs[0].Claim(ctx, claimRec("none", "")), "no group")
		require.NoError(t, cs[len(cs)-1].End(ctx, endRec("db2", "db", fleet.Failed)))
		require.NoError(t, cs[0].Claim(ctx, claimRec("db3", "db")), "a failure frees its group's room too")
	})

	t.Run("budget", func(t *testing.T) {
		cs := s.New(t, n)
		join(t, cs, fleet.CoordPlan{Concurrency: 10, Budget: 2})
		changes := cs[0].Changes(t.Context())
		for i := range 4 {
			require.NoError(t, cs[i%len(cs)].Claim(ctx, claimRec(fmt.Sprint("t", i), "")))
		}
		for i := range 2 {
			require.NoError(t, cs[i%len(cs)].End(ctx, endRec(fmt.Sprint("t", i), "", fleet.Failed)))
		}
		require.NoError(t, cs[0].Stopped(), "a budget of 2 tolerates 2 failures")
		require.NoError(t, cs[0].Claim(ctx, claimRec("t5", "")))
		require.NoError(t, cs[2%len(cs)].End(ctx, endRec("t2", "", fleet.Interrupted)), "interrupted is not a failure")
		require.NoError(t, cs[0].Stopped())
		require.NoError(t, cs[3%len(cs)].End(ctx, endRec("t3", "", fleet.Failed)))
		deadline := time.Now().Add(s.wait())
		for cs[0].Stopped() == nil && received(changes, time.Until(deadline)) {
		}
		require.ErrorIs(t, cs[0].Stopped(), fleet.ErrBudgetExhausted, "the third failure stops every controller")
		err := cs[len(cs)-1].Claim(ctx, claimRec("t6", ""))
		require.ErrorIs(t, err, fleet.ErrStopped)
		require.ErrorIs(t, err, fleet.ErrBudgetExhausted)
		require.NoError(t, cs[0].End(ctx, endRec("t5", "", fleet.Succeeded)), "running targets still end")
	})

	t.Run("carried-failures", func(t *testing.T) {
		c := s.New(t, 1)[0]
		_, err := c.Join(ctx, fleet.CoordPlan{Run: "r", Concurrency: 2, Budget: 2, Failures: 2})
		require.NoError(t, err)
		require.NoError(t, c.Stopped())
		require.NoError(t, c.Claim(ctx, claimRec("t1", "")))
		require.NoError(t, c.End(ctx, endRec("t1", "", fleet.Failed)))
		require.ErrorIs(t, c.Stopped(), fleet.ErrBudgetExhausted, "2 carried and 1 new make 3, over a budget of 2")
	})

	t.Run("critical", func(t *testing.T) {
		cs := s.New(t, n)
		join(t, cs, fleet.CoordPlan{Concurrency: 10, Budget: 5})
		last := cs[len(cs)-1]
		changes := last.Changes(t.Context())
		require.NoError(t, cs[0].Claim(ctx, claimRec("t1", "")))
		require.NoError(t, cs[0].End(ctx, endRec("t1", "", fleet.Critical)))
		deadline := time.Now().Add(s.wait())
		for last.Stopped() == nil && received(changes, time.Until(deadline)) {
		}
		require.ErrorIs(t, last.Stopped(), fleet.ErrCritical)
		require.ErrorIs(t, last.Claim(ctx, claimRec("t2", "")), fleet.ErrStopped)
	})

	t.Run("kill", func(t *testing.T) {
		cs := s.New(t, n)
		join(t, cs, fleet.CoordPlan{Concurrency: 10})
		last := cs[len(cs)-1]
		changes := last.Changes(t.Context())
		require.NoError(t, last.Claim(ctx, claimRec("t1", "")))
		require.NoError(t, cs[0].Kill(ctx, "operator says stop"))
		require.NoError(t, cs[0].Kill(ctx, "second reason"), "Kill again does nothing")
		// The change of last's own claim may come first.
		deadline := time.Now().Add(s.wait())
		for last.Stopped() == nil && received(changes, time.Until(deadline)) {
		}
		err := last.Stopped()
		require.Error(t, err, "the killswitch reaches every controller")
		require.ErrorIs(t, err, fleet.ErrKilled)
		require.ErrorContains(t, err, "operator says stop")
		require.NotContains(t, err.Error(), "second reason")
		require.ErrorIs(t, last.Claim(ctx, claimRec("t2", "")), fleet.ErrKilled)
		require.NoError(t, last.End(ctx, endRec("t1", "", fleet.Killed)), "a killed target ends")
	})

	if n >= 2 {
		t.Run("join-records", func(t *testing.T) {
			cs := s.New(t, 2)
			p := fleet.CoordPlan{Concurrency: 10, Budget: 5}
			join(t, cs[:1], p)
			want := map[string]fleet.Outcome{"t1": fleet.Succeeded, "t2": fleet.Failed}
			for id, o := range want {
				require.NoError(t, cs[0].Claim(ctx, claimRec(id, "g")))
				require.NoError(t, cs[0].End(ctx, endRec(id, "g", o)))
			}
			require.NoError(t, cs[0].Claim(ctx, claimRec("t3", "g")), "running, not in the records")
			p.Run = "late"
			recs, err := cs[1].Join(ctx, p)
			require.NoError(t, err)
			got := make(map[string]fleet.Outcome)
			for _, rec := range recs {
				got[rec.ID] = rec.Outcome
				require.Equal(t, "patch", rec.Phase, rec.ID)
				require.True(t, rec.End.Equal(endRec(rec.ID, "g", rec.Outcome).End), rec.ID)
			}
			require.Equal(t, want, got)
		})
	}

	if s.Crash != nil && n >= 3 {
		t.Run("dead-controller", func(t *testing.T) {
			cs := s.New(t, 3)
			p := fleet.CoordPlan{Concurrency: 2, GroupLimits: map[string]int{"g": 1}}
			join(t, cs[:2], p)
			require.NoError(t, cs[0].Claim(ctx, claimRec("t1", "g")))
			require.NoError(t, cs[0].Mark(ctx, "t1", "patch"))
			require.NoError(t, cs[0].Claim(ctx, claimRec("t2", "")))
			require.ErrorIs(t, cs[1].Claim(ctx, claimRec("t3", "")), fleet.ErrNoRoom)
			s.Crash(t, cs[0])
			require.ErrorIs(t, cs[1].Claim(ctx, claimRec("t1", "g")), fleet.ErrTaken, "an interrupted target is never run again on its own")
			require.NoError(t, cs[1].Claim(ctx, claimRec("t3", "g")), "the dead controller's room is free")
			require.NoError(t, cs[1].Stopped(), "interrupted is not a failure")
			p.Run = "late"
			recs, err := cs[2].Join(ctx, p)
			require.NoError(t, err)
			got := make(map[string]fleet.Record)
			for _, rec := range recs {
				got[rec.ID] = rec
			}
			require.Equal(t, fleet.Interrupted, got["t1"].Outcome, "%+v", recs)
			require.Equal(t, "patch", got["t1"].Phase, "the last phase marked")
			require.Equal(t, fleet.Interrupted, got["t2"].Outcome, "%+v", recs)
			require.Equal(t, "drain", got["t2"].Phase, "the phase claimed")
		})
	}

	t.Run("racing-claims", func(t *testing.T) {
		cs := s.New(t, n)
		const conc, targets, perGroup = 7, 120, 2
		join(t, cs, fleet.CoordPlan{Concurrency: conc, GroupLimits: map[string]int{"g0": perGroup, "g1": perGroup, "g2": perGroup}})
		var (
			mu      sync.Mutex
			running int
			groups  = map[string]int{}
			ran     = map[string]int{}
			errs    []error
		)
		var wg sync.WaitGroup
		for w := range 3 * len(cs) {
			c := cs[w%len(cs)]
			wg.Go(func() {
				for i := range targets {
					id, g := fmt.Sprint("t", i), ""
					if i%2 == 0 {
						g = fmt.Sprint("g", i%3)
					}
					err := c.Claim(ctx, claimRec(id, g))
					if errors.Is(err, fleet.ErrTaken) || errors.Is(err, fleet.ErrNoRoom) {
						continue
					}
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					running++
					groups[g]++
					ran[id]++
					if running > conc || (g != "" && groups[g] > perGroup) {
						errs = append(errs, fmt.Errorf("%d running, %d of group %q", running, groups[g], g))
					}
					mu.Unlock()
					runtime.Gosched() // hold the claim while the others claim
					mu.Lock()
					running--
					groups[g]--
					mu.Unlock()
					if err := c.End(ctx, endRec(id, g, fleet.Succeeded)); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		require.Empty(t, errs)
		for id, k := range ran {
			require.Equal(t, 1, k, "%s claimed %d times", id, k)
		}
	})
}
