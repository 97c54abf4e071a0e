package server

import "errors"

// ErrNoClient is returned for a client ID the fleet does not have.
var ErrNoClient = errors.New("server: no such client")

// ErrBadClient is returned by [Fleet.Register] for a client whose ID, site
// or LAN is not acceptable; the error says which and why.
var ErrBadClient = errors.New("server: invalid client")

// ErrBadCode is returned by [Fleet.Enroll] for an enrolment code that is
// unknown or already used.
var ErrBadCode = errors.New("server: unknown or used enrolment code")

// ErrBadToken is returned by [Fleet.Authenticate] for a client token that is
// unknown (never issued, or its client removed).
var ErrBadToken = errors.New("server: unknown client token")

// ErrReadOnly is returned by [Tx.Put] and [Tx.Delete] in a transaction of
// [Store.View].
var ErrReadOnly = errors.New("server: read-only transaction")

// ErrClosed is returned by a [Store] used after Close.
var ErrClosed = errors.New("server: store closed")

// ErrBadAdminToken is returned by [New] for an admin token given with
// [WithAdminToken] that is too short or has an unknown role.
var ErrBadAdminToken = errors.New("server: invalid admin token")

// ErrNoCommand is returned for a command ID a client does not have.
var ErrNoCommand = errors.New("server: no such command")

// ErrConflict is returned for a change that contradicts what is stored: a
// command ID queued before with another command, or an acknowledgement
// whose result differs from the first one.
var ErrConflict = errors.New("server: conflicts with what is stored")

// ErrSemaphoreFull is returned by [Fleet.FleetLockLock] when every slot of
// the group is held by other clients.
var ErrSemaphoreFull = errors.New("server: fleetlock semaphore full")

// ErrFleetLockOff is returned by the FleetLock methods when the config has
// no "fleetlock" groups: the protocol is off.
var ErrFleetLockOff = errors.New("server: fleetlock is off: the config has no fleetlock groups")

// ErrFleetLockGroup is returned for a FleetLock group the config lacks.
var ErrFleetLockGroup = errors.New("server: no such fleetlock group")

// ErrFleetLockRequest is returned for a malformed FleetLock group or id.
var ErrFleetLockRequest = errors.New("server: bad fleetlock request")

// ErrNoResource is returned by [Fleet.EndDowntime] for a resource no set
// declares, a set that does not declare it, or a downtime index it lacks.
var ErrNoResource = errors.New("server: no such resource or downtime")

// ErrAmbiguousResource is returned by [Fleet.EndDowntime] when no set is
// named and several sets declare the resource; the error names them.
var ErrAmbiguousResource = errors.New("server: resource declared by several sets")

// ErrNotRunning is returned by [Fleet.EndDowntime] when no occurrence of the
// downtime is running now at any site it affects.
var ErrNotRunning = errors.New("server: downtime not running now")

// ErrWebhookStatus is returned by [Webhook.Notify] when the receiver
// answers other than 2xx.
var ErrWebhookStatus = errors.New("server: webhook answered other than 2xx")

// ErrNotLeader is returned by the changes that allocate ([Fleet.Register],
// [Fleet.SetConfig], [Fleet.PutSet], [Fleet.PutSite], [Fleet.Remove],
// [Fleet.EndDowntime]) on a replica that does not lead (see
// [WithLeadership]); the error names the leader when one is known.
var ErrNotLeader = errors.New("server: this replica is not the leader")

// ErrContended is returned by a change of the fleet that other replicas'
// changes kept making stale: each of its attempts found that the store had
// changed since the fleet last read it. Trying again later may succeed.
var ErrContended = errors.New("server: the fleet kept changing on other replicas")
