package etcd_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/afterhours-go/afterhours/fleet"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// t0 is the fixed instant the tests' records start at.
var t0 = time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)

// joined returns a coordinator of the rollout under prefix, named name,
// joined with plan p, closed when t ends.
func joined(t *testing.T, cli *clientv3.Client, prefix, name string, p fleet.CoordPlan, opts ...etcd.CoordinatorOption) (*etcd.Coordinator, []fleet.Record) {
	t.Helper()
	c, err := etcd.NewCoordinator(cli, prefix, name, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	recs, err := c.Join(context.Background(), p)
	require.NoError(t, err)
	return c, recs
}

// ownClient returns a client of its own, so that a test can end it as a
// controller's death would.
func ownClient(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: etcdtest.Endpoints(t), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	return cli
}

func claimRec(id, group string) fleet.Record {
	return fleet.Record{ID: id, Group: group, Phase: "patch", Start: t0}
}

func ended(rec fleet.Record, o fleet.Outcome) fleet.Record {
	rec.Outcome, rec.End, rec.Attempts = o, rec.Start.Add(time.Minute), 1
	if o.IsFailure() {
		rec.Error = "exit status 1"
	}
	return rec
}

// waitFor polls cond until it holds, for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond) // polling real processes, with a deadline
	}
}

// A claim takes the target once for all controllers; its end is final, and
// a controller that joins later gets the record.
func TestCoordinatorClaimOnce(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	plan := fleet.CoordPlan{Concurrency: 10, Budget: 1}
	a, _ := joined(t, cli, prefix, "a", plan)
	b, _ := joined(t, cli, prefix, "b", plan)
	ctx := context.Background()

	require.NoError(t, a.Claim(ctx, claimRec("n1", "")))
	err := b.Claim(ctx, claimRec("n1", ""))
	require.ErrorIs(t, err, fleet.ErrTaken)
	require.Contains(t, err.Error(), "controller a")
	require.ErrorIs(t, a.Claim(ctx, claimRec("n1", "")), fleet.ErrTaken)
	require.ErrorIs(t, b.End(ctx, ended(claimRec("n1", ""), fleet.Succeeded)), fleet.ErrNotClaimed)
	require.NoError(t, a.Mark(ctx, "n1", "reboot"))
	require.NoError(t, a.End(ctx, ended(claimRec("n1", ""), fleet.Succeeded)))
	require.ErrorIs(t, a.End(ctx, ended(claimRec("n1", ""), fleet.Succeeded)), fleet.ErrNotClaimed)
	require.ErrorIs(t, b.Claim(ctx, claimRec("n1", "")), fleet.ErrTaken)

	_, recs := joined(t, cli, prefix, "c", plan)
	require.Len(t, recs, 1)
	require.Equal(t, "n1", recs[0].ID)
	require.Equal(t, fleet.Succeeded, recs[0].Outcome)
	require.Equal(t, t0, recs[0].Start)
	require.Equal(t, t0.Add(time.Minute), recs[0].End)
}

// An end with outcome Pending gives the target back: another controller
// may claim it.
func TestCoordinatorGiveBack(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	plan := fleet.CoordPlan{Concurrency: 1}
	a, _ := joined(t, cli, prefix, "a", plan)
	b, _ := joined(t, cli, prefix, "b", plan)
	ctx := context.Background()
	require.NoError(t, a.Claim(ctx, claimRec("n1", "")))
	require.NoError(t, a.End(ctx, fleet.Record{ID: "n1", Outcome: fleet.Pending}))
	require.NoError(t, b.Claim(ctx, claimRec("n1", "")))
	_, recs := joined(t, cli, prefix, "c", plan)
	require.Empty(t, recs, "a running target is no final record")
}

// A later Join with other limits fails; the first Join's plan is kept.
func TestCoordinatorPlanMismatch(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	joined(t, cli, prefix, "a", fleet.CoordPlan{Concurrency: 10, Budget: 1, GroupLimits: map[string]int{"c1": 2}})
	for _, p := range []fleet.CoordPlan{
		{Concurrency: 11, Budget: 1, GroupLimits: map[string]int{"c1": 2}},
		{Concurrency: 10, Budget: 2, GroupLimits: map[string]int{"c1": 2}},
		{Concurrency: 10, Budget: 1, GroupLimits: map[string]int{"c1": 3}},
		{Concurrency: 10, Budget: 1},
	} {
		c, err := etcd.NewCoordinator(cli, prefix, "b")
		require.NoError(t, err)
		_, err = c.Join(context.Background(), p)
		require.ErrorIs(t, err, fleet.ErrPlanMismatch, "%+v", p)
		require.NoError(t, c.Close())
	}
	// Run and Failures may differ: only the first Join's failures count.
	joined(t, cli, prefix, "b", fleet.CoordPlan{Run: "x", Concurrency: 10, Budget: 1, Failures: 3, GroupLimits: map[string]int{"c1": 2}})
}

// Controllers claiming at once never hold more than the concurrency, nor
// more of a group than its limit; a refusal for room says which.
func TestCoordinatorLimitsAcrossControllers(t *testing.T) {
	prefix := etcdtest.Prefix(t)
	const conc, limit = 7, 2
	groups := map[string]int{}
	for g := range 6 {
		groups[fmt.Sprintf("c%d", g)] = limit
	}
	plan := fleet.CoordPlan{Concurrency: conc, Budget: 100, GroupLimits: groups}
	var coords []*etcd.Coordinator
	for i := range 3 {
		c, _ := joined(t, ownClient(t), prefix, fmt.Sprintf("ctl-%d", i), plan)
		coords = append(coords, c)
	}
	var (
		mu      sync.Mutex
		got     = map[string]int{} // claimed per group
		total   int
		noRoom  int
		grpFull int
		wg      sync.WaitGroup
	)
	for i, c := range coords {
		wg.Go(func() {
			for n := range 30 {
				id := fmt.Sprintf("n%02d", n)
				err := c.Claim(context.Background(), claimRec(id, fmt.Sprintf("c%d", n%6)))
				mu.Lock()
				switch {
				case err == nil:
					got[fmt.Sprintf("c%d", n%6)]++
					total++
				case errors.Is(err, fleet.ErrGroupFull):
					grpFull++
				case errors.Is(err, fleet.ErrNoRoom), errors.Is(err, fleet.ErrTaken):
					noRoom++
				default:
					t.Errorf("controller %d: %v", i, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, conc, total, "the concurrency is filled, never exceeded")
	for g, n := range got {
		require.LessOrEqual(t, n, limit, "group %s", g)
	}
	require.Positive(t, noRoom+grpFull)
}

// A target of a full group is refused with ErrGroupFull (an ErrNoRoom)
// while there is room overall; an end in the group makes room for it.
func TestCoordinatorGroupFull(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	plan := fleet.CoordPlan{Concurrency: 10, GroupLimits: map[string]int{"c1": 2}}
	a, _ := joined(t, cli, prefix, "a", plan)
	b, _ := joined(t, ownClient(t), prefix, "b", plan)
	ctx := context.Background()
	require.NoError(t, a.Claim(ctx, claimRec("n1", "c1")))
	require.NoError(t, b.Claim(ctx, claimRec("n2", "c1")))
	err := a.Claim(ctx, claimRec("n3", "c1"))
	require.ErrorIs(t, err, fleet.ErrGroupFull)
	require.ErrorIs(t, err, fleet.ErrNoRoom)
	require.NoError(t, a.Claim(ctx, claimRec("n4", "c2")), "c2 is not limited")
	require.NoError(t, a.Claim(ctx, claimRec("n5", "")))
	changes := a.Changes(t.Context())
	require.NoError(t, b.End(ctx, ended(claimRec("n2", "c1"), fleet.Succeeded)))
	waitChange(t, changes, func() bool { return a.Claim(ctx, claimRec("n3", "c1")) == nil })
}

// The failure that exceeds the budget stops every controller: claims are
// refused with ErrStopped wrapping ErrBudgetExhausted, and Stopped says so.
func TestCoordinatorBudget(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	plan := fleet.CoordPlan{Concurrency: 10, Budget: 1}
	a, _ := joined(t, cli, prefix, "a", plan)
	b, _ := joined(t, ownClient(t), prefix, "b", plan)
	ctx := context.Background()
	for _, id := range []string{"n1", "n2", "n3"} {
		require.NoError(t, a.Claim(ctx, claimRec(id, "")))
	}
	require.NoError(t, a.End(ctx, ended(claimRec("n1", ""), fleet.Failed)))
	require.NoError(t, a.Stopped(), "one failure is within a budget of 1")
	require.NoError(t, b.Claim(ctx, claimRec("n4", "")))
	require.NoError(t, a.End(ctx, ended(claimRec("n2", ""), fleet.Failed)))
	require.ErrorIs(t, a.Stopped(), fleet.ErrBudgetExhausted)
	// b learns it from its watch, or from the claim's refusal.
	err := b.Claim(ctx, claimRec("n5", ""))
	require.ErrorIs(t, err, fleet.ErrStopped)
	require.ErrorIs(t, err, fleet.ErrBudgetExhausted)
	require.ErrorIs(t, b.Stopped(), fleet.ErrBudgetExhausted)
	// Running targets still end.
	require.NoError(t, a.End(ctx, ended(claimRec("n3", ""), fleet.Succeeded)))
	require.NoError(t, b.End(ctx, ended(claimRec("n4", ""), fleet.Succeeded)))
}

// Failures carried by the first Join count: a plan already over budget
// starts nothing.
func TestCoordinatorCarriedFailures(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	a, _ := joined(t, cli, prefix, "a", fleet.CoordPlan{Concurrency: 10, Budget: 2, Failures: 2})
	ctx := context.Background()
	require.NoError(t, a.Claim(ctx, claimRec("n1", "")))
	require.NoError(t, a.End(ctx, ended(claimRec("n1", ""), fleet.Failed)))
	require.ErrorIs(t, a.Claim(ctx, claimRec("n2", "")), fleet.ErrBudgetExhausted)
}

// A critical failure stops every controller at once.
func TestCoordinatorCritical(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	plan := fleet.CoordPlan{Concurrency: 10, Budget: 5}
	a, _ := joined(t, cli, prefix, "a", plan)
	b, _ := joined(t, ownClient(t), prefix, "b", plan)
	changes := b.Changes(t.Context())
	ctx := context.Background()
	require.NoError(t, a.Claim(ctx, claimRec("n1", "")))
	require.NoError(t, b.Claim(ctx, claimRec("n2", "")))
	rec := ended(claimRec("n1", ""), fleet.Critical)
	rec.Phase = "drain"
	require.NoError(t, a.End(ctx, rec))
	waitChange(t, changes, func() bool { return b.Stopped() != nil })
	require.ErrorIs(t, b.Stopped(), fleet.ErrCritical)
	require.Contains(t, b.Stopped().Error(), "target n1 failed in phase drain")
	require.ErrorIs(t, b.Claim(ctx, claimRec("n3", "")), fleet.ErrCritical)
	// A second critical failure, of a target that was running, keeps the
	// first one's reason for the controllers that join later.
	require.NoError(t, b.End(ctx, ended(claimRec("n2", ""), fleet.Critical)))
	late, _ := joined(t, cli, prefix, "c", plan)
	require.Contains(t, late.Stopped().Error(), "target n1 failed")
	require.NotContains(t, late.Stopped().Error(), "target n2")
}

// decodeStored decodes the value of a record key.
func decodeStored(t *testing.T, v []byte) fleet.Record {
	t.Helper()
	var rec fleet.Record
	require.NoError(t, json.Unmarshal(v, &rec))
	return rec
}

// waitChange waits, for at most a second, for changes to receive a value
// after which cond holds.
func waitChange(t *testing.T, changes <-chan struct{}, cond func() bool) {
	t.Helper()
	deadline := time.After(time.Second)
	for !cond() {
		select {
		case <-changes:
		case <-deadline:
			t.Fatal("no change within a second")
		}
	}
}

// The killswitch thrown by one controller reaches the others within a
// second, through Changes; the first reason is kept, and it stays for a
// controller that joins later.
func TestCoordinatorKill(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	plan := fleet.CoordPlan{Concurrency: 10}
	a, _ := joined(t, cli, prefix, "a", plan)
	var others []*etcd.Coordinator
	var changes []<-chan struct{}
	for _, name := range []string{"b", "c"} {
		c, _ := joined(t, ownClient(t), prefix, name, plan)
		others = append(others, c)
		changes = append(changes, c.Changes(t.Context()))
	}
	ctx := context.Background()
	require.NoError(t, others[0].Claim(ctx, claimRec("n1", "")))
	require.NoError(t, a.Kill(ctx, "operator: bad patch"))
	require.NoError(t, others[1].Kill(ctx, "second reason"))
	for i, c := range others {
		waitChange(t, changes[i], func() bool { return c.Stopped() != nil })
		require.ErrorIs(t, c.Stopped(), fleet.ErrKilled)
		require.Contains(t, c.Stopped().Error(), "operator: bad patch")
	}
	require.ErrorIs(t, others[1].Claim(ctx, claimRec("n2", "")), fleet.ErrStopped)
	// The running target ends as usual.
	require.NoError(t, others[0].End(ctx, ended(claimRec("n1", ""), fleet.Killed)))
	late, _ := joined(t, cli, prefix, "d", plan)
	require.ErrorIs(t, late.Stopped(), fleet.ErrKilled)
}

// A controller that dies (its client gone, no keep-alive) loses its claims
// when its lease expires: its slot frees, and the survivors record its
// running target interrupted, once, in the last phase it marked. The
// target is never claimed again.
func TestCoordinatorLeaseExpiry(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	plan := fleet.CoordPlan{Concurrency: 1, Budget: 0}
	deadCli, err := clientv3.New(clientv3.Config{Endpoints: etcdtest.Endpoints(t), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	dead, err := etcd.NewCoordinator(deadCli, prefix, "dead", etcd.WithLeaseTTL(time.Second))
	require.NoError(t, err)
	_, err = dead.Join(context.Background(), plan)
	require.NoError(t, err)
	b, _ := joined(t, ownClient(t), prefix, "b", plan)
	c, _ := joined(t, ownClient(t), prefix, "c", plan)
	ctx := context.Background()
	require.NoError(t, dead.Claim(ctx, claimRec("n1", "")))
	require.NoError(t, dead.Mark(ctx, "n1", "reboot"))
	require.ErrorIs(t, b.Claim(ctx, claimRec("n2", "")), fleet.ErrNoRoom)

	deadCli.Close() // no more keep-alives: the lease expires
	t.Cleanup(func() { dead.Close() })
	key := prefix + "rec/n1"
	var rec fleet.Record
	waitFor(t, 15*time.Second, "n1 recorded interrupted", func() bool {
		resp, err := cli.Get(ctx, key)
		require.NoError(t, err)
		rec = decodeStored(t, resp.Kvs[0].Value)
		return rec.Outcome == fleet.Interrupted
	})
	resp, err := cli.Get(ctx, key)
	require.NoError(t, err)
	require.EqualValues(t, 3, resp.Kvs[0].Version, "claim, mark, interruption: one write of the interruption")
	require.Equal(t, "reboot", rec.Phase)
	require.Equal(t, t0, rec.Start)
	require.True(t, rec.End.IsZero(), "the end of an interrupted target is unknown")
	require.Contains(t, rec.Error, "controller dead")

	require.ErrorIs(t, b.Claim(ctx, claimRec("n1", "")), fleet.ErrTaken, "an interrupted target is not run again on its own")
	require.NoError(t, c.Claim(ctx, claimRec("n2", "")), "the dead controller's slot is free")
	require.NoError(t, b.Stopped(), "an interruption is not a failure")

	_, recs := joined(t, cli, prefix, "late", plan)
	require.Len(t, recs, 1)
	require.Equal(t, fleet.Interrupted, recs[0].Outcome)
}

// A target left running when every controller died is recorded
// interrupted by the next Join.
func TestCoordinatorJoinFindsInterrupted(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	plan := fleet.CoordPlan{Concurrency: 2}
	a, _ := joined(t, ownClient(t), prefix, "a", plan)
	ctx := context.Background()
	require.NoError(t, a.Claim(ctx, claimRec("n1", "")))
	require.NoError(t, a.Close()) // revokes the lease: the claim goes, the record stays running
	_, recs := joined(t, cli, prefix, "b", plan)
	require.Len(t, recs, 1)
	require.Equal(t, fleet.Interrupted, recs[0].Outcome)
	require.Contains(t, recs[0].Error, "controller a")
}

// NewCoordinator refuses what it cannot use.
func TestNewCoordinatorErrors(t *testing.T) {
	cli := etcdtest.Client(t)
	for name, f := range map[string]func() (*etcd.Coordinator, error){
		"nil client":   func() (*etcd.Coordinator, error) { return etcd.NewCoordinator(nil, "/p/", "a") },
		"empty prefix": func() (*etcd.Coordinator, error) { return etcd.NewCoordinator(cli, "", "a") },
		"empty name":   func() (*etcd.Coordinator, error) { return etcd.NewCoordinator(cli, "/p/", "") },
		"nil option":   func() (*etcd.Coordinator, error) { return etcd.NewCoordinator(cli, "/p/", "a", nil) },
		"TTL under 1s": func() (*etcd.Coordinator, error) {
			return etcd.NewCoordinator(cli, "/p/", "a", etcd.WithLeaseTTL(500*time.Millisecond))
		},
		"TTL in parts": func() (*etcd.Coordinator, error) {
			return etcd.NewCoordinator(cli, "/p/", "a", etcd.WithLeaseTTL(1500*time.Millisecond))
		},
		"nil logger": func() (*etcd.Coordinator, error) {
			return etcd.NewCoordinator(cli, "/p/", "a", etcd.WithCoordinatorLogger(nil))
		},
	} {
		_, err := f()
		require.Error(t, err, name)
	}
	c, err := etcd.NewCoordinator(cli, "/p", "a")
	require.NoError(t, err)
	require.Equal(t, "/p/", c.Prefix(), "a / is added")
	require.Equal(t, "a", c.Controller())
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close again does nothing")
	_, err = c.Join(context.Background(), fleet.CoordPlan{Concurrency: 1})
	require.Error(t, err, "Join after Close")
}

// A controller whose lease ends while it lives (revoked here, as an
// expiry in a partition would end it) claims nothing more, and its Mark
// and End fail wrapping ErrNotClaimed and ErrLeaseLost; the others record
// its target interrupted.
func TestCoordinatorLeaseLost(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	plan := fleet.CoordPlan{Concurrency: 5}
	a, _ := joined(t, ownClient(t), prefix, "a", plan)
	b, _ := joined(t, ownClient(t), prefix, "b", plan)
	changes := a.Changes(t.Context())
	ctx := context.Background()
	require.NoError(t, a.Claim(ctx, claimRec("n1", "")))
	resp, err := cli.Get(ctx, prefix+"claim/n1")
	require.NoError(t, err)
	_, err = cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	require.NoError(t, err)

	waitFor(t, 15*time.Second, "a learns that its lease is gone", func() bool {
		select {
		case <-changes:
		default:
		}
		return errors.Is(a.Claim(ctx, claimRec("n2", "")), etcd.ErrLeaseLost)
	})
	err = a.End(ctx, ended(claimRec("n1", ""), fleet.Succeeded))
	require.ErrorIs(t, err, fleet.ErrNotClaimed)
	require.ErrorIs(t, err, etcd.ErrLeaseLost)
	require.NoError(t, a.Stopped(), "the rollout goes on for the others")
	require.NoError(t, b.Claim(ctx, claimRec("n2", "")))
	waitFor(t, 5*time.Second, "n1 recorded interrupted", func() bool {
		st, err := etcd.ReadRollout(ctx, cli, prefix)
		require.NoError(t, err)
		for _, r := range st.Records {
			if r.ID == "n1" {
				return r.Outcome == fleet.Interrupted
			}
		}
		return false
	})
}

// ReadRollout shows a monitor every controller's records and the totals,
// the controllers that hold claims, and why the rollout stopped.
func TestReadRollout(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	plan := fleet.CoordPlan{Concurrency: 10, Budget: 0}
	a, _ := joined(t, cli, prefix, "a", plan)
	b, _ := joined(t, cli, prefix, "b", plan)
	ctx := context.Background()
	require.NoError(t, a.Claim(ctx, claimRec("n1", "")))
	require.NoError(t, a.Claim(ctx, claimRec("n2", "")))
	require.NoError(t, b.Claim(ctx, claimRec("n3", "")))
	require.NoError(t, a.End(ctx, ended(claimRec("n1", ""), fleet.Succeeded)))
	require.NoError(t, b.End(ctx, ended(claimRec("n3", ""), fleet.Failed)))

	st, err := etcd.ReadRollout(ctx, cli, strings.TrimSuffix(prefix, "/"))
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, st.Live)
	require.ErrorIs(t, st.Stopped, fleet.ErrBudgetExhausted)
	by, total := st.Counts()
	require.Equal(t, fleet.Counts{Running: 1, Succeeded: 1}, by["a"])
	require.Equal(t, fleet.Counts{Failed: 1}, by["b"])
	require.Equal(t, fleet.Counts{Running: 1, Succeeded: 1, Failed: 1}, total)
	require.Len(t, st.Records, 3)
	for i, r := range st.Records {
		require.Equal(t, fmt.Sprintf("n%d", i+1), r.ID, "in the order of the claims")
		require.LessOrEqual(t, r.Claimed, r.Written)
	}
	require.Less(t, st.Records[0].Claimed, st.Records[0].Written, "n1 ended after its claim")
}

// Close ends every goroutine the coordinator started: its watch, its
// session's keep-alives, the watchers of Changes.
func TestCoordinatorCloseLeaksNothing(t *testing.T) {
	cli, prefix := etcdtest.Client(t), etcdtest.Prefix(t)
	// Connect before the goroutines of the moment are taken as not ours.
	_, err := cli.Get(context.Background(), prefix)
	require.NoError(t, err)
	ignore := []goleak.Option{goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*watchGRPCStream).run"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*watchGRPCStream).serveSubstream"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*watchGRPCStream).serveWatchClient"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*lessor).recvKeepAliveLoop"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*lessor).deadlineLoop"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*lessor).sendKeepAliveLoop"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc.newClientStreamWithParams.func4"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*Stream).waitOnHeader"),
		goleak.IgnoreTopFunction("context.(*cancelCtx).propagateCancel.func2")}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := etcd.NewCoordinator(cli, prefix, "a")
	require.NoError(t, err)
	_, err = c.Join(ctx, fleet.CoordPlan{Concurrency: 2})
	require.NoError(t, err)
	c.Changes(ctx)
	require.NoError(t, c.Claim(ctx, claimRec("n1", "")))
	require.NoError(t, c.End(ctx, ended(claimRec("n1", ""), fleet.Succeeded)))
	require.NoError(t, c.Close())
	cancel()
	goleak.VerifyNone(t, ignore...)
}

// A coordinator has at most 32 claim transactions in flight, however many
// targets claim at once; claims of targets its view shows started are
// refused after a read, without a transaction.
func TestCoordinatorClaimsInFlight(t *testing.T) {
	var inFlight, most, txns atomic.Int64
	count := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if method == "/etcdserverpb.KV/Txn" {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			txns.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: etcdtest.Endpoints(t), DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithChainUnaryInterceptor(count)}})
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	prefix := etcdtest.Prefix(t)
	c, _ := joined(t, cli, prefix, "a", fleet.CoordPlan{Concurrency: 400})
	var wg sync.WaitGroup
	for n := range 300 {
		wg.Go(func() { require.NoError(t, c.Claim(context.Background(), claimRec(fmt.Sprint("n", n), ""))) })
	}
	wg.Wait()
	require.LessOrEqual(t, most.Load(), int64(32))
	t.Logf("at most %d claim transactions in flight", most.Load())
	before := txns.Load()
	for n := range 300 {
		require.ErrorIs(t, c.Claim(context.Background(), claimRec(fmt.Sprint("n", n), "")), fleet.ErrTaken)
	}
	require.Equal(t, before, txns.Load(), "no transaction for a target the view shows started")
}
