package server

import (
	"errors"
	"fmt"
	"net/http"
)

// Leadership tells a replica whether it leads the fleet's replicas: the
// servers that share one [Store] (one etcd cluster, say), of which one,
// the leader, allocates. An election (etcd's, in the module
// github.com/afterhours-go/afterhours/etcd) implements it; without
// [WithLeadership] a fleet is its own leader.
//
// Implementations are safe for concurrent use.
type Leadership interface {
	// Leader reports whether this replica is the leader, and the
	// leader's base URL (as it advertised it) when one is known.
	Leader() (self bool, leaderURL string)
	// Changed receives a value after each change of leader.
	// [Handler.Run] calls it again after each value: an implementation
	// that several readers share may close the channel at a change and
	// return a new one from the next call, so that each reader wakes.
	Changed() <-chan struct{}
}

// WithLeadership makes the fleet one replica of several on one store, l
// telling it whether it leads them. On a follower, the changes that
// allocate ([Fleet.Register], [Fleet.SetConfig], [Fleet.PutSet],
// [Fleet.PutSite], [Fleet.Remove], [Fleet.EndDowntime]) fail with
// [ErrNotLeader], the [Handler] forwards the admin requests that make them
// to the leader's URL, and [Handler.Run] delivers no notices; every other
// change (enrolment, commands and their acknowledgements, reports,
// notices, the killswitch, FleetLock) runs on any replica. A nil l is an
// error.
func WithLeadership(l Leadership) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("server: WithLeadership(nil)")
		}
		o.leadership = l
		return nil
	}
}

// WithForwardTransport sets the transport a follower's [Handler] forwards
// admin requests to the leader with (default: [http.DefaultTransport]),
// for a leader served over TLS with a private certificate authority, say.
// A nil transport is an error.
func WithForwardTransport(rt http.RoundTripper) Option {
	return func(o *options) error {
		if rt == nil {
			return errors.New("server: WithForwardTransport(nil)")
		}
		o.forward = rt
		return nil
	}
}

// selfLeader is the leadership of a fleet without [WithLeadership]: it
// leads, alone, for ever.
type selfLeader struct{}

func (selfLeader) Leader() (bool, string)   { return true, "" }
func (selfLeader) Changed() <-chan struct{} { return nil }

// Leader reports whether this replica leads the fleet's replicas (always,
// without [WithLeadership]), and the leader's URL when one is known.
func (f *Fleet) Leader() (self bool, leaderURL string) { return f.lead.Leader() }

// leading returns nil when this replica leads, else an error wrapping
// [ErrNotLeader] that names the leader.
func (f *Fleet) leading() error {
	self, url := f.lead.Leader()
	switch {
	case self:
		return nil
	case url == "":
		return fmt.Errorf("%w: no leader is known", ErrNotLeader)
	default:
		return fmt.Errorf("%w: the leader is %s", ErrNotLeader, url)
	}
}
