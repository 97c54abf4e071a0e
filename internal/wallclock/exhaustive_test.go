package wallclock_test

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/internal/wallclock"
)

// The exhaustive test covers every transition from the start of firstYear to
// the end of lastYear.
const (
	firstYear = 2020
	lastYear  = 2030
)

// tzSource is one copy of the tz database.
type tzSource struct {
	name  string
	zones []string
	load  func(zone string) (*time.Location, error)
}

// tzSources returns the copies of the tz database available: the entries of
// $GOROOT/lib/time/zoneinfo.zip loaded both with time.LoadLocation (which
// prefers the system's files) and directly from the zip (whose files are
// "slim": recent years come from the TZ rule at the end of each file), or
// else the TZif files under /usr/share/zoneinfo. It returns nil if none is
// available.
func tzSources(t testing.TB) []tzSource {
	t.Helper()
	var roots []string
	if r := runtime.GOROOT(); r != "" {
		roots = append(roots, r)
	}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		roots = append(roots, strings.TrimSpace(string(out)))
	}
	for _, root := range roots {
		z, err := zip.OpenReader(filepath.Join(root, "lib", "time", "zoneinfo.zip"))
		if err != nil {
			continue
		}
		data := make(map[string][]byte)
		var names []string
		for _, f := range z.File {
			if strings.HasSuffix(f.Name, "/") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				continue
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				continue
			}
			names = append(names, f.Name)
			data[f.Name] = b
		}
		z.Close()
		if len(names) == 0 {
			continue
		}
		return []tzSource{
			{name: "LoadLocation", zones: names, load: time.LoadLocation},
			{name: "zoneinfo.zip", zones: names, load: func(zone string) (*time.Location, error) {
				return time.LoadLocationFromTZData(zone, data[zone])
			}},
		}
	}

	const dir = "/usr/share/zoneinfo"
	var names []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			if rel == "posix" || rel == "right" {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "localtime" || rel == "posixrules" {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		head := make([]byte, 4)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if n == 4 && bytes.Equal(head, []byte("TZif")) {
			names = append(names, filepath.ToSlash(rel))
		}
		return nil
	})
	if len(names) == 0 {
		return nil
	}
	return []tzSource{{name: "LoadLocation", zones: names, load: time.LoadLocation}}
}

// transition is a change of zone period at instant at (Unix seconds), from
// UTC offset before to UTC offset after (seconds).
type transition struct {
	at            int64
	before, after int64
}

// transitions lists the bounds of the zone periods of loc from shortly
// before lo to shortly after hi, including bounds where the offset does not
// change.
func transitions(loc *time.Location, lo, hi time.Time) []transition {
	var trs []transition
	t := lo.Add(-72 * time.Hour).In(loc)
	limit := hi.Add(72 * time.Hour)
	for range 100000 {
		_, end := t.ZoneBounds()
		if end.IsZero() || end.After(limit) {
			break
		}
		if !end.After(t) {
			// golang/go#81583: on the last UTC day of a leap year
			// served by the TZ rule, the reported end precedes t.
			// Step to the next UTC day.
			end = t.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour).In(loc)
		}
		_, before := end.Add(-time.Second).Zone()
		_, after := end.Zone()
		trs = append(trs, transition{at: end.Unix(), before: int64(before), after: int64(after)})
		t = end
	}
	return trs
}

// reading is a wall-clock reading.
type reading struct {
	y             int
	m             time.Month
	d, hh, mm, ss int
}

func readingOf(t time.Time) reading {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	return reading{y, m, d, hh, mm, ss}
}

// oracle resolves wall times in loc by brute force. If memo is not nil it
// caches the wall-clock reading of each instant it examines.
type oracle struct {
	loc  *time.Location
	memo map[int64]reading
}

// occurrences returns every instant whose wall clock in o.loc reads u (the
// wall time read as UTC, in Unix seconds), in increasing order. It tries the
// UTC offsets from -16 h to +16 h in steps of 15 minutes and the offsets in
// extra.
func (o *oracle) occurrences(u int64, extra []int64) []int64 {
	want := readingOf(time.Unix(u, 0).UTC())
	var found []int64
	try := func(off int64) {
		c := u - off
		r, ok := o.memo[c]
		if !ok {
			r = readingOf(time.Unix(c, 0).In(o.loc))
			if o.memo != nil {
				o.memo[c] = r
			}
		}
		if r == want && !slices.Contains(found, c) {
			found = append(found, c)
		}
	}
	for off := int64(-16 * 3600); off <= 16*3600; off += 15 * 60 {
		try(off)
	}
	for _, off := range extra {
		try(off)
	}
	slices.Sort(found)
	return found
}

// gapOf returns the transition whose gap contains the wall time u.
func gapOf(u int64, trs []transition) (transition, bool) {
	for _, tr := range trs {
		if tr.at+tr.before <= u && u < tr.at+tr.after {
			return tr, true
		}
	}
	return transition{}, false
}

func wallFields(u int64) (int, time.Month, int, int, int, int) {
	w := time.Unix(u, 0).UTC()
	y, m, d := w.Date()
	hh, mm, ss := w.Clock()
	return y, m, d, hh, mm, ss
}

// TestExhaustive checks Resolve, Earliest and Lookup against the brute-force
// oracle around every transition of every zone in the tz database from
// firstYear to lastYear.
func TestExhaustive(t *testing.T) {
	sources := tzSources(t)
	if len(sources) == 0 {
		t.Skip("no tz database found (neither $GOROOT/lib/time/zoneinfo.zip nor /usr/share/zoneinfo)")
	}
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			t.Parallel()
			exhaustive(t, src)
		})
	}
}

func exhaustive(t *testing.T, src tzSource) {
	lo := time.Date(firstYear, time.January, 1, 0, 0, 0, 0, time.UTC)
	hi := time.Date(lastYear+1, time.January, 1, 0, 0, 0, 0, time.UTC)

	start := time.Now()
	var zones, checked, gaps, overlaps int
	for _, name := range src.zones {
		loc, err := src.load(name)
		if !assert.NoError(t, err, "loading %q", name) {
			continue
		}
		zones++
		trs := transitions(loc, lo, hi)
		orc := &oracle{loc: loc, memo: make(map[int64]reading)}
		failures := 0
		fail := func(format string, args ...any) {
			t.Helper()
			failures++
			assert.Failf(t, "mismatch", name+": "+format, args...)
		}
		for _, tr := range trs {
			if tr.at < lo.Unix() || tr.at >= hi.Unix() {
				continue
			}
			wlo := tr.at + min(tr.before, tr.after)
			whi := tr.at + max(tr.before, tr.after)
			walls := []int64{tr.at + tr.before - 1, tr.at + tr.before, tr.at + tr.after - 1, tr.at + tr.after}
			for u := wlo - 3*3600; u <= whi+3*3600; u += 15 * 60 {
				walls = append(walls, u)
			}
			slices.Sort(walls)
			walls = slices.Compact(walls)

			var prevResolve, prevEarliest int64
			first := true
			for _, u := range walls {
				checked++
				y, m, d, hh, mm, ss := wallFields(u)
				got, gap, overlap := wallclock.Lookup(y, m, d, hh, mm, ss, loc)
				res := wallclock.Resolve(y, m, d, hh, mm, ss, loc)
				ear := wallclock.Earliest(y, m, d, hh, mm, ss, loc)

				occ := orc.occurrences(u, []int64{tr.before, tr.after})
				var want, wantEarliest int64
				wantGap, wantOverlap := len(occ) == 0, len(occ) > 1
				if wantGap {
					g, ok := gapOf(u, trs)
					if !ok {
						fail("oracle: wall time %s exists nowhere but lies in no gap", time.Unix(u, 0).UTC().Format(time.DateTime))
						continue
					}
					want, wantEarliest = u-g.before, g.at
					gaps++
				} else {
					want, wantEarliest = occ[0], occ[0]
					if wantOverlap {
						overlaps++
					}
				}

				wall := time.Unix(u, 0).UTC().Format(time.DateTime)
				if res.Unix() != want || res.Location() != loc {
					fail("Resolve(%s) = %v, want %v", wall, res.UTC(), time.Unix(want, 0).UTC())
				}
				if got.Unix() != want || gap != wantGap || overlap != wantOverlap {
					fail("Lookup(%s) = (%v, gap %v, overlap %v), want (%v, gap %v, overlap %v)",
						wall, got.UTC(), gap, overlap, time.Unix(want, 0).UTC(), wantGap, wantOverlap)
				}
				if ear.Unix() != wantEarliest || ear.Location() != loc {
					fail("Earliest(%s) = %v, want %v", wall, ear.UTC(), time.Unix(wantEarliest, 0).UTC())
				}

				// Monotonicity over increasing wall times: Earliest never
				// decreases; Resolve never decreases across the wall times
				// that exist (in a gap it may, see TestResolveNotMonotonicInGap).
				if !first && ear.Unix() < prevEarliest {
					fail("Earliest(%s) = %v decreases from %v", wall, ear.UTC(), time.Unix(prevEarliest, 0).UTC())
				}
				if !wantGap {
					if !first && res.Unix() < prevResolve {
						fail("Resolve(%s) = %v decreases from %v", wall, res.UTC(), time.Unix(prevResolve, 0).UTC())
					}
					prevResolve = res.Unix()
				}
				prevEarliest = ear.Unix()
				first = false
				if failures >= 10 {
					require.FailNow(t, "too many failures", name)
				}
			}
		}
	}
	t.Logf("%d zones, %d wall times (%d in gaps, %d in overlaps) checked in %v",
		zones, checked, gaps, overlaps, time.Since(start))
}

// TestLeapYearEnd checks the days around the end of leap years, where Go
// reports imprecise zone bounds for years served by the TZ rule at the end
// of a TZif file (golang/go#81583), hour by hour in zones with DST.
func TestLeapYearEnd(t *testing.T) {
	sources := tzSources(t)
	if len(sources) == 0 {
		t.Skip("no tz database found")
	}
	zones := []string{"Europe/London", "Europe/Dublin", "Africa/Cairo", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Chatham"}
	for _, src := range sources {
		for _, name := range zones {
			loc, err := src.load(name)
			require.NoError(t, err, "%s: loading %q", src.name, name)
			orc := &oracle{loc: loc, memo: make(map[int64]reading)}
			for _, y := range []int{2024, 2028, 2040, 2060} {
				from := time.Date(y, time.December, 28, 0, 0, 0, 0, time.UTC).Unix()
				to := time.Date(y+1, time.January, 3, 0, 0, 0, 0, time.UTC).Unix()
				for u := from; u < to; u += 30 * 60 {
					yy, m, d, hh, mm, ss := wallFields(u)
					got, gap, overlap := wallclock.Lookup(yy, m, d, hh, mm, ss, loc)
					occ := orc.occurrences(u, nil)
					msg := []any{"%s %s: Lookup(%s)", src.name, name, time.Unix(u, 0).UTC().Format(time.DateTime)}
					require.Len(t, occ, 1, msg...)
					assert.False(t, gap, msg...)
					assert.False(t, overlap, msg...)
					assert.Equal(t, occ[0], got.Unix(), msg...)
				}
			}
		}
	}
}
