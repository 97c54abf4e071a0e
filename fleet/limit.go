package fleet

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limit is a number of targets given either as a count ("100") or as a
// percentage of a whole ("10%"). [WithConcurrency], [WithErrorBudget] and
// [WithGroupLimit] take one; each says what the whole is and which way a
// percentage rounds.
//
// The zero Limit is a count of 0. A Limit is a small value, safe to copy and
// to use concurrently.
type Limit struct {
	v   float64 // the count, or the percentage
	pct bool
}

// Count returns a Limit of n targets.
func Count(n int) Limit { return Limit{v: float64(n)} }

// Percent returns a Limit of p percent of a whole: Percent(12.5) is 12.5 %.
func Percent(p float64) Limit { return Limit{v: p, pct: true} }

// ParseLimit reads a Limit as [Limit.String] writes it: a count of targets
// ("100") or a percentage ("10%", "2.5%"). Surrounding spaces are ignored.
// Negative values, fractional counts and percentages over 100 are errors
// wrapping [ErrInvalidLimit].
func ParseLimit(s string) (Limit, error) {
	t := strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(t, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
			return Limit{}, fmt.Errorf("%w: %q: want a percentage from 0%% to 100%%", ErrInvalidLimit, s)
		}
		return Percent(v), nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 {
		return Limit{}, fmt.Errorf("%w: %q: want a count such as \"100\" or a percentage such as \"10%%\"", ErrInvalidLimit, s)
	}
	return Count(n), nil
}

// IsPercent reports whether l is a percentage rather than a count.
func (l Limit) IsPercent() bool { return l.pct }

// String returns "100" for a count and "10%" for a percentage.
func (l Limit) String() string {
	if l.pct {
		return strconv.FormatFloat(l.v, 'f', -1, 64) + "%"
	}
	return strconv.FormatFloat(l.v, 'f', -1, 64)
}

// Set parses s into l, so that a *Limit is a [flag.Value].
func (l *Limit) Set(s string) error {
	v, err := ParseLimit(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// MarshalText encodes l as [Limit.String] does.
func (l Limit) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText decodes a count or a percentage as [ParseLimit] does.
func (l *Limit) UnmarshalText(b []byte) error { return l.Set(string(b)) }

// valid reports whether l is a count or percentage a rollout can use.
func (l Limit) valid() bool {
	if math.IsNaN(l.v) || l.v < 0 {
		return false
	}
	if l.pct {
		return l.v <= 100
	}
	return l.v == math.Trunc(l.v)
}

// ceilOf resolves l against a whole of n, rounding a percentage up.
func (l Limit) ceilOf(n int) int {
	if !l.pct {
		return int(l.v)
	}
	return int(math.Ceil(l.v*float64(n)/100 - 1e-9))
}

// floorOf resolves l against a whole of n, rounding a percentage down.
func (l Limit) floorOf(n int) int {
	if !l.pct {
		return int(l.v)
	}
	return int(math.Floor(l.v*float64(n)/100 + 1e-9))
}
