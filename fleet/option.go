package fleet

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/afterhours-go/afterhours"
)

// Defaults of a rollout's options.
const (
	// DefaultStatusEvery is how often the status file is written when
	// [WithStatusFile] is given no interval.
	DefaultStatusEvery = 5 * time.Second
	// DefaultKillGrace is how long Run waits, after the killswitch, for the
	// actions it cancelled to return (see [WithKillGrace]).
	DefaultKillGrace = 10 * time.Second
)

// Option configures a [Rollout]. Options validate their values:
// [NewRollout] returns the error of the first bad one.
type Option func(*config) error

type config struct {
	clock       afterhours.Clock
	concurrency Limit
	budget      Limit
	groupLimit  Limit
	selector    Selector
	statusFile  string
	statusEvery time.Duration
	resume      *Report
	retryFailed bool
	escalate    func(Escalation)
	killGrace   time.Duration
	logger      *slog.Logger
	coord       Coordinator
	sem         GroupSemaphore
	semRetry    time.Duration
}

func defaultConfig() config {
	return config{
		clock:       realClock{},
		concurrency: Count(1),
		budget:      Count(0),
		killGrace:   DefaultKillGrace,
		logger:      slog.New(slog.DiscardHandler),
	}
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// WithClock sets the clock that times targets, retry delays, the kill grace
// and the status file's period. The default is the system clock;
// clock.NewMock() of github.com/benbjohnson/clock and other fake clocks
// make times in tests exact. A nil clock is an error.
func WithClock(c afterhours.Clock) Option {
	return func(cfg *config) error {
		if c == nil {
			return fmt.Errorf("%w: nil clock", ErrInvalidOption)
		}
		cfg.clock = c
		return nil
	}
}

// WithConcurrency sets how many targets run at once: a count of at least 1,
// or a percentage of all the rollout's targets, rounded up and at least 1
// (10% of 1,000 targets is 100; 10% of 5 is 1). The default is 1: one target
// at a time.
func WithConcurrency(l Limit) Option {
	return func(cfg *config) error {
		if !l.valid() || l.v == 0 {
			return fmt.Errorf("%w: concurrency %v: want a count of at least 1 or a percentage above 0%%", ErrInvalidOption, l)
		}
		cfg.concurrency = l
		return nil
	}
}

// WithErrorBudget sets how many failed targets the rollout tolerates: a
// count, or a percentage of all the rollout's targets, rounded down (5% of
// 30 targets is 1). A budget of B tolerates B failures; the failure that
// makes B+1 stops new starts, and the targets already running finish. Only
// the outcomes [Failed] and [Critical] count. The default is 0: the first
// failure stops new starts.
func WithErrorBudget(l Limit) Option {
	return func(cfg *config) error {
		if !l.valid() {
			return fmt.Errorf("%w: error budget %v: want a count or a percentage from 0%% to 100%%", ErrInvalidOption, l)
		}
		cfg.budget = l
		return nil
	}
}

// WithGroupLimit sets how many targets of one group (such as the nodes of
// one cluster) run at once: a count of at least 1, or a percentage of the
// group's targets in the rollout, rounded down and at least 1 (25% of a
// 6-node cluster is 1). Targets without a group are not limited by it. The
// default is no limit.
func WithGroupLimit(l Limit) Option {
	return func(cfg *config) error {
		if !l.valid() || l.v == 0 {
			return fmt.Errorf("%w: group limit %v: want a count of at least 1 or a percentage above 0%%", ErrInvalidOption, l)
		}
		cfg.groupLimit = l
		return nil
	}
}

// WithSelector restricts the rollout to the targets whose tags s matches.
// The others are not part of it: they are not in its reports, and
// percentages are of the selected targets.
func WithSelector(s Selector) Option {
	return func(cfg *config) error {
		cfg.selector = s
		return nil
	}
}

// WithStatusFile has Run write the rollout's [Report] as JSON to path when
// it starts, every interval of the rollout's clock while it runs
// ([DefaultStatusEvery] when every is 0), and when it ends, for an outside
// monitor to read and for [WithResume] to resume from. Each write is
// atomic: a temporary file in the same directory, synced, renamed over
// path, and the directory synced, with mode 0600; a reader sees the old
// file or the new one, never a mix. Temporary files that a crash left
// beside path are removed when Run starts.
//
// Beside the status file, at path with [ClaimsSuffix], Run keeps a
// durable record of the run, append-only, mode 0600: each target is
// claimed in it before its first action runs, the first of its phases that
// is not [Phase].Idempotent is marked in it before that phase begins, and
// its result is written to it when it ends, each on disk (fsynced) before
// the rollout goes on; claims and results that come together share one
// fsync. The periodic status file may be seconds behind; the record is
// not, and [LoadReport] reads the two together, so that a resume after a
// crash runs no finished or failed target again and reports the targets
// that were running as [Interrupted]. Run creates the record afresh for
// each run, after its first write of the status file, and holds a lock on
// it while it runs: a second Run on the same status file, in this process
// or another, fails until the first returns (or its process dies). When
// the record cannot be written, no target starts on the strength of it:
// the rollout stops starting targets, in [StateRecordFailed].
func WithStatusFile(path string, every time.Duration) Option {
	return func(cfg *config) error {
		if path == "" {
			return fmt.Errorf("%w: empty status file path", ErrInvalidOption)
		}
		if every < 0 {
			return fmt.Errorf("%w: negative status file interval %v", ErrInvalidOption, every)
		}
		if every == 0 {
			every = DefaultStatusEvery
		}
		cfg.statusFile, cfg.statusEvery = path, every
		return nil
	}
}

// WithResume resumes the rollout recorded in rep, usually read back from a
// status file with [LoadReport], which brings it up to date with the
// durable record beside the file. What the resumed rollout does with each
// target depends on its outcome in rep:
//
//   - [Succeeded]: not run again; its record is carried into this rollout,
//     marked Resumed.
//   - [Failed], [Critical]: not run again, carried, and its failure still
//     counts against the error budget, so that the budget holds across a
//     crash (unless [WithRetryFailed]).
//   - [Interrupted], [Abandoned]: it may have run in part. Run again, from
//     its first phase, only when every phase up to the one it was in
//     (Record.Phase) is [Phase].Idempotent; otherwise carried, for the
//     operator to look at. Neither counts against the budget.
//   - [Running] (a report taken while the rollout ran, or a status file
//     without its record): as Interrupted in any phase, so run again only
//     when every phase is idempotent, and otherwise carried as
//     Interrupted.
//   - [Pending], [Stopped], [Killed]: run again from the first phase (a
//     killed action returned when cancelled; actions should be safe to
//     cancel and repeat).
//
// The resumed rollout's phases should be those of the rollout it resumes:
// phases are matched by name. Records of IDs that are not targets of this
// rollout are ignored. A nil report is an error.
func WithResume(rep *Report) Option {
	return func(cfg *config) error {
		if rep == nil {
			return fmt.Errorf("%w: nil report to resume", ErrInvalidOption)
		}
		cfg.resume = rep
		return nil
	}
}

// WithRetryFailed makes [WithResume] run again the targets that failed
// ([Failed] and [Critical]), instead of carrying their failures over.
func WithRetryFailed() Option {
	return func(cfg *config) error {
		cfg.retryFailed = true
		return nil
	}
}

// WithEscalation sets the function called for each failure of a critical
// phase, once per failed target, after the rollout has stopped starting
// targets. Run calls it from its own goroutine and waits for it; a panic in
// it is recovered and logged. A Kill while it runs still cancels every
// action at once. A nil function is an error.
func WithEscalation(f func(Escalation)) Option {
	return func(cfg *config) error {
		if f == nil {
			return fmt.Errorf("%w: nil escalation function", ErrInvalidOption)
		}
		cfg.escalate = f
		return nil
	}
}

// WithKillGrace sets how long Run waits, after the killswitch, for the
// cancelled actions to return, measured by the rollout's clock
// ([DefaultKillGrace] by default). A target whose action has not returned
// by then is recorded as [Abandoned] and Run returns; its goroutine lives on
// until the action returns, and nothing it does later changes the report.
// 0 abandons at once. The same grace, measured the same way, follows the
// deadline of an attempt at a phase with a Timeout: an action that has not
// returned by then is abandoned, and its target fails (see
// [Phase].Timeout). A negative grace is an error.
func WithKillGrace(d time.Duration) Option {
	return func(cfg *config) error {
		if d < 0 {
			return fmt.Errorf("%w: negative kill grace %v", ErrInvalidOption, d)
		}
		cfg.killGrace = d
		return nil
	}
}

// WithLogger sets where the rollout logs its stops, escalations and failed
// status file writes. The default logs nothing. A nil logger is an error.
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		cfg.logger = l
		return nil
	}
}
