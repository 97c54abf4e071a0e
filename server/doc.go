// Package server keeps a fleet for afterhours agents: the fleet config
// ([Config]: sites, sharing tokens with their capacities, sets of tasks
// chosen by site tags, FleetLock groups), the registered clients, the bases
// [fleet.Allocate] gives them, and each client's profile, over a [Store]
// ([NewMemStore] for tests, [OpenBoltStore] for one file on disk).
//
// # Profiles
//
// A client's profile is computed from the config and its placements
// ([Config.Profile]): its site, the sharing tokens with its bases (or
// "unplaced" with the reason the allocator gave), and the sets whose
// selector matches its site's tags, merged in order. It is an ordinary
// profile that [afterhours.ParseProfile] accepts. Every config is validated
// the same way ([ParseConfig]): every problem with its path in the config.
//
// # Allocation
//
// [Fleet] places a client that joins, and the clients a leaving one lets
// in, with a [fleet.Allocator] per token kept between changes, as
// [fleet.Allocate] given the previous allocation would, so no other client
// moves; a change of the sites or of the sharing tokens re-allocates the
// tokens it touches, keeping every base that still fits, and the first
// join or leave of a new day allocates every token again for the year
// from that day.
//
// # Replicas
//
// Several servers may share one fleet on one store (etcd's, in the module
// github.com/afterhours-go/afterhours/etcd), each a [Fleet] in its own
// process. Each keeps the config and the clients in memory and follows the
// store: a generation counter that every change of them increments in its
// transaction, with a log of the clients (or the config) each generation
// changed, lets a replica reload only what changed, and lets a change
// computed from memory commit only if memory was current (else it is
// computed again on the reloaded state). Every replica thus serves the
// same profile, with the same ETag, within the store's watch latency, and
// an agent's long-poll on any replica wakes at a change made on another.
//
// One replica leads ([WithLeadership], an election): only the leader
// allocates (registering and removing clients, changing the config,
// ending a downtime) and delivers notices; a follower's [Handler]
// forwards the admin requests that allocate to the leader and answers
// 503 with Retry-After while none is known. Everything else (enrolment,
// the agents' profiles, commands and reports, notices received, the
// killswitch, FleetLock) is served by any replica, as transactions of the
// store. When each client was last heard from is kept per replica, and
// stored with its reports and acknowledgements.
//
// # HTTP
//
// [New] returns the [Handler] that serves a fleet over HTTP: the admin API
// behind bearer tokens with a [Role], and the agent's enrolment and
// profile fetch (with an ETag, and a long-poll for the next one).
//
// # Commands and reports
//
// An operator queues a command ([Fleet.Queue]) for clients by ID or by a
// selector of their sites' tags; each client's agent long-polls for its
// commands ([Fleet.WaitCommands]) and acknowledges each once it has stored
// it ([Fleet.Ack]): accepted, or refused with the reason. A command is
// delivered until acknowledged, never after, so it is delivered at least
// once and, as the agent's executor runs a command ID once, run at most
// once. Agents post a [Report] of their cycle ([Fleet.PutReport]),
// idempotent by cycle and sequence number; [Fleet.Status] and
// [Fleet.Failed] give every client's last report and the failed lists.
//
// # Notices
//
// Agents post their executors' notices (a cycle's failed list when its
// window ends, and at its end the failures that came after; a stop; a
// kill) as a [Notice], which the fleet stores once per client and ID
// ([Fleet.PutNotice]) and [Handler.Run] delivers, in order per client and
// retried with backoff, to the [Notifier] of [WithNotifier], such as a
// [Webhook]; delivery is at least once, and a receiver deduplicates by
// client and ID.
package server
