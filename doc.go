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
// # Profiles
//
// A profile is JSON: [ParseProfile] and [LoadProfile] decode it strictly (an
// unknown field, a bad duration, time, date, zone or cron spec is an error)
// and validate it, collecting every problem with its field path into a
// [*ValidationError]. A profile built in Go, for instance to give tasks Go
// [Action] values, is checked and compiled by [Profile.Validate]. Once
// validated, a profile is read-only and safe for concurrent use. Its
// sections:
//
//   - "site" ([Site]): the IANA time zone, business hours per weekday
//     ("mon": ["08:00-18:00"]), closed dates, tags, and a grace after
//     closing.
//   - "sharing" ([Token]): shared resources, each with a daily slot (a
//     base "HH:MM" in UTC or in the site's zone, a duration and a buffer)
//     and the tasks that run in it.
//   - "housekeeping", "updates", "self_update" and "timers" ([Task]):
//     recurring work, one-off updates, the agent's own update, and work at
//     exact times. A task runs an absolute path with arguments, never a
//     shell, optionally as another user; it has an estimate, a timeout,
//     the resources it uses, a tag selector, and "on_failure": "stop" to
//     stop its cycle when it fails.
//   - "resources" ([Resource]): downtime calendars of the resources tasks
//     use.
//   - "constraints" ([Constraints]): load, memory, disk and probe checks
//     before each step.
//   - "parallel": the lanes housekeeping and updates run in (default 1).
//
// The README of the module has the full reference: every field, its
// format, its default and an example.
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
// A [Resource] has downtime calendars ([DowntimeSchedule]): dates or
// weekdays, from and to local times or the whole day (an interval may cross
// midnight), and an action for the steps and slot tasks that use the
// resource (tasks that set "ignore_downtimes", timers and commands run
// regardless):
//
//   - suppress (the default): not run in a cycle whose window the downtime
//     touches.
//   - skip: not run if its projected run would overlap the downtime; the
//     sequence goes on.
//   - postpone: run after the downtime; when that no longer fits, carried
//     to the next cycle. The steps after it are not held back.
//   - anticipate: finish before the downtime, moving ahead within its
//     phase; when the downtime covers the next cycle's whole window, run in
//     this cycle instead.
//   - hold: the whole sequence waits until the downtime ends.
//   - stop: planned like suppress; at run time a step still running when
//     the downtime begins is stopped.
//
// "once" applies the action to the first date only (later ones get
// suppress), and "ended" ends an occurrence early: from then on it no
// longer exists. Work a downtime keeps out is deferred as
// "downtime:<resource>". A plan lists the downtimes touching its window,
// and [AffectedReport] lists, for a horizon, every task each downtime
// affects and what the plan does with it.
//
// # Deferrals
//
// Nothing is silently dropped. Every task of the profile is in the plan, as a
// [Step] or as a [Deferral] with a reason a program can match ("not-due",
// "window-full", "disabled", "tag-mismatch", "business-hours", "done",
// "failed", "stopped", "updates-pending", "no-slot", "orphaned",
// "downtime:<resource>": see [ReasonNotDue] and the constants beside it)
// and a detail for people. Running adds "missed", "overlap",
// "self-update", "killed" and "constraint:<name>" ([ReasonMissed] and the
// constants beside it). Pending one-offs carry over to the next cycle.
//
// # A worked example
//
// A shop in Europe/London is open 08:00-18:00 on weekdays, with a grace of
// 30 minutes, and has a pkg-repo token at 01:40 UTC for 20 minutes with a
// 10-minute buffer. Planned at noon on Monday 23 November 2026, its cycle is
// that Monday's: the window runs from 18:30 to 08:00 on Tuesday. The pkg-repo
// hold is 01:30-02:00. Housekeeping runs from 18:30; an update of 40 minutes
// that would reach 01:30 waits until the slot ends at 02:00, and the
// self-update follows at 02:40. ExampleBuildPlan shows this plan.
//
// # The executor
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
// happens as it happens. ExampleExecutor runs a night; examples/agent runs
// a profile of real scripts.
//
// # Time
//
// Local times become instants by one rule: a time that does not exist
// because of a DST gap means the instant the gap moves it to (01:30 is 02:30
// BST on London's spring-forward day); a time that occurs twice means its
// first occurrence. [PlanAt] takes the instant as a value and never reads a
// clock, so the same profile, history and instant give the same plan.
//
// # The fleet side
//
// Package [github.com/afterhours-go/afterhours/fleet] is the server's share:
// its Allocate gives every client a base time for a shared resource so that
// its slot lies in its site's windows on every day of a year, under a
// capacity, moving no client whose base still fits; LoadForecast counts a
// resource's holders minute by minute from many profiles; Rollout runs a
// change, such as a patch, across many machines with a concurrency limit, an
// error budget and a killswitch. It computes windows with this package's
// [Site].
//
// # Where to start
//
// The package's examples: ExampleBuildPlan plans a night; Example_readme is
// the README's first program; ExampleExecutor runs a night on a fake clock,
// and Example_fakeClock checks a year of plans of a profile, as a test of
// your own profile would; ExampleDowntimeSchedule_actions plans the six
// downtime actions on one night. "go run ./examples/plan" prints the plan of
// the example profile (examples/plan/example.profile.json) with a timeline,
// examples/agent runs a profile of real scripts, and cmd/afterhours
// validates, plans, draws and exports profiles from the command line.
package afterhours
