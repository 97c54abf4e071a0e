package afterhours

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoWindow is returned by planning when no cycle with a non-empty
// after-hours window starts within 400 days of the instant asked.
var ErrNoWindow = errors.New("afterhours: no after-hours window within 400 days")

// ErrNotValidated is returned when a [Profile] built in Go is planned before
// [Profile.Validate] succeeded on it. Profiles from [ParseProfile] and
// [LoadProfile] are validated already.
var ErrNotValidated = errors.New("afterhours: profile not validated")

// ErrOutOfRange is returned by planning for an instant before the year 1700
// or after 2200: plans place steps on Unix nanoseconds, which end in 2262.
var ErrOutOfRange = errors.New("afterhours: instant out of range: plans are for the years 1700 to 2200")

// ErrNilClock is returned by [BuildPlan] and [Forecast] when the clock is nil.
var ErrNilClock = errors.New("afterhours: nil clock")

// Problem is one thing wrong with a profile: the path of the field, in the
// profile's JSON names (`sharing[0].base`), and what is wrong with it.
type Problem struct {
	Path    string
	Message string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem found in a profile: first those of
// its JSON form (keys repeated in an object, in the order they come; then
// unknown fields, values of the wrong type, bad durations, sorted by path),
// then the others in the order of the profile's sections. It is returned by [ParseProfile], [LoadProfile] and
// [Profile.Validate]; use [errors.As] to get at the problems.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	switch len(e.Problems) {
	case 0:
		return "afterhours: invalid profile"
	case 1:
		return "afterhours: invalid profile: " + e.Problems[0].String()
	}
	fmt.Fprintf(&b, "afterhours: invalid profile: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects validation problems with their paths.
type problems struct{ list []Problem }

func (ps *problems) add(path, format string, args ...any) {
	ps.list = append(ps.list, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps.list}
}

// ErrKilled is returned by [Executor.Submit] while the killswitch is on:
// after [Executor.Kill] and until [Executor.Resume], across restarts.
var ErrKilled = errors.New("afterhours: killed")

// ErrDuplicateCommand is returned by [Executor.Submit] for a command whose
// id was accepted before, within the journal's retention. It is not run
// again; a caller that retries a submission may take it as success.
var ErrDuplicateCommand = errors.New("afterhours: duplicate command id")

// ErrNotForSite is returned by [Executor.Submit] for a command whose tag
// selector does not match the site's tags. It is not run or recorded.
var ErrNotForSite = errors.New("afterhours: command not for this site")

// ErrRunning is returned by [Executor.Run] when the executor already runs.
var ErrRunning = errors.New("afterhours: executor already running")

// StateError is a state file (or store record) that cannot be read or
// decoded, or that a [FileStore] refuses to trust ([ErrUnsafeState]). The
// executor never replaces such a record with an empty one: the file is kept
// as it is, for a person to look at.
type StateError struct {
	// Where names the record: the file's path for a [FileStore].
	Where string
	Err   error
}

func (e *StateError) Error() string {
	return "afterhours: state " + e.Where + ": " + e.Err.Error()
}

func (e *StateError) Unwrap() error { return e.Err }

// ErrUnsafeState is matched (errors.Is) by the *[StateError] of a state
// directory or file that [OpenFileStore] or [FileStore.Load] refuses
// because another user could have written it: a symbolic link, something
// not owned by the executor's user, or writable by group or others. The
// StateError names the path and the problem.
var ErrUnsafeState = errors.New("afterhours: unsafe state")
