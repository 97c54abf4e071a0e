// Package fanout sends events to subscribers without ever waiting for one:
// what the executor and a rollout stream through their Subscribe methods.
package fanout

// Set is a set of subscriptions. It is not safe for concurrent use: its
// owner guards it with the lock under which it makes its events, which also
// keeps every subscriber's events in order. The zero value is an empty set.
type Set[E any] struct {
	subs   map[*Sub[E]]struct{}
	closed bool
}

// Sub is one subscription.
type Sub[E any] struct {
	ch   chan E
	lost int
}

// Add subscribes with a channel that holds buf events. After Close it
// returns a closed channel.
func (s *Set[E]) Add(buf int) (<-chan E, *Sub[E]) {
	sub := &Sub[E]{ch: make(chan E, buf)}
	if s.closed {
		close(sub.ch)
		return sub.ch, sub
	}
	if s.subs == nil {
		s.subs = make(map[*Sub[E]]struct{})
	}
	s.subs[sub] = struct{}{}
	return sub.ch, sub
}

// Remove ends a subscription and closes its channel; removing one twice,
// or after Close, does nothing.
func (s *Set[E]) Remove(sub *Sub[E]) {
	if _, ok := s.subs[sub]; ok {
		delete(s.subs, sub)
		close(sub.ch)
	}
}

// Len returns how many subscriptions there are: with none, an owner can
// skip making an event.
func (s *Set[E]) Len() int { return len(s.subs) }

// Send gives e to every subscriber whose channel has room, and drops it
// for the others. Before each send, lost is called with the number of
// events that subscriber lost since its last one, to say so in the event.
func (s *Set[E]) Send(e E, lost func(e *E, n int)) {
	for sub := range s.subs {
		ev := e
		lost(&ev, sub.lost)
		select {
		case sub.ch <- ev:
			sub.lost = 0
		default:
			sub.lost++
		}
	}
}

// Close closes every subscriber's channel; later subscriptions get closed
// channels.
func (s *Set[E]) Close() {
	for sub := range s.subs {
		close(sub.ch)
	}
	s.subs, s.closed = nil, true
}
