package etcd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/afterhours-go/afterhours/fleet"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// claimAttempts bounds the transactions of one Claim whose chosen slot or
// group place another controller took in between.
const claimAttempts = 16

// Claim implements [fleet.Coordinator.Claim] in one transaction: see
// [Coordinator]. rec holds the target's ID, Group, first Phase and Start;
// the record written is rec, running, with this controller's name. When
// the slot or group place it chose was taken by another controller in
// between, it chooses again from what the failed transaction read, up to
// 16 times.
func (c *Coordinator) Claim(ctx context.Context, rec fleet.Record) error {
	rec.Outcome, rec.End, rec.Error = fleet.Running, time.Time{}, ""
	rec.Start = rec.Start.UTC()
	rec.Tags = append([]string(nil), rec.Tags...)
	val := encodeRec(c.controller, rec)
	recKey, claimKey := c.k.rec(rec.ID), c.k.claim(rec.ID)
	refreshed := false
	for range claimAttempts {
		c.mu.Lock()
		if err := c.readyLocked(); err != nil {
			c.mu.Unlock()
			return err
		}
		if _, ok := c.held[rec.ID]; ok {
			c.mu.Unlock()
			return fmt.Errorf("%w: %s: this controller runs it", fleet.ErrTaken, rec.ID)
		}
		if c.started[rec.ID] {
			c.mu.Unlock()
			if err := c.checkStarted(ctx, recKey); err != nil {
				return err
			}
			c.mu.Lock()
			delete(c.started, rec.ID) // given back: the view lagged
			c.mu.Unlock()
			continue
		}
		limit := c.plan.groupLimit(rec.Group)
		slot, place, err := c.pickLocked(rec.Group, limit)
		lease, budget := c.session.Lease(), c.plan.budgetLeft()
		c.mu.Unlock()
		if err != nil {
			if refreshed {
				return fmt.Errorf("%w: %s", err, rec.ID)
			}
			// The view may lag behind an end another controller made:
			// read the slots before refusing.
			refreshed = true
			if err := c.refresh(ctx, rec.Group, limit); err != nil {
				return err
			}
			continue
		}
		conds := []clientv3.Cmp{
			clientv3.Compare(clientv3.CreateRevision(recKey), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(c.k.kill()), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(c.k.critical()), "=", 0),
			clientv3.Compare(clientv3.Version(c.k.failures()), "<", budget),
			clientv3.Compare(clientv3.CreateRevision(slot), "=", 0),
		}
		then := []clientv3.Op{
			clientv3.OpPut(recKey, val),
			clientv3.OpPut(claimKey, c.controller, clientv3.WithLease(lease)),
			clientv3.OpPut(slot, rec.ID, clientv3.WithLease(lease)),
		}
		orElse := []clientv3.Op{
			clientv3.OpGet(recKey),
			clientv3.OpGet(c.k.kill()),
			clientv3.OpGet(c.k.critical()),
			clientv3.OpGet(c.k.failures(), clientv3.WithKeysOnly()),
			clientv3.OpGet(c.k.slots(), clientv3.WithPrefix(), clientv3.WithKeysOnly()),
		}
		if place != "" {
			conds = append(conds, clientv3.Compare(clientv3.CreateRevision(place), "=", 0))
			then = append(then, clientv3.OpPut(place, rec.ID, clientv3.WithLease(lease)))
			orElse = append(orElse, clientv3.OpGet(c.k.group(rec.Group), clientv3.WithPrefix(), clientv3.WithKeysOnly()))
		}
		var resp *clientv3.TxnResponse
		select {
		case c.txns <- struct{}{}:
			octx, cancel := opCtx(ctx)
			resp, err = c.cli.Txn(octx).If(conds...).Then(then...).Else(orElse...).Commit()
			cancel()
			<-c.txns
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
		c.mu.Lock()
		c.unreserveLocked(slot, place)
		if err != nil {
			c.mu.Unlock()
			return fmt.Errorf("etcd: coordinator: claim %s: %w", rec.ID, err)
		}
		rev := resp.Header.Revision
		if resp.Succeeded {
			c.started[rec.ID] = true
			c.held[rec.ID] = held{claimRev: rev, slot: slot, groupSlot: place, rec: rec}
			c.see(slot, true, rev)
			if place != "" {
				c.see(place, true, rev)
			}
			c.mu.Unlock()
			return nil
		}
		rs := resp.Responses
		if kvs := rs[0].GetResponseRange().Kvs; len(kvs) == 1 {
			c.started[rec.ID] = true
			c.mu.Unlock()
			return taken(recKey, kvs[0].Value)
		}
		if kvs := rs[1].GetResponseRange().Kvs; len(kvs) == 1 && c.killErr == nil {
			c.killErr = killedBy(kvs[0].Value)
		}
		if kvs := rs[2].GetResponseRange().Kvs; len(kvs) == 1 && c.critErr == nil {
			c.critErr = criticalBy(kvs[0].Value)
		}
		if kvs := rs[3].GetResponseRange().Kvs; len(kvs) == 1 {
			c.failures = max(c.failures, kvs[0].Version)
		}
		if err := c.stoppedLocked(); err != nil {
			c.mu.Unlock()
			return fmt.Errorf("%w: %w", fleet.ErrStopped, err)
		}
		c.refreshLocked(rev, c.plan.Concurrency, c.k.slot, rs[4].GetResponseRange().Kvs)
		if place != "" {
			c.refreshLocked(rev, limit, func(j int) string { return c.k.groupSlot(rec.Group, j) },
				rs[5].GetResponseRange().Kvs)
		}
		c.mu.Unlock()
	}
	return fmt.Errorf("%w: %s: the free slots went to other controllers first, %d times", fleet.ErrNoRoom, rec.ID, claimAttempts)
}

// refresh reads the concurrency slots and the places of group (limited to
// limit, 0 for none) into the view.
func (c *Coordinator) refresh(ctx context.Context, group string, limit int) error {
	ops := []clientv3.Op{clientv3.OpGet(c.k.slots(), clientv3.WithPrefix(), clientv3.WithKeysOnly())}
	if limit > 0 {
		ops = append(ops, clientv3.OpGet(c.k.group(group), clientv3.WithPrefix(), clientv3.WithKeysOnly()))
	}
	octx, cancel := opCtx(ctx)
	resp, err := c.cli.Txn(octx).Then(ops...).Commit()
	cancel()
	if err != nil {
		return fmt.Errorf("etcd: coordinator: reading slots: %w", err)
	}
	rev := resp.Header.Revision
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshLocked(rev, c.plan.Concurrency, c.k.slot, resp.Responses[0].GetResponseRange().Kvs)
	if limit > 0 {
		c.refreshLocked(rev, limit, func(j int) string { return c.k.groupSlot(group, j) }, resp.Responses[1].GetResponseRange().Kvs)
	}
	return nil
}

// taken returns the error of a claim of the target whose record, at key,
// is v.
func taken(key string, v []byte) error {
	st, err := decodeRec(key, v)
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s: %s by controller %s", fleet.ErrTaken, st.ID, st.Outcome, st.Controller)
}

// checkStarted reads the record at key of a target the view shows started:
// it returns the ErrTaken of a claim of it, or nil when it has no record
// (it was given back since).
func (c *Coordinator) checkStarted(ctx context.Context, key string) error {
	octx, cancel := opCtx(ctx)
	defer cancel()
	resp, err := c.cli.Get(octx, key)
	if err != nil {
		return fmt.Errorf("etcd: coordinator: claim: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil
	}
	return taken(key, resp.Kvs[0].Value)
}

// see sets the view of a slot or group place key as of revision rev,
// unless the view is of a later revision.
func (c *Coordinator) see(key string, present bool, rev int64) {
	if e, ok := c.view[key]; !ok || e.rev <= rev {
		c.view[key] = entry{present: present, rev: rev}
	}
}

// readyLocked returns why no claim can be made now, or nil.
func (c *Coordinator) readyLocked() error {
	switch {
	case c.closed:
		return errClosed
	case !c.joined:
		return fleet.ErrNotJoined
	case c.leaseErr != nil:
		return c.leaseErr
	}
	if err := c.stoppedLocked(); err != nil {
		return fmt.Errorf("%w: %w", fleet.ErrStopped, err)
	}
	return nil
}

// pickLocked chooses a free concurrency slot and, for a target of a group
// under a group limit, a free place of its group, as far as the view
// knows, and reserves them for the caller's transaction. It starts from a
// random slot so that controllers seldom race for the same one.
func (c *Coordinator) pickLocked(group string, limit int) (slot, place string, err error) {
	slot = c.freeLocked(c.plan.Concurrency, c.k.slot)
	if slot == "" {
		return "", "", fmt.Errorf("%w: concurrency %d", fleet.ErrNoRoom, c.plan.Concurrency)
	}
	if limit > 0 {
		place = c.freeLocked(limit, func(j int) string { return c.k.groupSlot(group, j) })
		if place == "" {
			return "", "", fmt.Errorf("%w: group %s, limit %d", fleet.ErrGroupFull, group, limit)
		}
		c.reserved[place] = true
	}
	c.reserved[slot] = true
	return slot, place, nil
}

// freeLocked returns a key of the n keys name(0) ... name(n-1) that the
// view shows absent and that no Claim of this process has reserved, or "".
func (c *Coordinator) freeLocked(n int, name func(int) string) string {
	first := rand.IntN(n)
	for i := range n {
		k := name((first + i) % n)
		if !c.view[k].present && !c.reserved[k] {
			return k
		}
	}
	return ""
}

func (c *Coordinator) unreserveLocked(slot, place string) {
	delete(c.reserved, slot)
	delete(c.reserved, place)
}

// refreshLocked sets the view of the n keys name(0) ... name(n-1) to what
// a read at revision rev found: kvs, the keys present.
func (c *Coordinator) refreshLocked(rev int64, n int, name func(int) string, kvs []*mvccpb.KeyValue) {
	present := make(map[string]int64, len(kvs))
	for _, kv := range kvs {
		present[string(kv.Key)] = kv.ModRevision
	}
	for i := range n {
		k := name(i)
		_, ok := present[k]
		c.see(k, ok, rev)
	}
}

// Mark implements [fleet.Coordinator.Mark]: one transaction, conditioned on
// the claim being this controller's still, writes phase into the target's
// record.
func (c *Coordinator) Mark(ctx context.Context, id, phase string) error {
	c.mu.Lock()
	h, ok := c.held[id]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("etcd: coordinator: mark %s: %w", id, fleet.ErrNotClaimed)
	}
	lease := c.session.Lease()
	c.mu.Unlock()
	rec := h.rec
	rec.Phase = phase
	octx, cancel := opCtx(ctx)
	defer cancel()
	// The claim is written again with the record, so that the claim's last
	// write and the record's stay one revision: an expiry is recognised by
	// the record not having changed since the claim's last write.
	resp, err := c.cli.Txn(octx).
		If(clientv3.Compare(clientv3.CreateRevision(c.k.claim(id)), "=", h.claimRev)).
		Then(clientv3.OpPut(c.k.rec(id), encodeRec(c.controller, rec)),
			clientv3.OpPut(c.k.claim(id), c.controller, clientv3.WithLease(lease))).
		Commit()
	if err != nil {
		return fmt.Errorf("etcd: coordinator: mark %s: %w", id, err)
	}
	if !resp.Succeeded {
		return c.lost(id)
	}
	c.mu.Lock()
	if h, ok := c.held[id]; ok {
		h.rec = rec
		c.held[id] = h
	}
	c.mu.Unlock()
	return nil
}

// End implements [fleet.Coordinator.End]: one transaction, conditioned on
// the claim being this controller's still, writes the final record (or,
// for an outcome of fleet.Pending, deletes the record, so that the target
// may be claimed again), deletes the claim, the slot and the group place,
// and counts a failure (fleet.Outcome.IsFailure) or records a critical one
// (fleet.Critical), which stops the rollout for every controller. A claim
// that expired with the lease fails wrapping fleet.ErrNotClaimed and
// [ErrLeaseLost]: the target is recorded interrupted.
func (c *Coordinator) End(ctx context.Context, rec fleet.Record) error {
	c.mu.Lock()
	h, ok := c.held[rec.ID]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("etcd: coordinator: end %s: %w", rec.ID, fleet.ErrNotClaimed)
	}
	rec.Start, rec.End = rec.Start.UTC(), rec.End.UTC()
	write := clientv3.OpPut(c.k.rec(rec.ID), encodeRec(c.controller, rec))
	if rec.Outcome == fleet.Pending {
		write = clientv3.OpDelete(c.k.rec(rec.ID))
	}
	ops := []clientv3.Op{
		write,
		clientv3.OpDelete(c.k.claim(rec.ID)),
		clientv3.OpDelete(h.slot),
	}
	if h.groupSlot != "" {
		ops = append(ops, clientv3.OpDelete(h.groupSlot))
	}
	if rec.Outcome.IsFailure() {
		// Each write raises the key's version by one: the version is the
		// count of failures, which Claim compares with the budget.
		ops = append(ops, clientv3.OpPut(c.k.failures(), rec.ID), clientv3.OpGet(c.k.failures(), clientv3.WithKeysOnly()))
	}
	critical := fmt.Sprintf("target %s failed in phase %s: %s", rec.ID, rec.Phase, rec.Error)
	if rec.Outcome == fleet.Critical {
		// The first critical failure's reason is kept: this one's, or
		// the one another controller stored first, read back.
		ops = append(ops, clientv3.OpTxn(
			[]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(c.k.critical()), "=", 0)},
			[]clientv3.Op{clientv3.OpPut(c.k.critical(), critical)},
			[]clientv3.Op{clientv3.OpGet(c.k.critical())}))
	}
	octx, cancel := opCtx(ctx)
	defer cancel()
	resp, err := c.cli.Txn(octx).
		If(clientv3.Compare(clientv3.CreateRevision(c.k.claim(rec.ID)), "=", h.claimRev)).
		Then(ops...).
		Commit()
	if err != nil {
		return fmt.Errorf("etcd: coordinator: end %s: %w", rec.ID, err)
	}
	if !resp.Succeeded {
		return c.lost(rec.ID)
	}
	rev := resp.Header.Revision
	c.mu.Lock()
	for _, r := range resp.Responses {
		if kvs := r.GetResponseRange().GetKvs(); len(kvs) == 1 {
			c.failures = max(c.failures, kvs[0].Version)
		}
		if t := r.GetResponseTxn(); t != nil && c.critErr == nil {
			reason := []byte(critical)
			if !t.Succeeded {
				if kvs := t.Responses[0].GetResponseRange().GetKvs(); len(kvs) == 1 {
					reason = kvs[0].Value
				}
			}
			c.critErr = criticalBy(reason)
		}
	}
	delete(c.held, rec.ID)
	if rec.Outcome == fleet.Pending {
		delete(c.started, rec.ID)
	}
	c.see(h.slot, false, rev)
	if h.groupSlot != "" {
		c.see(h.groupSlot, false, rev)
	}
	c.mu.Unlock()
	c.notify()
	return nil
}

// lost forgets the claim of target id, which expired with this
// controller's lease (the others record the target interrupted), and
// returns the error that says so.
func (c *Coordinator) lost(id string) error {
	c.mu.Lock()
	delete(c.held, id)
	c.mu.Unlock()
	return fmt.Errorf("%w: %w: %s: the claim expired with controller %s's lease; the target is recorded interrupted",
		fleet.ErrNotClaimed, ErrLeaseLost, id, c.controller)
}
