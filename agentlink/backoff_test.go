package agentlink

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestBackoffCeiling(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{-1, time.Second}, {0, time.Second}, {1, 2 * time.Second}, {2, 4 * time.Second},
		{8, 256 * time.Second}, {9, 5 * time.Minute}, {40, 5 * time.Minute}, {1 << 30, 5 * time.Minute},
	} {
		require.Equal(t, tc.want, backoffCeiling(tc.attempt), "attempt %d", tc.attempt)
		// Full jitter: a draw of 0 waits nothing, one just below 1 nearly the ceiling.
		require.Zero(t, Backoff(tc.attempt, func() float64 { return 0 }))
		require.Equal(t, tc.want/2, Backoff(tc.attempt, func() float64 { return 0.5 }))
	}
}

func TestBackoffSchedule(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var got []time.Duration
	for a := range 12 {
		d := Backoff(a, r.Float64)
		require.GreaterOrEqual(t, d, time.Duration(0))
		require.Less(t, d, backoffCeiling(a))
		got = append(got, d.Truncate(time.Millisecond))
	}
	// The same seed gives the same schedule.
	r2 := rand.New(rand.NewPCG(1, 2))
	for a := range 12 {
		require.Equal(t, got[a], Backoff(a, r2.Float64).Truncate(time.Millisecond))
	}
	ms := func(s string) time.Duration { d, _ := time.ParseDuration(s); return d }
	want := []time.Duration{ms("676ms"), ms("922ms"), ms("2.034s"), ms("3.438s"), ms("12.764s"), ms("12.427s"),
		ms("52.433s"), ms("43.287s"), ms("4m9.099s"), ms("1m24.434s"), ms("3m1.429s"), ms("4m38.343s")}
	require.Equal(t, want, got)
}
