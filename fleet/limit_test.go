package fleet

import (
	"context"
	"errors"
	"flag"
	"testing"
)

func TestParseLimit(t *testing.T) {
	cases := []struct {
		in   string
		want Limit
		str  string
	}{
		{"0", Count(0), "0"},
		{"100", Count(100), "100"},
		{" 7 ", Count(7), "7"},
		{"10%", Percent(10), "10%"},
		{"2.5%", Percent(2.5), "2.5%"},
		{"100%", Percent(100), "100%"},
		{"0%", Percent(0), "0%"},
		{" 5 %", Percent(5), "5%"},
	}
	for _, c := range cases {
		got, err := ParseLimit(c.in)
		if err != nil || got != c.want || got.String() != c.str {
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", c.in, got, err, c.str)
		}
	}
	for _, bad := range []string{"", "-1", "1.5", "x", "101%", "-1%", "%", "NaN%", "1e3x"} {
		if _, err := ParseLimit(bad); !errors.Is(err, ErrInvalidLimit) {
			t.Errorf("ParseLimit(%q) = %v, want ErrInvalidLimit", bad, err)
		}
	}
}

func TestLimitFlagAndText(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	l := Count(1)
	fs.Var(&l, "concurrency", "")
	if err := fs.Parse([]string{"-concurrency", "25%"}); err != nil || l != Percent(25) {
		t.Fatalf("flag: %v, %v", l, err)
	}
	b, _ := l.MarshalText()
	var back Limit
	if err := back.UnmarshalText(b); err != nil || back != l {
		t.Errorf("text round trip: %v, %v", back, err)
	}
}

// TestResolvedLimits: concurrency percentages round up (at least 1),
// budgets round down, group limits round down to at least 1.
func TestResolvedLimits(t *testing.T) {
	cases := []struct {
		n           int
		conc, bud   Limit
		wantC, want int
	}{
		{1000, Percent(10), Percent(5), 100, 50},
		{5, Percent(10), Percent(10), 1, 0},
		{30, Percent(10), Percent(5), 3, 1},
		{7, Percent(50), Percent(50), 4, 3},
		{0, Percent(10), Percent(10), 1, 0},
		{10, Count(20), Count(3), 20, 3},
	}
	noop := one(func(context.Context, Target) error { return nil })
	for _, c := range cases {
		r := mustRollout(t, makeTargets(c.n, 0), noop, WithConcurrency(c.conc), WithErrorBudget(c.bud))
		st := r.Status()
		if st.Concurrency != c.wantC || st.Budget != c.want {
			t.Errorf("%d targets, %v, %v: concurrency %d, budget %d; want %d, %d", c.n, c.conc, c.bud, st.Concurrency, st.Budget, c.wantC, c.want)
		}
	}
	if l := Percent(25); l.floorOf(6) != 1 || l.ceilOf(6) != 2 {
		t.Errorf("25%% of 6: floor %d, ceil %d", l.floorOf(6), l.ceilOf(6))
	}
	if l := Percent(10); l.ceilOf(30) != 3 || l.floorOf(30) != 3 {
		t.Errorf("10%% of 30 is 3 both ways")
	}
}

func TestNewRolloutErrors(t *testing.T) {
	noop := func(context.Context, Target) error { return nil }
	ok := one(noop)
	cases := []struct {
		name    string
		targets []Target
		phases  []Phase
		opts    []Option
		want    error
	}{
		{"empty ID", []Target{{ID: ""}}, ok, nil, ErrInvalidTarget},
		{"repeated ID", []Target{{ID: "a"}, {ID: "a"}}, ok, nil, ErrInvalidTarget},
		{"tag with !", []Target{{ID: "a", Tags: []string{"!x"}}}, ok, nil, ErrInvalidTarget},
		{"tag with space", []Target{{ID: "a", Tags: []string{"x y"}}}, ok, nil, ErrInvalidTarget},
		{"repeated tag", []Target{{ID: "a", Tags: []string{"x", "x"}}}, ok, nil, ErrInvalidTarget},
		{"no phase", nil, nil, nil, ErrInvalidPhase},
		{"nameless phase", nil, []Phase{{Run: noop}}, nil, ErrInvalidPhase},
		{"phase without action", nil, []Phase{{Name: "x"}}, nil, ErrInvalidPhase},
		{"repeated phase", nil, []Phase{{Name: "x", Run: noop}, {Name: "x", Run: noop}}, nil, ErrInvalidPhase},
		{"negative retries", nil, []Phase{{Name: "x", Run: noop, Retries: -1}}, nil, ErrInvalidPhase},
		{"nil clock", nil, ok, []Option{WithClock(nil)}, ErrInvalidOption},
		{"concurrency 0", nil, ok, []Option{WithConcurrency(Count(0))}, ErrInvalidOption},
		{"concurrency 0%", nil, ok, []Option{WithConcurrency(Percent(0))}, ErrInvalidOption},
		{"budget 120%", nil, ok, []Option{WithErrorBudget(Percent(120))}, ErrInvalidOption},
		{"budget -1", nil, ok, []Option{WithErrorBudget(Count(-1))}, ErrInvalidOption},
		{"group limit 0", nil, ok, []Option{WithGroupLimit(Count(0))}, ErrInvalidOption},
		{"status file without path", nil, ok, []Option{WithStatusFile("", 0)}, ErrInvalidOption},
		{"negative status interval", nil, ok, []Option{WithStatusFile("x", -1)}, ErrInvalidOption},
		{"nil resume", nil, ok, []Option{WithResume(nil)}, ErrInvalidOption},
		{"nil escalation", nil, ok, []Option{WithEscalation(nil)}, ErrInvalidOption},
		{"negative grace", nil, ok, []Option{WithKillGrace(-1)}, ErrInvalidOption},
		{"nil logger", nil, ok, []Option{WithLogger(nil)}, ErrInvalidOption},
		{"nil option", nil, ok, []Option{nil}, ErrInvalidOption},
	}
	for _, c := range cases {
		if _, err := NewRollout(c.targets, c.phases, c.opts...); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
