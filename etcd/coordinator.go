package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours/fleet"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Coordinator is a [fleet.Coordinator] on etcd: the shared state of one
// rollout under a key prefix, so that several controllers (processes, on
// one machine or many) each take targets of the same rollout, and together
// never exceed its concurrency, a group's limit or its error budget.
//
// # Leases
//
// Each Coordinator holds an etcd session: a lease that it keeps alive while
// it lives (TTL [DefaultLeaseTTL], or [WithLeaseTTL]). Everything that says
// "this controller runs this target" lives on that lease: the target's
// claim key, the concurrency slot it holds and its group's place. When the
// controller dies (SIGKILL, a lost machine, a partition longer than the
// TTL), etcd deletes them when the lease expires, which frees the room for
// the others.
//
// # Slots
//
// The concurrency is C slot keys, slot/0 to slot/C-1, and a group limit
// of L is L place keys per group, group/<g>/0 to group/<g>/L-1. A claim
// takes one free slot and one free place of the target's group by
// creating their keys, with the compare "this key does not exist" (create
// revision 0) in the claim's transaction. etcd cannot count keys inside a
// transaction, but it can check that a given key is absent, so a bounded
// set of keys is a semaphore that a transaction can take atomically with
// other conditions; and since the keys live on the lease, a dead holder's
// slots free themselves. Which slot is free is guessed from a local view
// the coordinator keeps from its watch; a guess that lost a race makes the
// transaction fail, and its else branch reads the slots afresh for the
// next attempt.
//
// # Claims
//
// [Coordinator.Claim] is one transaction that succeeds only when the
// target has no record (no controller ever started it), the killswitch
// key is absent, the failures counted are within the budget, and the
// chosen slot and group place are free. It then creates the claim, the
// slot and the place on the lease, and the target's record, marked
// running, without a lease: the record outlives the controller, so a
// target that started is known to have started whatever happens to its
// controller, and is never claimed again.
//
// A claim of a target that the coordinator's view shows started is
// checked with a read (no transaction, no write to etcd's log) and refused
// at once, and a coordinator has at most 32 claim transactions in flight:
// controllers that go through the same long list of targets, most of them
// taken, do not queue thousands of transactions in etcd, behind which the
// keep-alives of their leases would wait.
//
// [Coordinator.End] is one transaction, conditioned on the claim still
// being this controller's, that writes the final record, deletes the
// claim, the slot and the place, and, for a failure, counts it: the
// failures key is rewritten, and its version (the number of writes since
// it was created) is the number of failures, which the claim's compare
// reads without any read-modify-write. A [fleet.Critical] end also writes
// the critical key, unless there is one (the first reason is kept), which
// every claim's compare checks too. An end as [fleet.Pending] (the target
// never began) deletes the record instead: the target may be claimed again.
//
// # Interruptions
//
// When a claim key disappears without its record being written in the
// same revision, its lease expired: the target was running on a
// controller that is gone. Every coordinator watching sees it, and each
// tries one transaction, conditioned on the record not having changed
// since the claim was last written and the claim being absent, that
// records the target [fleet.Interrupted]: exactly one succeeds. Join does
// the same for records left running with no claim, as after the end of
// every controller. An interrupted target is never claimed again in the
// rollout: to run the targets whose phases are idempotent again, resume
// from a report in a new rollout, under another prefix ([fleet.WithResume]).
//
// # Killswitch
//
// [Coordinator.Kill] writes the killswitch key (no lease: it stays until an
// operator deletes it). Every coordinator watches the prefix and sees it
// within the watch's latency (milliseconds on a healthy cluster), which
// [Coordinator.Stopped] and [Coordinator.Changes] report at once.
//
// A Coordinator is safe for concurrent use. Close ends its watch and
// revokes its lease; it does not close the etcd client, which the caller
// owns.
type Coordinator struct {
	cli        *clientv3.Client
	k          keys
	controller string
	cfg        coordConfig
	// txns bounds the claim transactions this coordinator has in flight.
	txns chan struct{}

	mu       sync.Mutex
	subs     map[chan struct{}]struct{} // the channels of Changes
	joined   bool
	closed   bool
	session  *concurrency.Session
	plan     planValue
	killErr  error            // the killswitch's reason, once seen
	critErr  error            // the critical failure's reason, once seen
	leaseErr error            // the lease was lost
	view     map[string]entry // slot and group keys: present or not, as of rev
	reserved map[string]bool  // slots and places chosen by Claims under way
	started  map[string]bool  // targets with a record, as far as the view knows
	held     map[string]held  // this controller's running claims, by target
	failures int64            // writes of the failures key, as last seen
	ctx      context.Context  // cancelled by Close
	cancel   context.CancelFunc
	// sessionCancel ends the session's keep-alives, after Close revoked
	// its lease.
	sessionCancel context.CancelFunc
	done          sync.WaitGroup // the watch and the session's watcher
}

// entry is the coordinator's view of one slot or group place key.
type entry struct {
	present bool
	rev     int64 // the revision the view is as of
}

// held is one claim of this controller.
type held struct {
	claimRev  int64 // the claim key's create revision
	slot      string
	groupSlot string // "" without a group limit
	rec       fleet.Record
}

// maxClaimTxns is how many claim transactions one coordinator has in
// flight at most.
const maxClaimTxns = 32

// DefaultLeaseTTL is the TTL of a [Coordinator]'s lease when
// [WithLeaseTTL] is not given: how long after a controller's death its
// claims and slots expire.
const DefaultLeaseTTL = 5 * time.Second

// CoordinatorOption sets an option of [NewCoordinator].
type CoordinatorOption func(*coordConfig) error

type coordConfig struct {
	ttl    time.Duration
	logger *slog.Logger
}

// WithLeaseTTL sets the TTL of the controller's lease, in whole seconds,
// at least one: a dead controller's claims expire this long after its last
// keep-alive. etcd may raise a TTL shorter than its own minimum (about
// 1.5 s with etcd's default timing).
func WithLeaseTTL(ttl time.Duration) CoordinatorOption {
	return func(c *coordConfig) error {
		if ttl < time.Second || ttl%time.Second != 0 {
			return fmt.Errorf("etcd: lease TTL %v: want whole seconds, at least 1s", ttl)
		}
		c.ttl = ttl
		return nil
	}
}

// WithCoordinatorLogger sets the logger of the coordinator's warnings (a
// watch that restarts, an interruption recorded); the default discards.
func WithCoordinatorLogger(l *slog.Logger) CoordinatorOption {
	return func(c *coordConfig) error {
		if l == nil {
			return errors.New("etcd: nil logger")
		}
		c.logger = l
		return nil
	}
}

// NewCoordinator returns the coordinator of the rollout whose keys are
// under prefix (a "/" is added when it lacks one) in the cluster cli talks
// to, for the controller named controller: the name every record of a
// target it runs carries. Controllers of one rollout use the same prefix
// and different names. Nothing is read or written until
// [Coordinator.Join].
func NewCoordinator(cli *clientv3.Client, prefix, controller string, opts ...CoordinatorOption) (*Coordinator, error) {
	if cli == nil {
		return nil, errors.New("etcd: nil client")
	}
	if prefix == "" {
		return nil, errors.New("etcd: empty prefix: give the rollout its own prefix, such as /afterhours/rollouts/patch-42/")
	}
	if controller == "" {
		return nil, errors.New("etcd: empty controller name")
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	cfg := coordConfig{ttl: DefaultLeaseTTL, logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("etcd: nil option")
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Coordinator{
		cli: cli, k: keys{prefix}, controller: controller, cfg: cfg,
		subs: make(map[chan struct{}]struct{}),
		view: make(map[string]entry), held: make(map[string]held), reserved: make(map[string]bool),
		started: make(map[string]bool), txns: make(chan struct{}, maxClaimTxns),
		ctx: ctx, cancel: cancel,
	}, nil
}

// Controller returns the controller's name.
func (c *Coordinator) Controller() string { return c.controller }

// Prefix returns the rollout's prefix, with its final "/".
func (c *Coordinator) Prefix() string { return c.k.p }

// Changes implements [fleet.Coordinator.Changes]: the channel receives
// after every change under the rollout's prefix that this coordinator's
// watch sees (a target of any controller ended or was interrupted, a stop,
// the killswitch), after its own ends, and when its lease is lost. It
// stops receiving when ctx is done.
func (c *Coordinator) Changes(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	if ctx.Err() != nil {
		return ch
	}
	c.mu.Lock()
	c.subs[ch] = struct{}{}
	c.mu.Unlock()
	context.AfterFunc(ctx, func() {
		c.mu.Lock()
		delete(c.subs, ch)
		c.mu.Unlock()
	})
	return ch
}

// notify wakes every channel of Changes.
func (c *Coordinator) notify() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// Stopped implements [fleet.Coordinator.Stopped]: the killswitch
// (fleet.ErrKilled with its reason), a critical failure (fleet.ErrCritical)
// and the error budget (fleet.ErrBudgetExhausted), as this coordinator's
// watch last saw them, joined; nil while the rollout runs.
func (c *Coordinator) Stopped() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stoppedLocked()
}

func (c *Coordinator) stoppedLocked() error {
	var errs []error
	if c.killErr != nil {
		errs = append(errs, c.killErr)
	}
	if c.critErr != nil {
		errs = append(errs, c.critErr)
	}
	if n := int64(c.plan.Failures) + c.failures; c.joined && n > int64(c.plan.Budget) {
		errs = append(errs, fmt.Errorf("%w: %d failures, budget %d", fleet.ErrBudgetExhausted, n, c.plan.Budget))
	}
	return errors.Join(errs...)
}

// killedBy and criticalBy are the errors of the killswitch and of a
// critical failure, from the values of their keys.
func killedBy(reason []byte) error {
	if len(reason) == 0 {
		return fleet.ErrKilled
	}
	return fmt.Errorf("%w: %s", fleet.ErrKilled, reason)
}

func criticalBy(reason []byte) error { return fmt.Errorf("%w: %s", fleet.ErrCritical, reason) }

// Kill implements [fleet.Coordinator.Kill]: it writes the killswitch key
// unless it is there already (only the first reason is kept). The key has
// no lease: it stays until an operator deletes it, so that a controller
// that joins later stops too. Every coordinator's watch sees it within its
// latency (milliseconds on a healthy cluster).
func (c *Coordinator) Kill(ctx context.Context, reason string) error {
	octx, cancel := opCtx(ctx)
	defer cancel()
	resp, err := c.cli.Txn(octx).
		If(clientv3.Compare(clientv3.CreateRevision(c.k.kill()), "=", 0)).
		Then(clientv3.OpPut(c.k.kill(), reason)).
		Else(clientv3.OpGet(c.k.kill())).
		Commit()
	if err != nil {
		return fmt.Errorf("etcd: coordinator: kill: %w", err)
	}
	kerr := killedBy([]byte(reason))
	if !resp.Succeeded {
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
			kerr = killedBy(kvs[0].Value)
		}
	}
	c.mu.Lock()
	if c.killErr == nil {
		c.killErr = kerr
	}
	c.mu.Unlock()
	c.notify()
	return nil
}

// Close ends the coordinator's watch and revokes its lease: claims it still
// holds are released, and the other controllers record their targets
// interrupted. It does not close the client. Close again does nothing.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	s := c.session
	c.mu.Unlock()
	// The watch ends first, so that this controller does not record its
	// own targets interrupted; the others do.
	c.cancel()
	c.done.Wait()
	var err error
	if s != nil {
		err = s.Close() // revokes the lease
		c.sessionCancel()
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcd: coordinator close: %w", err)
	}
	return nil
}

// opCtx bounds one request to etcd by OpTimeout and by ctx.
func opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, OpTimeout)
}

// errClosed is returned by a Coordinator used after Close.
var errClosed = errors.New("etcd: coordinator closed")

var _ fleet.Coordinator = (*Coordinator)(nil)
