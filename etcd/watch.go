package etcd

import (
	"context"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Watch implements [server.Store]: see [Store] for what it reports.
func (s *Store) Watch(ctx context.Context, prefix string) <-chan []string {
	out := make(chan []string)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(out)
		return out
	}
	s.watches.Add(1)
	s.mu.Unlock()
	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	// The revision to follow from is read now, so that a change committed
	// after Watch returns is reported.
	rev, err := s.currentRevision(wctx)
	w := &watch{s: s, out: out, prefix: prefix, pending: map[string]struct{}{}}
	go func() {
		defer s.watches.Done()
		defer close(out)
		defer stop()
		defer cancel()
		if err != nil {
			// Not known from when to follow: everything may have changed.
			if rev, err = w.resync(wctx); err != nil {
				return
			}
		}
		w.run(wctx, rev)
	}()
	return out
}

type watch struct {
	s       *Store
	out     chan<- []string
	prefix  string
	pending map[string]struct{}
}

// run follows the prefix from revision rev+1 until ctx is done.
func (w *watch) run(ctx context.Context, rev int64) {
	key := w.s.data + w.prefix
	for ctx.Err() == nil {
		events := w.s.cli.Watch(clientv3.WithRequireLeader(ctx), key, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for resp := range w.drain(ctx, events) {
			if resp.Canceled || resp.CompactRevision != 0 || resp.Err() != nil {
				break
			}
			for _, ev := range resp.Events {
				w.pending[strings.TrimPrefix(string(ev.Kv.Key), w.s.data)] = struct{}{}
			}
			rev = resp.Header.Revision
		}
		if ctx.Err() != nil {
			return
		}
		// The watch ended (compacted, no leader, a broken stream): follow
		// again from now, and report every key, since what changed in
		// between is not known.
		var err error
		if rev, err = w.resync(ctx); err != nil {
			return
		}
	}
}

// drain yields the watch's responses while sending the pending keys to the
// reader whenever it is ready, merged between sends; it ends when the
// watch's channel closes or ctx is done.
func (w *watch) drain(ctx context.Context, events clientv3.WatchChan) func(func(clientv3.WatchResponse) bool) {
	return func(yield func(clientv3.WatchResponse) bool) {
		for {
			var send chan<- []string
			var keys []string
			if len(w.pending) > 0 {
				send = w.out
				keys = make([]string, 0, len(w.pending))
				for k := range w.pending {
					keys = append(keys, k)
				}
				slices.Sort(keys)
			}
			select {
			case <-ctx.Done():
				return
			case send <- keys:
				clear(w.pending)
			case resp, ok := <-events:
				if !ok || !yield(resp) {
					return
				}
			}
		}
	}
}

// resync reads the current revision and marks every key under the prefix
// as changed, retrying while etcd cannot be reached, until ctx is done.
func (w *watch) resync(ctx context.Context) (int64, error) {
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		rev, keys, err := w.s.keysAt(ctx, w.prefix)
		if err == nil {
			for _, k := range keys {
				w.pending[k] = struct{}{}
			}
			return rev, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// currentRevision returns the cluster's revision.
func (s *Store) currentRevision(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, OpTimeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.rev)
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// keysAt returns the current revision and the keys under prefix then.
func (s *Store) keysAt(ctx context.Context, prefix string) (int64, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, OpTimeout)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.data+prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return 0, nil, err
	}
	keys := make([]string, len(resp.Kvs))
	for i, kv := range resp.Kvs {
		keys[i] = strings.TrimPrefix(string(kv.Key), s.data)
	}
	return resp.Header.Revision, keys, nil
}
