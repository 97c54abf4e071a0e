// Package afterhours plans maintenance on the machines of a fleet without
// disturbing the people who use them.
//
// A fleet agent (the client) gives it a [Profile]: its site's time zone,
// business hours and closed dates, its sharing profile (the daily slots in
// which it may use shared resources such as a package repository or the site
// LAN), and its tasks: recurring housekeeping, one-off software updates, and
// the update of the agent itself. [BuildPlan] turns a profile and a clock into
// a [Plan] for the coming night.
//
// # Cycles and windows
//
// Every site-local date D has a cycle. It starts at D's anchor: the end of the
// business period that holds D's last business interval, plus the site's
// grace (D 00:00 when D has no business hours), and it runs to D+1's anchor,
// so cycles partition time. The cycle's after-hours window runs from the anchor
// to the next business instant. Business hours are sacred: no housekeeping,
// update or self-update runs inside them. [Site] computes all of this, DST
// days included: [Site.Cycle] and [Site.CycleAt] give a date's or an
// instant's cycle and window, for a status page that says when the next
// window opens or a test that checks a run against its window; the fleet
// side (package fleet, the server) uses the same code.
//
// # Slots, buffer zones and holds
//
// A sharing token names a shared resource. On each date of its zone (UTC for
// fleet-wide resources, the site's zone for local ones) its slot runs from its
// base time for its duration, preceded by a buffer zone; buffer and slot are
// the hold. Shared tasks run in the slot; no work that contends with the token
// may start or run in the hold, so that an overrun ends before the slot.
// Thousands of clients with different base times never hit one repository at
// the same minute.
//
// # The sequence
//
// Housekeeping runs first, then pending updates, then the self-update, last
// and alone, with a barrier between the phases. Steps are placed in declared
// order at the earliest instant where a lane is free ([Profile].Parallel), no
// contending step runs, and the whole projected run avoids contending holds
// and ends by the window's end. Two tasks contend unless both declare the
// resources they use and the sets are disjoint: unknown means contention.
//
// # Recurrence and timers
//
// Housekeeping with neither a schedule nor a repeat is due in every cycle.
// With a cron schedule ("0 3 * * 0", "@weekly") or a repeat from an absolute
// start ("daily", "quarter-hourly", ...) it is due in the cycles whose span
// holds an occurrence, and deferred as "not-due" in the others, with the time
// it is next due. Timers run at their exact times outside the sequence; a
// plan lists the ones of its cycle. [Profile.Occurrences] previews the next
// times; [Profile.Crontab] and [Profile.OnCalendar] export a recurrence to the
// OS scheduler where it can be expressed exactly.
//
// # Downtimes
//
// A [Resource] has downtime calendars: dates or weekdays, local times or the
// whole day, and an action for the steps and slot tasks that use it:
// suppress, skip, postpone, anticipate, hold or stop (see the Action
// constants). A plan lists the downtimes touching its window, and
// [AffectedReport] lists, for a horizon, every task each downtime affects.
//
// # Deferrals
//
// Nothing is silently dropped. Every task of the profile is in the plan, as a
// [Step] or as a [Deferral] with a reason a program can match ("not-due",
// "window-full", "disabled", "tag-mismatch", "business-hours", "done",
// "failed", "stopped", "updates-pending", "no-slot", "downtime:<resource>")
// and a detail for people.
//
// # A worked example
//
// A shop in Europe/London is open 08:00-18:00 on weekdays, with a grace of
// 30 minutes, and has a pkg-repo token at 01:40 UTC for 20 minutes with a
// 10-minute buffer. Planned at noon on Monday 23 November 2026, its cycle is
// that Monday's: the window runs from 18:30 to 08:00 on Tuesday. The pkg-repo
// hold is 01:30-02:00. Housekeeping runs from 18:30; an update of 40 minutes
// that would reach 01:30 waits until the slot ends at 02:00, and the
// self-update follows at 02:40. [ExampleBuildPlan] shows this plan.
//
// # Running plans
//
// An [Executor] runs a profile's plans cycle after cycle against a [Clock]:
// steps in their windows, slot tasks in their slots, timers at their times,
// and the [Command] values operators [Executor.Submit]. It sleeps until the
// next thing it has to do, checks [Constraint] values (business hours, load,
// memory, disk, an admin service's probe) before each step, stops runs at
// their deadlines (SIGTERM to the process group and, where cgroup v2 is
// writable, the run's cgroup, then SIGKILL after a grace), ends what a
// crash left running before anything starts,
// and keeps a journal of every cycle (to-do, active, completed, failed and
// deferred, with planned and actual times, exit codes and output tails) in a
// [Store]: [MemoryStore] for tests, [FileStore] for agents, which survives
// crashes. The journal is the planner's [History]. [Executor.Kill] is a
// killswitch that survives restarts until [Executor.Resume]; a [Notifier]
// hears of failures; [Executor.Status] and [Executor.Subscribe] show what
// happens as it happens. [ExampleExecutor] runs a night; examples/agent runs
// a profile of real scripts.
//
// # Time
//
// Local times become instants by one rule: a time that does not exist
// because of a DST gap means the instant the gap moves it to (01:30 is 02:30
// BST on London's spring-forward day); a time that occurs twice means its
// first occurrence. [PlanAt] takes the instant as a value and never reads a
// clock, so the same profile, history and instant give the same plan.
package afterhours
