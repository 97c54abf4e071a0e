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
// its JSON form (unknown fields, values of the wrong type, bad durations),
// sorted by path, then the others in the order of the profile's sections. It is returned by [ParseProfile], [LoadProfile] and
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
