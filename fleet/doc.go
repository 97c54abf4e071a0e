// Package fleet is the server side of afterhours: what runs across many
// machines at once rather than on one. It builds on the client's own code
// (package afterhours): a window here is the one
// [afterhours.Site.Cycle] computes for the client.
//
// # Allocating slots
//
// Every client may use a shared resource, such as a package repository or
// its site's LAN, only in its daily slot: from its base time for the
// resource's duration, after a buffer zone in which it starts no
// contending work. [Allocate] hands every [Client] a base for a
// [Resource], for a year:
//
//   - the slot lies in the client's after-hours windows on every date of
//     the year, DST weeks, closed dates and grace included;
//   - no more than Resource.Capacity clients are in their slots at any
//     instant, nor more than Resource.LANCapacity of one LAN;
//   - the load spreads over all of the available time instead of piling up
//     at its start, and the result depends only on the arguments;
//   - given the previous bases, a client whose base still fits keeps it, so
//     adding or removing clients moves no other client; one that no longer
//     fits (its site's hours changed, a capacity was lowered) is placed
//     again, with [Assignment].Moved saying why;
//   - a client no base fits is listed in [Allocation].Unplaced with the
//     reason (one of the Reason constants), never silently left out.
//
// An [Allocator] holds an allocation and takes clients in and out one at
// a time ([Allocator.Place], [Allocator.Remove]), deciding as Allocate
// does and moving no other client, at a cost that does not grow with the
// fleet: what a server uses as clients register and leave.
//
// [Resource.Entry] turns a base into the sharing entry of the client's
// profile. [LoadForecast] counts, minute by minute over a UTC day, how many
// of the profiles' slots run on each resource, to show that no minute is
// over capacity.
//
// # Rollouts
//
// A [Rollout] runs an [Action] against many [Target]s (an ID, a group such
// as a cluster, and site tags), either as one step or as named phases run
// in order on each target: drain, patch, verify. [NewRollout] takes the
// targets, the phases and options:
//
//   - [WithConcurrency]: at most N targets at once, or a percentage of them.
//   - [WithGroupLimit]: at most N targets of one group at once, so that a
//     cluster keeps enough nodes up; a full group does not hold back the
//     others.
//   - [WithErrorBudget]: a budget of B tolerates B failed targets; the
//     failure that makes B+1 stops new starts, and the targets already
//     running finish.
//   - Critical phases ([Phase].Critical): a failed drain stops the whole
//     rollout at once and escalates through [WithEscalation]. No target
//     starts after it, and the running ones stop before their next phase.
//   - Retries per phase ([Phase].Retries) and a timeout per attempt; an
//     action that does not return after its timeout and a grace is
//     abandoned, and its target fails.
//   - [WithSelector]: only the targets whose site tags a [Selector]
//     matches, with the syntax of a task's tags in a profile ("retail",
//     "!kiosk").
//
// [Rollout.Kill] is the killswitch, and so is cancelling the context given
// to [Rollout.Run]: it stops new starts and cancels the context of every
// running action before it returns. Run then waits for the actions to
// return, for at most a grace ([WithKillGrace]), and abandons those that
// do not.
//
// # Several controllers
//
// One rollout may be run by several controllers (Rollouts in one process
// or in several, seed 002's controllers), each given every target, through
// a [Coordinator] ([WithCoordinator]) that holds the rollout's shared
// state: each target is claimed before it starts and its result recorded
// when it ends, so that together the controllers never run more targets
// than the concurrency or more of a group than its limit, never run a
// target twice, share one error budget, and all stop when any throws the
// killswitch. A claim refused for room waits for the coordinator's next
// change; a target another controller took is [Elsewhere] in this one's
// report. [NewMemoryCoordinator] serves the Rollouts of one process;
// [WithStatusFile] puts a durable one behind a single controller; module
// github.com/afterhours-go/afterhours/etcd has one for controllers in
// several processes, whose claims expire with a dead controller's lease.
// Package fleet/coordtest is the conformance suite they pass.
//
// # Sharing groups with FleetLock
//
// A rollout's group limit counts its own targets only. [WithGroupSemaphore]
// has each target with a group also take a slot of a [GroupSemaphore]
// shared with others before it starts, and give it back when it ends: the
// FleetLock groups of a server, which Fedora CoreOS's Zincati and the
// agent's FleetLock constraint take slots of, so that the nodes of a
// cluster rebooted by a rollout and by those together never exceed the
// group's slots. [NewFleetLockSemaphore] speaks the FleetLock protocol to
// any server of it; the server package's Fleet.GroupSemaphore is the same
// groups in process. A full group's targets wait and the others go on;
// the protocol has no watch, so a waiting group asks again on a period of
// the rollout's clock and whenever one of the rollout's targets ends.
//
// # Watching a rollout
//
// [Rollout.Status] is a cheap snapshot: the counts of targets by [Outcome],
// rate and time left. [Rollout.Subscribe] streams [Event]s; a slow
// subscriber loses events rather than slowing the rollout, and is told how
// many it lost. [Rollout.Report] has the record of every target: outcome,
// phase reached, attempts, start and end times read from the injected
// clock, error. [WithStatusFile] writes the report atomically every few
// seconds for a monitor outside the process, and [WithResume] resumes a
// stopped or crashed rollout from that file without redoing the targets it
// finished. A durable record beside the file, where each target is claimed
// before it starts and its result written when it ends, makes that exact
// after a crash: [LoadReport] reports a target that was running as
// [Interrupted], left to the operator unless its phases are
// [Phase].Idempotent, and counts every failure against the error budget.
//
// # Reports for audit
//
// A [Report] is written as JSON ([Report.WriteJSON]) or as an RFC 4180 CSV
// table ([WriteCSV]), of every target or, for a ticket, of those that need
// attention ([Report.Failed]); [ReadReport] and [ReadCSV] read them back.
// [Stats] gives counts by outcome, the success rate and duration
// percentiles.
//
// # Time
//
// Every time in records and statuses is read from the rollout's clock
// ([WithClock]), an [afterhours.Clock], so tests use fake clocks and get
// exact times. Nothing polls: targets start when others end, and only the
// status file is written, and a full group semaphore asked again
// ([WithGroupSemaphore]), on a period of the clock.
//
// # Where to start
//
// ExampleAllocate gives three shops of one LAN their bases and adds a
// fourth that moves nobody; ExampleAllocate_previous reallocates a year
// from the previous bases; ExampleAllocator places shops one at a time; ExampleLoadForecast counts a resource's load;
// ExampleRollout runs a patch across three machines with an error budget.
// "go run ./examples/rollout" patches 1,000 simulated machines with a live
// progress line.
package fleet
