package server

import (
	"context"
	"errors"

	"github.com/afterhours-go/afterhours/fleet"
)

// GroupSemaphore returns the fleet's FleetLock groups as a
// [fleet.GroupSemaphore], in process, for a rollout run beside the server
// ([fleet.WithGroupSemaphore]): a rollout's targets and the clients that
// speak the FleetLock protocol to the server (Zincati, the agent's
// FleetLock constraint) then take slots of the same groups, and together
// never hold more than a group's slots.
//
// Acquire is [Fleet.FleetLockLock]: true when id holds a slot, false when
// the group is full ([ErrSemaphoreFull]), and its other errors as they
// come (a group the config lacks, FleetLock off). Release is
// [Fleet.FleetLockUnlock]. The contexts are not consulted: each call is
// one store transaction. It is safe for concurrent use.
func (f *Fleet) GroupSemaphore() fleet.GroupSemaphore { return fleetSemaphore{f} }

// fleetSemaphore is a Fleet's FleetLock groups as a fleet.GroupSemaphore.
type fleetSemaphore struct{ f *Fleet }

func (s fleetSemaphore) Acquire(_ context.Context, group, id string) (bool, error) {
	err := s.f.FleetLockLock(group, id)
	if errors.Is(err, ErrSemaphoreFull) {
		return false, nil
	}
	return err == nil, err
}

func (s fleetSemaphore) Release(_ context.Context, group, id string) error {
	return s.f.FleetLockUnlock(group, id)
}
