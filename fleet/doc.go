// Package fleet is the server side of afterhours: what runs across many
// machines at once rather than on one.
//
// [Allocate], which hands every client a base time for a shared resource,
// and [LoadForecast], which shows a resource's concurrency minute by
// minute, are in this package too; the rest of this page is about
// [Rollout], which runs a change across a fleet, such as a patch run of a
// thousand machines with a killswitch.
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
// status file is written on a period of the clock.
package fleet
