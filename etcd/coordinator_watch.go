package etcd

import (
	"fmt"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours/fleet"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// watchSession stops the rollout for this controller when its lease is
// lost (keep-alives failed for longer than the TTL): its claims are gone,
// and it must start nothing more.
func (c *Coordinator) watchSession(s *concurrency.Session) {
	defer c.done.Done()
	select {
	case <-s.Done():
		if c.ctx.Err() == nil {
			c.mu.Lock()
			c.leaseErr = fmt.Errorf("%w: controller %s", ErrLeaseLost, c.controller)
			c.mu.Unlock()
			c.notify()
		}
	case <-c.ctx.Done():
	}
}

// watch follows the rollout's prefix from revision rev+1 until Close: it
// keeps the view of slots, failures and killswitch, records the
// interruptions it sees, and signals Changes.
func (c *Coordinator) watch(rev int64) {
	defer c.done.Done()
	var backoff time.Duration
	for c.ctx.Err() == nil {
		wch := c.cli.Watch(clientv3.WithRequireLeader(c.ctx), c.k.p, clientv3.WithPrefix(),
			clientv3.WithRev(rev+1), clientv3.WithPrevKV())
		for resp := range wch {
			if resp.Canceled || resp.CompactRevision != 0 || resp.Err() != nil {
				break
			}
			c.apply(resp.Events)
			rev = resp.Header.Revision
		}
		if c.ctx.Err() != nil {
			return
		}
		// The watch ended (compacted, no leader, a broken stream): read
		// the state afresh, and follow from there.
		// Again at once the first time, then after 50 ms, 100 ms, ... 2 s
		// while etcd stays away.
		select {
		case <-time.After(backoff):
		case <-c.ctx.Done():
			return
		}
		backoff = min(max(2*backoff, 50*time.Millisecond), 2*time.Second)
		c.cfg.logger.Warn("coordinator watch restarts", "prefix", c.k.p, "revision", rev)
		recs, r, err := c.scan(c.ctx)
		if err != nil {
			continue // etcd is away: try again
		}
		backoff = 0
		rev = r
		for _, s := range recs {
			if s.st.Outcome == fleet.Running && !s.claimed {
				if _, err := c.interrupt(c.ctx, s.key, s.mod, s.st); err != nil {
					c.cfg.logger.Warn("recording an interruption failed", "target", s.st.ID, "err", err)
				}
			}
		}
		c.notify()
	}
}

// apply takes in the events of one watch response.
func (c *Coordinator) apply(events []*clientv3.Event) {
	type gone struct {
		id  string
		mod int64 // the claim's last mod revision
		rev int64 // the revision of its deletion
	}
	var expired []gone
	recPut := make(map[string]int64) // rec key -> revision it was written at
	c.mu.Lock()
	for _, ev := range events {
		key := string(ev.Kv.Key)
		put := ev.Type == mvccpb.PUT
		switch {
		case key == c.k.kill():
			if put && c.killErr == nil {
				c.killErr = killedBy(ev.Kv.Value)
			}
		case key == c.k.critical():
			if put && c.critErr == nil {
				c.critErr = criticalBy(ev.Kv.Value)
			}
		case key == c.k.failures():
			if put {
				c.failures = max(c.failures, ev.Kv.Version)
			}
		case strings.HasPrefix(key, c.k.slots()) || strings.HasPrefix(key, c.k.p+dirGroup):
			if e, ok := c.view[key]; !ok || e.rev <= ev.Kv.ModRevision {
				c.view[key] = entry{present: put, rev: ev.Kv.ModRevision}
			}
		case strings.HasPrefix(key, c.k.recs()):
			recPut[key] = ev.Kv.ModRevision // a put, or the delete of a target given back
			if id, ok := c.k.targetOf(key, dirRec); ok {
				if put {
					c.started[id] = true
				} else {
					delete(c.started, id)
				}
			}
		case strings.HasPrefix(key, c.k.claims()):
			if !put && ev.PrevKv != nil {
				if id, ok := c.k.targetOf(key, dirClaim); ok {
					expired = append(expired, gone{id: id, mod: ev.PrevKv.ModRevision, rev: ev.Kv.ModRevision})
				}
			}
		}
	}
	c.mu.Unlock()
	c.notify()
	for _, g := range expired {
		recKey := c.k.rec(g.id)
		if recPut[recKey] == g.rev {
			continue // ended: its record was written with the claim's deletion
		}
		c.interruptExpired(recKey, g.mod)
	}
}

// interruptExpired records interrupted the target of the record at recKey
// whose claim, last written at revision mod, expired: when the record was
// last written with the claim, as running.
func (c *Coordinator) interruptExpired(recKey string, mod int64) {
	ctx, cancel := opCtx(c.ctx)
	resp, err := c.cli.Get(ctx, recKey)
	cancel()
	if err != nil || len(resp.Kvs) != 1 {
		if err != nil && c.ctx.Err() == nil {
			c.cfg.logger.Warn("reading an expired claim's record failed", "key", recKey, "err", err)
		}
		return
	}
	kv := resp.Kvs[0]
	if kv.ModRevision != mod {
		return // written since: ended, or recorded interrupted already
	}
	st, err := decodeRec(recKey, kv.Value)
	if err != nil {
		c.cfg.logger.Warn("bad record", "err", err)
		return
	}
	if _, err := c.interrupt(c.ctx, recKey, mod, st); err != nil && c.ctx.Err() == nil {
		c.cfg.logger.Warn("recording an interruption failed", "key", recKey, "err", err)
	}
}
