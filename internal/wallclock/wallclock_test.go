package wallclock_test

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/internal/wallclock"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func mustParse(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v
}

func TestTable(t *testing.T) {
	type wall struct {
		y             int
		m             time.Month
		d, hh, mm, ss int
	}
	tests := []struct {
		name    string
		zone    string // "" means a nil *time.Location
		w       wall
		want    string // Resolve, RFC 3339
		earlier string // Earliest if it differs from want
		gap     bool
		overlap bool
	}{
		// Europe/London 2026: GMT -> BST at 01:00Z on 29 March, BST -> GMT at 01:00Z on 25 October.
		{name: "london/ordinary winter", zone: "Europe/London", w: wall{2026, time.January, 15, 12, 0, 0}, want: "2026-01-15T12:00:00Z"},
		{name: "london/ordinary summer", zone: "Europe/London", w: wall{2026, time.July, 1, 12, 0, 0}, want: "2026-07-01T11:00:00Z"},
		{name: "london/before gap", zone: "Europe/London", w: wall{2026, time.March, 29, 0, 59, 59}, want: "2026-03-29T00:59:59Z"},
		{name: "london/gap start", zone: "Europe/London", w: wall{2026, time.March, 29, 1, 0, 0}, want: "2026-03-29T01:00:00Z", gap: true},
		{name: "london/gap", zone: "Europe/London", w: wall{2026, time.March, 29, 1, 30, 0}, want: "2026-03-29T01:30:00Z", earlier: "2026-03-29T01:00:00Z", gap: true},
		{name: "london/gap last second", zone: "Europe/London", w: wall{2026, time.March, 29, 1, 59, 59}, want: "2026-03-29T01:59:59Z", earlier: "2026-03-29T01:00:00Z", gap: true},
		{name: "london/after gap", zone: "Europe/London", w: wall{2026, time.March, 29, 2, 0, 0}, want: "2026-03-29T01:00:00Z"},
		{name: "london/before overlap", zone: "Europe/London", w: wall{2026, time.October, 25, 0, 59, 59}, want: "2026-10-24T23:59:59Z"},
		{name: "london/overlap start", zone: "Europe/London", w: wall{2026, time.October, 25, 1, 0, 0}, want: "2026-10-25T00:00:00Z", overlap: true},
		{name: "london/overlap", zone: "Europe/London", w: wall{2026, time.October, 25, 1, 30, 0}, want: "2026-10-25T00:30:00Z", overlap: true},
		{name: "london/after overlap", zone: "Europe/London", w: wall{2026, time.October, 25, 2, 0, 0}, want: "2026-10-25T02:00:00Z"},

		// America/New_York 2026: EST -> EDT at 07:00Z on 8 March, EDT -> EST at 06:00Z on 1 November.
		{name: "new york/gap", zone: "America/New_York", w: wall{2026, time.March, 8, 2, 30, 0}, want: "2026-03-08T07:30:00Z", earlier: "2026-03-08T07:00:00Z", gap: true},
		{name: "new york/after gap", zone: "America/New_York", w: wall{2026, time.March, 8, 3, 30, 0}, want: "2026-03-08T07:30:00Z"},
		{name: "new york/overlap", zone: "America/New_York", w: wall{2026, time.November, 1, 1, 30, 0}, want: "2026-11-01T05:30:00Z", overlap: true},
		{name: "new york/after overlap", zone: "America/New_York", w: wall{2026, time.November, 1, 2, 0, 0}, want: "2026-11-01T07:00:00Z"},

		// Australia/Lord_Howe 2026: +11 -> +10:30 at 15:00Z on 4 April (01:30-02:00 repeats),
		// +10:30 -> +11 at 15:30Z on 3 October (02:00-02:30 on 4 October is skipped).
		{name: "lord howe/overlap", zone: "Australia/Lord_Howe", w: wall{2026, time.April, 5, 1, 45, 0}, want: "2026-04-04T14:45:00Z", overlap: true},
		{name: "lord howe/after overlap", zone: "Australia/Lord_Howe", w: wall{2026, time.April, 5, 2, 0, 0}, want: "2026-04-04T15:30:00Z"},
		{name: "lord howe/gap", zone: "Australia/Lord_Howe", w: wall{2026, time.October, 4, 2, 15, 0}, want: "2026-10-03T15:45:00Z", earlier: "2026-10-03T15:30:00Z", gap: true},
		{name: "lord howe/after gap", zone: "Australia/Lord_Howe", w: wall{2026, time.October, 4, 2, 30, 0}, want: "2026-10-03T15:30:00Z"},

		// Asia/Kathmandu: +05:45 all year.
		{name: "kathmandu", zone: "Asia/Kathmandu", w: wall{2026, time.June, 15, 9, 0, 0}, want: "2026-06-15T03:15:00Z"},
		{name: "kathmandu/midnight", zone: "Asia/Kathmandu", w: wall{2026, time.January, 1, 0, 0, 0}, want: "2025-12-31T18:15:00Z"},

		// Pacific/Apia skipped 2011-12-30 (-10 -> +14 at 10:00Z on 30 December).
		{name: "apia/before", zone: "Pacific/Apia", w: wall{2011, time.December, 29, 23, 59, 59}, want: "2011-12-30T09:59:59Z"},
		{name: "apia/skipped day start", zone: "Pacific/Apia", w: wall{2011, time.December, 30, 0, 0, 0}, want: "2011-12-30T10:00:00Z", gap: true},
		{name: "apia/skipped day", zone: "Pacific/Apia", w: wall{2011, time.December, 30, 12, 0, 0}, want: "2011-12-30T22:00:00Z", earlier: "2011-12-30T10:00:00Z", gap: true},
		{name: "apia/after", zone: "Pacific/Apia", w: wall{2011, time.December, 31, 0, 0, 0}, want: "2011-12-30T10:00:00Z"},

		// UTC, nil and fixed zones have no transitions.
		{name: "utc", zone: "UTC", w: wall{2026, time.March, 29, 1, 30, 0}, want: "2026-03-29T01:30:00Z"},
		{name: "nil location", zone: "", w: wall{2026, time.October, 25, 1, 30, 0}, want: "2026-10-25T01:30:00Z"},
		{name: "etc/gmt+5", zone: "Etc/GMT+5", w: wall{2026, time.March, 8, 2, 30, 0}, want: "2026-03-08T07:30:00Z"},

		// Normalisation as by time.Date.
		{name: "hh=24", zone: "Europe/London", w: wall{2026, time.March, 28, 24, 0, 0}, want: "2026-03-29T00:00:00Z"},
		{name: "hh=24 summer", zone: "Europe/London", w: wall{2026, time.June, 30, 24, 0, 0}, want: "2026-06-30T23:00:00Z"},
		{name: "hours overflow into gap", zone: "America/New_York", w: wall{2026, time.March, 7, 26, 30, 0}, want: "2026-03-08T07:30:00Z", earlier: "2026-03-08T07:00:00Z", gap: true},
		{name: "day overflow", zone: "America/New_York", w: wall{2026, time.February, 31, 12, 0, 0}, want: "2026-03-03T17:00:00Z"},
		{name: "negative minutes", zone: "Europe/London", w: wall{2026, time.October, 25, 2, -30, 0}, want: "2026-10-25T00:30:00Z", overlap: true},
		{name: "month overflow", zone: "Europe/London", w: wall{2025, time.Month(13), 1, 0, 0, 0}, want: "2026-01-01T00:00:00Z"},

		// Leap days.
		{name: "leap day", zone: "America/New_York", w: wall{2028, time.February, 29, 12, 0, 0}, want: "2028-02-29T17:00:00Z"},
		{name: "leap day end", zone: "Europe/London", w: wall{2028, time.February, 29, 24, 0, 0}, want: "2028-03-01T00:00:00Z"},
		{name: "no leap day", zone: "America/New_York", w: wall{2027, time.February, 29, 12, 0, 0}, want: "2027-03-01T17:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var loc *time.Location
			wantLoc := time.UTC
			if tc.zone != "" {
				loc = mustLoad(t, tc.zone)
				wantLoc = loc
			}
			wantEarliest := mustParse(t, tc.want)
			if tc.earlier != "" {
				wantEarliest = mustParse(t, tc.earlier)
			}
			w := tc.w

			got := wallclock.Resolve(w.y, w.m, w.d, w.hh, w.mm, w.ss, loc)
			assert.Equal(t, tc.want, utc(got), "Resolve")
			assert.Same(t, wantLoc, got.Location(), "Resolve location")

			gotEarliest := wallclock.Earliest(w.y, w.m, w.d, w.hh, w.mm, w.ss, loc)
			assert.Equal(t, utc(wantEarliest), utc(gotEarliest), "Earliest")
			assert.Same(t, wantLoc, gotEarliest.Location(), "Earliest location")

			gotL, gap, overlap := wallclock.Lookup(w.y, w.m, w.d, w.hh, w.mm, w.ss, loc)
			assert.Equal(t, tc.want, utc(gotL), "Lookup instant")
			assert.Equal(t, tc.gap, gap, "Lookup gap")
			assert.Equal(t, tc.overlap, overlap, "Lookup overlap")

			// Outside a gap the result reads back as the (normalised) request.
			if !tc.gap {
				n := time.Date(w.y, w.m, w.d, w.hh, w.mm, w.ss, 0, time.UTC)
				assert.Equal(t, n.Format(time.DateTime), got.Format(time.DateTime), "wall clock of Resolve")
			}
		})
	}
}

// TestResolveNotMonotonicInGap documents that, under the gap rule, Resolve
// can go backwards as the wall time increases, while Earliest does not.
func TestResolveNotMonotonicInGap(t *testing.T) {
	london := mustLoad(t, "Europe/London")
	inGap := wallclock.Resolve(2026, time.March, 29, 1, 30, 0, london)
	afterGap := wallclock.Resolve(2026, time.March, 29, 2, 0, 0, london)
	require.True(t, afterGap.Before(inGap), "Resolve(02:00) = %v, Resolve(01:30) = %v", afterGap.UTC(), inGap.UTC())

	e1 := wallclock.Earliest(2026, time.March, 29, 1, 30, 0, london)
	e2 := wallclock.Earliest(2026, time.March, 29, 2, 0, 0, london)
	require.False(t, e2.Before(e1), "Earliest(02:00) = %v, Earliest(01:30) = %v", e2.UTC(), e1.UTC())
}

// TestNoPanic feeds extreme field values to every function.
func TestNoPanic(t *testing.T) {
	locs := []*time.Location{nil, time.UTC, time.FixedZone("odd", -(4*3600 + 56*60 + 2)),
		mustLoad(t, "Europe/London"), mustLoad(t, "Pacific/Apia"), mustLoad(t, "America/Sitka")}
	vals := []int{math.MinInt, math.MinInt / 2, -1 << 40, -100000, -1, 0, 1, 24, 60, 100000, 1 << 40, math.MaxInt / 2, math.MaxInt}
	for _, loc := range locs {
		for _, v := range vals {
			for _, y := range []int{math.MinInt, -1, 0, 1, 1867, 1900, 2026, 9999, math.MaxInt} {
				require.NotPanics(t, func() {
					wallclock.Resolve(y, time.Month(v), v, v, v, v, loc)
					wallclock.Earliest(y, time.March, v, 2, 30, v, loc)
					wallclock.Lookup(y, time.Month(v), 1, v, 0, 0, loc)
				}, "loc %v, y %d, v %d", loc, y, v)
			}
		}
	}
}

// utc formats t as an RFC 3339 instant in UTC.
func utc(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
