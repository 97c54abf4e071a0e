package etcd

import "errors"

// Every exported sentinel error of the package, besides [ErrContention]
// of the [Store]. A [Coordinator] returns the sentinels of package fleet
// (fleet.ErrTaken, fleet.ErrNoRoom, ...) as the [fleet.Coordinator]
// contract says, and these for what is particular to etcd.
var (
	// ErrLeaseLost is returned by a [Coordinator] whose controller's lease
	// expired (its keep-alives failed for longer than the TTL, as in a
	// partition): etcd deleted its claims, the other controllers record its
	// running targets interrupted, and it claims nothing more. Mark and End
	// of a target whose claim expired wrap it with fleet.ErrNotClaimed.
	ErrLeaseLost = errors.New("etcd: coordinator lease lost")
)
