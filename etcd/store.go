package etcd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours/server"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Store is a [server.Store] on etcd: the fleet server's keys under one
// prefix of an etcd cluster, so that several server replicas share one
// fleet and the fleet survives the loss of a replica (and, with a cluster
// of three or five etcd members, of a member).
//
// # Transactions
//
// A View reads a snapshot: every read of the transaction is at the
// revision of its first read. An Update reads the same way and commits its
// writes in one etcd transaction conditioned on the revision it read: the
// store keeps a revision key under the prefix that every commit rewrites,
// and a commit succeeds only if that key has not changed since the
// transaction's first read. When another replica committed in between, the
// Update's function runs again on a new snapshot (up to [MaxAttempts]
// times; then Update fails with [ErrContention]), so the function must
// have no effect outside the transaction until Update returns, as with
// etcd's software transactional memory. Updates of one Store are also
// serialised in the process, so that replicas, not goroutines, contend.
//
// etcd bounds a transaction: by default 128 operations (--max-txn-ops) and
// 1.5 MiB per request (--max-request-bytes). An Update that writes more
// fails with etcd's error and commits nothing; run etcd with limits that fit
// the largest change of the fleet (a re-allocation writes one key per
// client that moves).
//
// # Watches
//
// Watch follows the prefix with an etcd watch from the revision current
// when it is called, so that every replica sees every committed change,
// its own and the others', within the watch's latency. A watch that etcd
// cancels (the revision was compacted) is restarted from the current
// revision and reports every key under the prefix as changed, since what
// changed in between is unknown.
//
// A Store is safe for concurrent use. Close ends its watches; it does not
// close the etcd client, which the caller owns.
type Store struct {
	cli    *clientv3.Client
	prefix string // ends with "/"
	rev    string // the revision key: prefix + "rev"
	data   string // prefix + "k/": the keys of the server live under it

	update sync.Mutex // one Update at a time in this process

	mu      sync.Mutex
	closed  bool
	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	watches sync.WaitGroup
}

// MaxAttempts is how many times an Update's function runs when other
// replicas keep committing in between; between attempts, it waits a random
// while of up to 2 ms, 4 ms, ... 200 ms.
const MaxAttempts = 32

// ErrContention is returned by [Store.Update] when every attempt found
// that another replica had committed since it read.
var ErrContention = errors.New("etcd: transaction conflicted with others on every attempt")

// OpTimeout bounds each request a [Store] makes to etcd.
const OpTimeout = 10 * time.Second

// NewStore returns the store of the keys under prefix (for example
// "/afterhours/fleet-1/"; a "/" is added when it lacks one) in the
// cluster cli talks to. Servers that share a fleet use the same prefix.
func NewStore(cli *clientv3.Client, prefix string) (*Store, error) {
	if cli == nil {
		return nil, errors.New("etcd: nil client")
	}
	if prefix == "" {
		return nil, errors.New("etcd: empty prefix: give the fleet its own prefix, such as /afterhours/")
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Store{cli: cli, prefix: prefix, rev: prefix + "rev", data: prefix + "k/", ctx: ctx, cancel: cancel}, nil
}

// Prefix returns the store's prefix, with its final "/".
func (s *Store) Prefix() string { return s.prefix }

// View implements [server.Store].
func (s *Store) View(f func(server.Tx) error) error {
	if err := s.live(); err != nil {
		return err
	}
	tx := &tx{s: s, readOnly: true}
	return f(tx)
}

// Update implements [server.Store]; see [Store] for how it commits.
func (s *Store) Update(f func(server.Tx) error) error {
	s.update.Lock()
	defer s.update.Unlock()
	for attempt := range MaxAttempts {
		if attempt > 0 {
			// Another replica committed since this attempt read: wait a
			// random while, up to twice as long each time, so that replicas
			// that collide do not collide again in step.
			select {
			case <-time.After(time.Duration(rand.Int64N(int64(min(time.Millisecond<<attempt, 200*time.Millisecond))))):
			case <-s.ctx.Done():
				return server.ErrClosed
			}
		}
		if err := s.live(); err != nil {
			return err
		}
		t := &tx{s: s, writes: map[string]*[]byte{}}
		if err := f(t); err != nil {
			return err
		}
		if err := t.start(); err != nil { // a transaction that read nothing
			return err
		}
		ok, err := t.commit()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return ErrContention
}

// live returns ErrClosed once the store is closed.
func (s *Store) live() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return server.ErrClosed
	}
	return nil
}

// opCtx is the context of one request.
func (s *Store) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ctx, OpTimeout)
}

// Close implements [server.Store]: it ends the watches and makes later
// transactions fail with [server.ErrClosed]. The client stays open.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.watches.Wait()
	return nil
}

// tx is a transaction of a Store: reads at one revision, writes buffered
// until the commit.
type tx struct {
	s        *Store
	readOnly bool
	started  bool
	revision int64 // of the snapshot read
	revMod   int64 // mod revision of the revision key then (0: none yet)
	writes   map[string]*[]byte
}

// start fixes the snapshot: the current revision, and the revision key's.
func (t *tx) start() error {
	if t.started {
		return nil
	}
	ctx, cancel := t.s.opCtx()
	defer cancel()
	resp, err := t.s.cli.Get(ctx, t.s.rev)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	t.started, t.revision = true, resp.Header.Revision
	if len(resp.Kvs) > 0 {
		t.revMod = resp.Kvs[0].ModRevision
	}
	return nil
}

func (t *tx) Get(key string) ([]byte, error) {
	if w, ok := t.writes[key]; ok {
		if w == nil {
			return nil, nil
		}
		return slices.Clone(*w), nil
	}
	if err := t.start(); err != nil {
		return nil, err
	}
	ctx, cancel := t.s.opCtx()
	defer cancel()
	resp, err := t.s.cli.Get(ctx, t.s.data+key, clientv3.WithRev(t.revision))
	if err != nil {
		return nil, fmt.Errorf("etcd: get %s: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	v := resp.Kvs[0].Value
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

func (t *tx) Put(key string, value []byte) error {
	if t.readOnly {
		return server.ErrReadOnly
	}
	if value == nil {
		value = []byte{}
	}
	v := slices.Clone(value)
	t.writes[key] = &v
	return nil
}

func (t *tx) Delete(key string) error {
	if t.readOnly {
		return server.ErrReadOnly
	}
	t.writes[key] = nil
	return nil
}

// scanPage is how many keys a Scan reads per request.
const scanPage = 1000

func (t *tx) Scan(prefix string, f func(key string, value []byte) error) error {
	if err := t.start(); err != nil {
		return err
	}
	// The transaction's own writes under prefix, in key order, merged with
	// the snapshot's keys: a write stands for the snapshot's value.
	var own []string
	for k := range t.writes {
		if strings.HasPrefix(k, prefix) {
			own = append(own, k)
		}
	}
	slices.Sort(own)
	i := 0
	emitOwnBefore := func(k string, all bool) error {
		for ; i < len(own) && (all || own[i] < k); i++ {
			if w := t.writes[own[i]]; w != nil {
				if err := f(own[i], *w); err != nil {
					return err
				}
			}
		}
		return nil
	}
	from := t.s.data + prefix
	end := clientv3.GetPrefixRangeEnd(t.s.data + prefix)
	for {
		ctx, cancel := t.s.opCtx()
		resp, err := t.s.cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithRev(t.revision),
			clientv3.WithLimit(scanPage), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		cancel()
		if err != nil {
			return fmt.Errorf("etcd: scan %s: %w", prefix, err)
		}
		for _, kv := range resp.Kvs {
			k := strings.TrimPrefix(string(kv.Key), t.s.data)
			if err := emitOwnBefore(k, false); err != nil {
				return err
			}
			if i < len(own) && own[i] == k { // written in the transaction
				i++
				if w := t.writes[k]; w != nil {
					if err := f(k, *w); err != nil {
						return err
					}
				}
				continue
			}
			v := kv.Value
			if v == nil {
				v = []byte{}
			}
			if err := f(k, v); err != nil {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	return emitOwnBefore("", true)
}

// commit writes the transaction's changes if no other commit came since
// its snapshot; it reports whether it did.
func (t *tx) commit() (bool, error) {
	if len(t.writes) == 0 {
		return true, nil
	}
	keys := make([]string, 0, len(t.writes))
	for k := range t.writes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	ops := make([]clientv3.Op, 0, len(keys)+1)
	for _, k := range keys {
		if w := t.writes[k]; w != nil {
			ops = append(ops, clientv3.OpPut(t.s.data+k, string(*w)))
		} else {
			ops = append(ops, clientv3.OpDelete(t.s.data+k))
		}
	}
	ops = append(ops, clientv3.OpPut(t.s.rev, ""))
	ctx, cancel := t.s.opCtx()
	defer cancel()
	resp, err := t.s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(t.s.rev), "=", t.revMod)).
		Then(ops...).
		Commit()
	if err != nil {
		return false, fmt.Errorf("etcd: commit: %w", err)
	}
	return resp.Succeeded, nil
}
