package etcd

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/afterhours-go/afterhours/fleet"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TargetRecord is the record of one target of a rollout on etcd, as
// [ReadRollout] returns it.
type TargetRecord struct {
	// Controller names the controller that claimed the target.
	Controller string
	// Record is the target's record: Running while it runs, then its
	// final outcome ([fleet.Interrupted] when its controller died).
	fleet.Record
	// Claimed is the etcd revision of the target's claim, and Written the
	// revision of the record's last write (its end, or its interruption,
	// for a target that ended). Revisions order every claim and end of the
	// rollout, across controllers.
	Claimed, Written int64
}

// RolloutState is the state of a rollout on etcd, as a monitor reads it.
type RolloutState struct {
	// Revision is the etcd revision the state was read at.
	Revision int64
	// Records holds the record of every target that was claimed, sorted
	// by Claimed.
	Records []TargetRecord
	// Live names the controllers that hold a claim now, sorted.
	Live []string
	// Stopped is why the rollout stopped (as [Coordinator.Stopped] says),
	// or nil.
	Stopped error
}

// Counts returns the counts of the records' outcomes: for every
// controller, and in total.
func (s *RolloutState) Counts() (byController map[string]fleet.Counts, total fleet.Counts) {
	byController = make(map[string]fleet.Counts)
	for _, r := range s.Records {
		c := byController[r.Controller]
		add(&c, r.Outcome)
		byController[r.Controller] = c
		add(&total, r.Outcome)
	}
	return byController, total
}

func add(c *fleet.Counts, o fleet.Outcome) {
	switch o {
	case fleet.Pending:
		c.Pending++
	case fleet.Running:
		c.Running++
	case fleet.Succeeded:
		c.Succeeded++
	case fleet.Failed:
		c.Failed++
	case fleet.Critical:
		c.Critical++
	case fleet.Stopped:
		c.Stopped++
	case fleet.Killed:
		c.Killed++
	case fleet.Abandoned:
		c.Abandoned++
	case fleet.Interrupted:
		c.Interrupted++
	case fleet.Elsewhere:
		c.Elsewhere++
	}
}

// ReadRollout reads the state of the rollout under prefix at one
// revision, without joining it: what a monitor shows. It reads the keys in
// pages, so a rollout of any size fits etcd's response limit.
func ReadRollout(ctx context.Context, cli *clientv3.Client, prefix string) (*RolloutState, error) {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	k := keys{prefix}
	st := &RolloutState{}
	live := make(map[string]bool)
	var (
		plan     planValue
		failures int64
		stops    []error
	)
	from, end := prefix, clientv3.GetPrefixRangeEnd(prefix)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(joinPage),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
		if st.Revision != 0 {
			opts = append(opts, clientv3.WithRev(st.Revision))
		}
		octx, cancel := opCtx(ctx)
		resp, err := cli.Get(octx, from, opts...)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("etcd: reading rollout %s: %w", prefix, err)
		}
		if st.Revision == 0 {
			st.Revision = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			key := string(kv.Key)
			switch {
			case key == k.plan():
				if err := json.Unmarshal(kv.Value, &plan); err != nil {
					return nil, fmt.Errorf("etcd: reading rollout %s: plan: %w", prefix, err)
				}
			case key == k.kill():
				stops = append(stops, killedBy(kv.Value))
			case key == k.critical():
				stops = append(stops, criticalBy(kv.Value))
			case key == k.failures():
				failures = kv.Version
			case strings.HasPrefix(key, k.claims()):
				live[string(kv.Value)] = true
			case strings.HasPrefix(key, k.recs()):
				s, err := decodeRec(key, kv.Value)
				if err != nil {
					return nil, err
				}
				st.Records = append(st.Records, TargetRecord{Controller: s.Controller, Record: s.Record,
					Claimed: kv.CreateRevision, Written: kv.ModRevision})
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if n := int64(plan.Failures) + failures; plan.Concurrency > 0 && n > int64(plan.Budget) {
		stops = append(stops, fmt.Errorf("%w: %d failures, budget %d", fleet.ErrBudgetExhausted, n, plan.Budget))
	}
	st.Stopped = errors.Join(stops...)
	slices.SortFunc(st.Records, func(a, b TargetRecord) int { return cmp.Compare(a.Claimed, b.Claimed) })
	for name := range live {
		st.Live = append(st.Live, name)
	}
	slices.Sort(st.Live)
	return st, nil
}
