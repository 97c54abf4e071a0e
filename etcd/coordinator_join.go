package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours/fleet"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// joinPage is how many keys one read of Join's scan returns.
const joinPage = 1000

// Join implements [fleet.Coordinator.Join]. It starts the controller's
// session (its lease), writes the plan or checks it against the plan of the
// controller that joined first (fleet.ErrPlanMismatch), reads the
// rollout's state, records [fleet.Interrupted] the targets left running
// without a claim (their controllers are gone), and starts following the
// prefix. It returns the record of every target that ended with a final
// outcome, interrupted ones included, in the order of their keys. A
// Coordinator joins once.
func (c *Coordinator) Join(ctx context.Context, p fleet.CoordPlan) ([]fleet.Record, error) {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, errClosed
	case c.joined:
		c.mu.Unlock()
		return nil, errors.New("etcd: coordinator: Join called twice")
	}
	c.mu.Unlock()
	if !p.Matches(p) || p.Concurrency < 1 || p.Budget < 0 || p.Failures < 0 {
		return nil, fmt.Errorf("%w: concurrency %d, budget %d, failures %d", fleet.ErrPlanMismatch, p.Concurrency, p.Budget, p.Failures)
	}
	for g, n := range p.GroupLimits {
		if n < 1 {
			return nil, fmt.Errorf("%w: group %q limit %d", fleet.ErrPlanMismatch, g, n)
		}
	}
	// The session's context is not c.ctx: Close revokes the lease with it
	// after the watch ended.
	sctx, scancel := context.WithCancel(context.Background())
	session, err := concurrency.NewSession(c.cli, concurrency.WithTTL(int(c.cfg.ttl.Seconds())), concurrency.WithContext(sctx))
	if err != nil {
		scancel()
		return nil, fmt.Errorf("etcd: coordinator: session: %w", err)
	}
	fail := func(err error) ([]fleet.Record, error) {
		session.Close()
		scancel()
		return nil, err
	}
	plan, err := c.writePlan(ctx, planOf(p))
	if err != nil {
		return fail(err)
	}
	c.mu.Lock()
	c.plan = plan
	c.mu.Unlock()
	recs, rev, err := c.scan(ctx)
	if err != nil {
		return fail(err)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fail(errClosed)
	}
	c.session, c.sessionCancel, c.joined = session, scancel, true
	c.done.Add(2)
	c.mu.Unlock()
	go c.watch(rev)
	go c.watchSession(session)

	var out []fleet.Record
	for i := range recs {
		r := &recs[i]
		if r.st.Outcome == fleet.Running && !r.claimed {
			ok, err := c.interrupt(ctx, r.key, r.mod, r.st)
			if err != nil {
				return nil, err
			}
			if !ok {
				// Ended or interrupted by another controller meanwhile.
				if r.st, ok, err = c.read(ctx, r.key); err != nil {
					return nil, err
				} else if !ok {
					continue
				}
			} else {
				r.st.Record = interrupted(r.st)
			}
		}
		if r.st.Outcome != fleet.Running && r.st.Outcome != fleet.Pending {
			out = append(out, r.st.Record)
		}
	}
	return out, nil
}

// read returns the record at key, and whether there is one.
func (c *Coordinator) read(ctx context.Context, key string) (stored, bool, error) {
	octx, cancel := opCtx(ctx)
	defer cancel()
	resp, err := c.cli.Get(octx, key)
	if err != nil {
		return stored{}, false, fmt.Errorf("etcd: coordinator: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return stored{}, false, nil
	}
	st, err := decodeRec(key, resp.Kvs[0].Value)
	return st, err == nil, err
}

// writePlan writes the plan p, or checks that the plan written by the
// controller that joined first matches it; it returns the plan in force.
func (c *Coordinator) writePlan(ctx context.Context, p planValue) (planValue, error) {
	b, _ := json.Marshal(p) // a planValue always encodes
	ctx, cancel := opCtx(ctx)
	defer cancel()
	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(c.k.plan()), "=", 0)).
		Then(clientv3.OpPut(c.k.plan(), string(b))).
		Else(clientv3.OpGet(c.k.plan())).
		Commit()
	if err != nil {
		return planValue{}, fmt.Errorf("etcd: coordinator: join: %w", err)
	}
	if resp.Succeeded {
		return p, nil
	}
	var prev planValue
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) != 1 {
		return planValue{}, fmt.Errorf("etcd: coordinator: join: the rollout's plan key vanished")
	}
	if err := json.Unmarshal(kvs[0].Value, &prev); err != nil {
		return planValue{}, fmt.Errorf("etcd: coordinator: join: the rollout's plan key: %w", err)
	}
	if !prev.coordPlan().Matches(p.coordPlan()) {
		return planValue{}, fmt.Errorf("%w: concurrency %d, budget %d, %d group limits; the rollout has concurrency %d, budget %d, %d group limits",
			fleet.ErrPlanMismatch, p.Concurrency, p.Budget, len(p.GroupLimits), prev.Concurrency, prev.Budget, len(prev.GroupLimits))
	}
	return prev, nil
}

// scanned is one record read by Join.
type scanned struct {
	key     string
	mod     int64 // the record's mod revision
	st      stored
	claimed bool
}

// scan reads the whole rollout at one revision, sets the coordinator's view
// of slots, failures and killswitch from it, and returns the records and
// the revision.
func (c *Coordinator) scan(ctx context.Context) ([]scanned, int64, error) {
	var (
		recs   []scanned
		claims = make(map[string]bool)
		rev    int64
		from   = c.k.p
		end    = clientv3.GetPrefixRangeEnd(c.k.p)
	)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(joinPage),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		octx, cancel := opCtx(ctx)
		resp, err := c.cli.Get(octx, from, opts...)
		cancel()
		if err != nil {
			return nil, 0, fmt.Errorf("etcd: coordinator: join: %w", err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		c.mu.Lock()
		for _, kv := range resp.Kvs {
			key := string(kv.Key)
			switch {
			case key == c.k.kill():
				c.killErr = killedBy(kv.Value)
			case key == c.k.critical():
				c.critErr = criticalBy(kv.Value)
			case key == c.k.failures():
				c.failures = kv.Version
			case strings.HasPrefix(key, c.k.slots()) || strings.HasPrefix(key, c.k.p+dirGroup):
				c.view[key] = entry{present: true, rev: kv.ModRevision}
			case strings.HasPrefix(key, c.k.claims()):
				if id, ok := c.k.targetOf(key, dirClaim); ok {
					claims[id] = true
				}
			case strings.HasPrefix(key, c.k.recs()):
				st, err := decodeRec(key, kv.Value)
				if err != nil {
					c.mu.Unlock()
					return nil, 0, err
				}
				recs = append(recs, scanned{key: key, mod: kv.ModRevision, st: st})
				c.started[st.ID] = true
			}
		}
		c.mu.Unlock()
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	for i := range recs {
		recs[i].claimed = claims[recs[i].st.ID]
	}
	return recs, rev, nil
}

// interrupt records the running target of the record at key, last written
// at revision mod, interrupted, if its claim is gone and the record has not
// changed since: exactly one of the controllers that try succeeds. It
// reports whether this one did.
func (c *Coordinator) interrupt(ctx context.Context, key string, mod int64, st stored) (bool, error) {
	rec := interrupted(st)
	ctx, cancel := opCtx(ctx)
	defer cancel()
	resp, err := c.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", mod),
			clientv3.Compare(clientv3.CreateRevision(c.k.claim(rec.ID)), "=", 0)).
		Then(clientv3.OpPut(key, encodeRec(st.Controller, rec))).
		Commit()
	if err != nil {
		return false, fmt.Errorf("etcd: coordinator: recording %s interrupted: %w", rec.ID, err)
	}
	if resp.Succeeded {
		c.cfg.logger.Warn("target interrupted: its controller's lease expired", "target", rec.ID, "controller", st.Controller)
	}
	return resp.Succeeded, nil
}

// interrupted returns the record of the running target of st,
// interrupted. Its end is unknown, and left zero, as in the reports of a
// rollout whose process died: the target may have run on for a while
// before its controller's lease expired.
func interrupted(st stored) fleet.Record {
	rec := st.Record
	rec.Outcome = fleet.Interrupted
	rec.End = time.Time{}
	rec.Error = fmt.Sprintf("controller %s ended (its lease expired) while the target ran: it may have run in part", st.Controller)
	return rec
}
