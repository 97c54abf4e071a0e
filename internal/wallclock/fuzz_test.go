package wallclock_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/internal/wallclock"
)

// fuzzZones are the zones FuzzResolve picks from: zones with ordinary DST,
// negative DST, 30-minute and 45-minute offsets, skipped days and odd
// historical offsets.
var fuzzZones = []string{
	"UTC",
	"Europe/London",
	"Europe/Dublin",
	"Europe/Amsterdam",
	"Europe/Moscow",
	"America/New_York",
	"America/St_Johns",
	"America/Santiago",
	"America/Sao_Paulo",
	"America/Caracas",
	"Africa/Casablanca",
	"Africa/Monrovia",
	"Asia/Kathmandu",
	"Asia/Kolkata",
	"Asia/Tehran",
	"Asia/Gaza",
	"Australia/Lord_Howe",
	"Australia/Sydney",
	"Australia/Eucla",
	"Antarctica/Troll",
	"Pacific/Apia",
	"Pacific/Chatham",
	"Pacific/Kiritimati",
	"Asia/Manila",
}

// offsetsNear returns the UTC offsets of loc's zone periods within two days
// of the instant u.
func offsetsNear(u int64, loc *time.Location) []int64 {
	var offs []int64
	t := time.Unix(u-48*3600, 0).In(loc)
	for range 64 {
		_, off := t.Zone()
		if !slices.Contains(offs, int64(off)) {
			offs = append(offs, int64(off))
		}
		_, end := t.ZoneBounds()
		if end.IsZero() || end.Unix() > u+48*3600 || !end.After(t) {
			break
		}
		t = end
	}
	return offs
}

func FuzzResolve(f *testing.F) {
	f.Add(2026, 3, 29, 1, 30, 0, uint8(1))
	f.Add(2026, 10, 25, 1, 30, 0, uint8(1))
	f.Add(2026, 3, 8, 2, 30, 0, uint8(5))
	f.Add(2026, 11, 1, 1, 30, 0, uint8(5))
	f.Add(2026, 10, 4, 2, 15, 0, uint8(16))
	f.Add(2026, 4, 5, 1, 45, 0, uint8(16))
	f.Add(2011, 12, 30, 12, 0, 0, uint8(20))
	f.Add(2028, 2, 29, 24, 0, 0, uint8(12))
	f.Add(1900, 0, -1, -1, -1, -1, uint8(255))
	f.Add(2100, 1<<40, 1<<50, 1<<60, -1<<60, 1<<62, uint8(7))

	// Each zone both as time.LoadLocation gives it and, where available,
	// from the slim TZif files of $GOROOT/lib/time/zoneinfo.zip.
	var locs []*time.Location
	for _, name := range fuzzZones {
		locs = append(locs, mustLoad(f, name))
	}
	for _, src := range tzSources(f) {
		if src.name != "zoneinfo.zip" {
			continue
		}
		for _, name := range fuzzZones {
			if loc, err := src.load(name); err == nil {
				locs = append(locs, loc)
			}
		}
	}

	f.Fuzz(func(t *testing.T, y, m, d, hh, mm, ss int, zone uint8) {
		y = 1900 + ((y%201)+201)%201
		loc := locs[int(zone)%len(locs)]

		var res, ear, got time.Time
		var gap, overlap bool
		require.NotPanics(t, func() {
			res = wallclock.Resolve(y, time.Month(m), d, hh, mm, ss, loc)
			ear = wallclock.Earliest(y, time.Month(m), d, hh, mm, ss, loc)
			got, gap, overlap = wallclock.Lookup(y, time.Month(m), d, hh, mm, ss, loc)
		})

		// Check against the oracle only where the normalised request is a
		// meaningful date (huge fields overflow the arithmetic of time.Date).
		n := time.Date(y, time.Month(m), d, hh, mm, ss, 0, time.UTC)
		if n.Year() < 1850 || n.Year() > 2150 {
			return
		}
		u := n.Unix()
		occ := (&oracle{loc: loc}).occurrences(u, offsetsNear(u, loc))
		wall := n.Format(time.DateTime)
		require.True(t, got.Equal(res), "%s %s: Lookup = %v, Resolve = %v", loc, wall, got, res)
		require.Equal(t, len(occ) == 0, gap, "%s %s: gap (oracle found %d occurrences)", loc, wall, len(occ))
		require.Equal(t, len(occ) > 1, overlap, "%s %s: overlap (oracle found %d occurrences)", loc, wall, len(occ))
		if len(occ) > 0 {
			// The wall time exists: Resolve reads it, at its first occurrence.
			require.Equal(t, wall, res.Format(time.DateTime), "%s: wall clock of Resolve", loc)
			require.Equal(t, occ[0], res.Unix(), "%s %s: first occurrence", loc, wall)
			require.True(t, ear.Equal(res), "%s %s: Earliest = %v, Resolve = %v", loc, wall, ear, res)
		} else {
			// In a gap: Earliest is the transition, which reads later
			// than the request, and Resolve is not before it.
			require.False(t, ear.After(res), "%s %s: Earliest = %v, Resolve = %v", loc, wall, ear, res)
			require.Greater(t, ear.Format(time.DateTime), wall, "%s: wall clock of Earliest", loc)
		}
	})
}
