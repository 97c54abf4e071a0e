package server

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Store is where a [Fleet] keeps its state: keys and values under atomic,
// durable transactions, and a watch for changes. It is small enough for a
// store over etcd (transactions on the revision read, watches) as well as
// the embedded ones: [NewMemStore] and [OpenBoltStore].
//
// Implementations are safe for concurrent use.
type Store interface {
	// View runs f in a read-only transaction: a consistent view of the
	// store, in which Put and Delete fail with [ErrReadOnly].
	View(f func(Tx) error) error
	// Update runs f in a read-write transaction, one at a time. When f
	// returns nil, all of its changes are committed at once, durably,
	// before Update returns; when f returns an error, or Update fails,
	// none of them is, and Update returns that error.
	Update(f func(Tx) error) error
	// Watch reports the keys under prefix that committed transactions
	// change, from the call on, until ctx is done, when the channel is
	// closed. Each value lists the keys (sorted, each once) that one or
	// more transactions changed since the previous value: a slow reader
	// gets them merged, never lost.
	Watch(ctx context.Context, prefix string) <-chan []string
	// Close releases the store; transactions after it fail with
	// [ErrClosed], and watches end.
	Close() error
}

// Tx is a transaction of a [Store]. It is valid only inside the function
// given to View or Update, and is not safe for concurrent use.
type Tx interface {
	// Get returns the value of key, or nil when it has none. The slice
	// is the caller's.
	Get(key string) ([]byte, error)
	// Put sets key's value (not nil: an empty value is stored empty).
	Put(key string, value []byte) error
	// Delete removes key; deleting a missing key is no error.
	Delete(key string) error
	// Scan calls f with each key under prefix and its value, in key
	// order, as the transaction sees them, until f returns an error,
	// which Scan returns. The value is valid only during the call.
	Scan(prefix string, f func(key string, value []byte) error) error
}

// watchers delivers the keys each commit changed to the watches: the part
// of a Store that both embedded ones share.
type watchers struct {
	mu     sync.Mutex
	list   map[*watcher]struct{}
	closed bool
}

type watcher struct {
	prefix  string
	mu      sync.Mutex
	pending map[string]struct{}
	wake    chan struct{} // capacity 1: pending has keys
}

// watch starts a watch; see [Store.Watch].
func (ws *watchers) watch(ctx context.Context, prefix string) <-chan []string {
	out := make(chan []string)
	w := &watcher{prefix: prefix, pending: map[string]struct{}{}, wake: make(chan struct{}, 1)}
	ws.mu.Lock()
	if ws.closed {
		ws.mu.Unlock()
		close(out)
		return out
	}
	if ws.list == nil {
		ws.list = map[*watcher]struct{}{}
	}
	ws.list[w] = struct{}{}
	ws.mu.Unlock()
	go func() {
		defer close(out)
		defer func() {
			ws.mu.Lock()
			delete(ws.list, w)
			ws.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-w.wake:
				if !ok {
					return
				}
			}
			w.mu.Lock()
			keys := make([]string, 0, len(w.pending))
			for k := range w.pending {
				keys = append(keys, k)
			}
			clear(w.pending)
			w.mu.Unlock()
			if len(keys) == 0 {
				continue
			}
			slices.Sort(keys)
			select {
			case out <- keys:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// notify tells the watches of the keys a commit changed.
func (ws *watchers) notify(keys []string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for w := range ws.list {
		added := false
		w.mu.Lock()
		for _, k := range keys {
			if strings.HasPrefix(k, w.prefix) {
				w.pending[k] = struct{}{}
				added = true
			}
		}
		w.mu.Unlock()
		if added {
			select {
			case w.wake <- struct{}{}:
			default: // already woken: it takes these keys too
			}
		}
	}
}

// close ends every watch.
func (ws *watchers) close() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.closed = true
	for w := range ws.list {
		close(w.wake)
		delete(ws.list, w)
	}
}
