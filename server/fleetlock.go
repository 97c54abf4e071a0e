package server

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"
)

// FleetLockHolder is a client holding a slot of a FleetLock group.
type FleetLockHolder struct {
	ID    string    `json:"id"`
	Since time.Time `json:"since"`
}

// FleetLockGroup is a FleetLock group's state.
type FleetLockGroup struct {
	Group   string            `json:"group"`
	Slots   int               `json:"slots"`
	Holders []FleetLockHolder `json:"holders"`
}

const fleetlockPrefix = "fleetlock/" // "fleetlock/<group>": {"holders": [...]}

// fleetlockID is what a FleetLock client id may be: non-empty, printable,
// at most 256 bytes (Zincati sends a machine's app-specific id).
var fleetlockID = regexp.MustCompile(`^[\x21-\x7e]{1,256}$`)

type fleetlockState struct {
	Holders []FleetLockHolder `json:"holders"`
}

func readFleetLock(tx Tx, group string) (fleetlockState, error) {
	var st fleetlockState
	data, err := tx.Get(fleetlockPrefix + group)
	if err != nil || data == nil {
		return st, err
	}
	err = json.Unmarshal(data, &st)
	return st, err
}

func writeFleetLock(tx Tx, group string, st fleetlockState) error {
	if len(st.Holders) == 0 {
		return tx.Delete(fleetlockPrefix + group)
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return tx.Put(fleetlockPrefix+group, data)
}

// checkFleetLock checks a request's group and id against the config.
func (f *Fleet) checkFleetLock(group, id string) (slots int, err error) {
	if !groupName.MatchString(group) {
		return 0, fmt.Errorf("%w: group %q: want letters, digits, '.' and '-'", ErrFleetLockRequest, group)
	}
	if !fleetlockID.MatchString(id) {
		return 0, fmt.Errorf("%w: id %q: want 1 to 256 printable ASCII characters", ErrFleetLockRequest, id)
	}
	groups := f.Config().FleetLock()
	if groups == nil {
		return 0, ErrFleetLockOff
	}
	slots, ok := groups[group]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrFleetLockGroup, group)
	}
	return slots, nil
}

// FleetLockLock takes a slot of group for the client id (RecursiveLock):
// nil when id holds one, already or now; an error wrapping
// [ErrSemaphoreFull] when every slot is held by others, [ErrFleetLockOff]
// when the config has no FleetLock groups, [ErrFleetLockGroup] for a group
// it lacks, [ErrFleetLockRequest] for a malformed group or id.
//
// A FleetLock group is a counting semaphore with owned, recursive locks, as
// the FleetLock protocol that Fedora CoreOS's Zincati speaks defines them:
// a client takes a slot of its group before it reboots and releases it
// once it is back in a steady state. The config's "fleetlock" section
// gives each group's slots.
//
// The rules:
//   - a client that holds a slot of its group takes it again at no cost
//     (recursive); a client takes a free slot; when every slot is held,
//     the lock fails with ErrSemaphoreFull and the client tries again
//     later (Zincati does, every few minutes);
//   - releasing a slot the client does not hold succeeds and changes
//     nothing (UnlockIfHeld), as a client releases at start whatever it
//     may hold;
//   - a config change that lowers a group's slots does not take slots from
//     their holders: no one new takes a slot until the holders are fewer
//     than the slots; a group removed from the config keeps its holders
//     listed until each releases or an operator releases them
//     ([Fleet.FleetLockRelease], for a machine that died holding a slot).
//
// Holders are kept in the store, one key per group, and every change is
// one transaction, so that several server replicas on one store never
// give a group more holders than its slots.
//
// Rollouts share these groups through [Fleet.GroupSemaphore] (in process)
// or fleet.NewFleetLockSemaphore (over the protocol), with
// fleet.WithGroupSemaphore.
func (f *Fleet) FleetLockLock(group, id string) error {
	slots, err := f.checkFleetLock(group, id)
	if err != nil {
		return err
	}
	now := f.clk.Now().UTC()
	return f.store.Update(func(tx Tx) error {
		st, err := readFleetLock(tx, group)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(st.Holders, func(h FleetLockHolder) bool { return h.ID == id }) {
			return nil
		}
		if len(st.Holders) >= slots {
			return fmt.Errorf("%w: group %q has %d slots, all held", ErrSemaphoreFull, group, slots)
		}
		st.Holders = append(st.Holders, FleetLockHolder{ID: id, Since: now})
		return writeFleetLock(tx, group, st)
	})
}

// FleetLockUnlock releases the slot of group that the client id holds, if
// it holds one (UnlockIfHeld); errors as [Fleet.FleetLockLock]'s, but
// never ErrSemaphoreFull.
func (f *Fleet) FleetLockUnlock(group, id string) error {
	if _, err := f.checkFleetLock(group, id); err != nil {
		return err
	}
	return f.FleetLockRelease(group, id)
}

// FleetLockRelease releases id's slot of group, whatever the config says
// of the group: what an operator does for a machine that died holding a
// slot. Releasing a slot no one holds is no error.
func (f *Fleet) FleetLockRelease(group, id string) error {
	return f.store.Update(func(tx Tx) error {
		st, err := readFleetLock(tx, group)
		if err != nil {
			return err
		}
		n := len(st.Holders)
		st.Holders = slices.DeleteFunc(st.Holders, func(h FleetLockHolder) bool { return h.ID == id })
		if len(st.Holders) == n {
			return nil
		}
		return writeFleetLock(tx, group, st)
	})
}

// FleetLock returns every group of the config, and every group that still
// has holders, sorted by name; Slots is 0 for a group the config no longer
// has.
func (f *Fleet) FleetLock() ([]FleetLockGroup, error) {
	groups := f.Config().FleetLock()
	byName := map[string]*FleetLockGroup{}
	for g, n := range groups {
		byName[g] = &FleetLockGroup{Group: g, Slots: n, Holders: []FleetLockHolder{}}
	}
	err := f.store.View(func(tx Tx) error {
		return tx.Scan(fleetlockPrefix, func(key string, value []byte) error {
			var st fleetlockState
			if err := json.Unmarshal(value, &st); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			g := key[len(fleetlockPrefix):]
			if byName[g] == nil {
				byName[g] = &FleetLockGroup{Group: g}
			}
			byName[g].Holders = st.Holders
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]FleetLockGroup, 0, len(byName))
	for _, g := range byName {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b FleetLockGroup) int {
		switch {
		case a.Group < b.Group:
			return -1
		case a.Group > b.Group:
			return 1
		}
		return 0
	})
	return out, nil
}
