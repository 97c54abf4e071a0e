package server

import (
	"context"
	"sync"
	"time"
)

// followRetry is how long, on the fleet's clock, a replica waits to read
// the store again after failing to catch up with it.
const followRetry = time.Second

// follow keeps memory at the store's generation, catching up each time
// the watch of the generation key reports a change, until the watch ends
// (the fleet or the store closed).
func (f *Fleet) follow(ctx context.Context, changes <-chan []string) {
	defer close(f.done)
	for range changes {
		for {
			err := f.catchUpNow()
			if err == nil {
				break
			}
			// The store failed (etcd unreachable, say): read it again
			// after a while, or at its next change.
			select {
			case _, ok := <-changes:
				if !ok {
					return
				}
			case <-f.clk.After(followRetry):
			case <-ctx.Done():
				return
			}
		}
	}
}

// Close stops the fleet following its store (see [OpenFleet]) and waits
// for it; it does not close the store, which is the caller's (closing the
// store stops the following too). Calls after the first do nothing. The
// fleet's reads and changes go on working after Close, but no longer see
// what other replicas change until a change of its own finds the store
// moved on.
func (f *Fleet) Close() error {
	f.stop()
	<-f.done
	return nil
}

// Close closes the handler's fleet ([Fleet.Close]).
func (h *Handler) Close() error { return h.fleet.Close() }

// bell wakes the long-polls of [Fleet.WaitProfile] and
// [Fleet.WaitClientKill] when memory changes: those of the clients whose
// records changed, or all of them when the config did. Its zero value is
// ready; it is safe for concurrent use.
type bell struct {
	mu    sync.Mutex
	all   chan struct{}
	ids   map[string]chan struct{}
	moved chan struct{} // closed at any change
}

// changed returns a channel closed at the next change of memory.
func (b *bell) changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.moved == nil {
		b.moved = make(chan struct{})
	}
	return b.moved
}

// wait returns the channels closed at the next change of the config, or
// of the client's record.
func (b *bell) wait(id string) (all, one <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.all == nil {
		b.all = make(chan struct{})
	}
	if b.ids == nil {
		b.ids = map[string]chan struct{}{}
	}
	ch := b.ids[id]
	if ch == nil {
		ch = make(chan struct{})
		b.ids[id] = ch
	}
	return b.all, ch
}

// ring wakes the waits of the clients, or all of them.
func (b *bell) ring(ids []string, all bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.moved != nil {
		close(b.moved)
		b.moved = nil
	}
	if all {
		if b.all != nil {
			close(b.all)
			b.all = nil
		}
		for id, ch := range b.ids {
			close(ch)
			delete(b.ids, id)
		}
		return
	}
	for _, id := range ids {
		if ch := b.ids[id]; ch != nil {
			close(ch)
			delete(b.ids, id)
		}
	}
}
