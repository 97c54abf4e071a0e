package fleet

import (
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
