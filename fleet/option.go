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
// file or the new one, never a mix.
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
// status file with [LoadReport]. A target whose record in rep has a final
// outcome ([Succeeded], [Failed], [Critical]) is not run again: its record
// is carried into this rollout, marked Resumed, and its failure still
// counts against the error budget. Every other target (pending, running
// when the last run died, stopped, killed, abandoned) runs from its first
// phase, so actions should be safe to repeat. Records of IDs that are not
// targets of this rollout are ignored. A nil report is an error.
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
// 0 abandons at once. A negative grace is an error.
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
