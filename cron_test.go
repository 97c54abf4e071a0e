package afterhours

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func mustCron(t testing.TB, spec string, loc *time.Location) *recurrence {
	t.Helper()
	c, err := parseCron(spec)
	require.NoError(t, err, spec)
	return &recurrence{cron: c, loc: loc}
}

// robfigNext is robfig/cron's own Next for spec in loc, 7 read as 0.
func robfigNext(t testing.TB, spec string, loc *time.Location, from time.Time) time.Time {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	require.NoError(t, err, spec)
	ss := s.(*cron.SpecSchedule)
	ss.Location = loc
	return ss.Next(from)
}

// dstDayMatches reports whether the spec matches a date on which loc
// changes its offset, between a and b: there robfig/cron and rule 9 may
// differ on purpose.
func dstDayMatches(rec *recurrence, loc *time.Location, a, b time.Time) bool {
	for t := a; t.Before(b); {
		_, end := t.In(loc).ZoneBounds()
		if end.IsZero() || end.After(b.Add(48*time.Hour)) {
			return false
		}
		d := DateOf(end.In(loc))
		for _, day := range []Date{d.AddDays(-1), d, d.AddDays(1)} {
			if rec.cron.matchesDate(day) {
				return true
			}
		}
		t = end.Add(time.Second)
	}
	return false
}

var cronSpecs = []string{
	"* * * * *", "*/5 * * * *", "0 * * * *", "30 2 * * *", "15 3 * * 1-5", "0 0 * * 0",
	"0 3 * * sun", "45 23 * * 6", "0 0 1 * *", "0 12 15 * 5", "0 0 31 * *", "0 4 29 2 *",
	"0 0 1 1 *", "5,35 */2 * * *", "0 9-17/2 * * mon-fri", "59 23 * * *", "0 0 * 3,9 *",
	"10 1 1-7 * 1", "0 6 ? * *", "@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly",
	"@annually", "0 22 * jan-mar tue,thu", "7 7 7 7 *", "0 0 13 * 5",
}

// TestCronMatchesRobfig compares the next occurrence with robfig/cron's own
// Next() away from DST changes, where the two must agree.
func TestCronMatchesRobfig(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, zone := range []string{"UTC", "Europe/London", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe"} {
		loc := mustLoc(t, zone)
		for _, spec := range cronSpecs {
			rec := mustCron(t, spec, loc)
			compared := 0
			for range 200 {
				from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(3 * 365 * 24 * time.Hour)))).Truncate(time.Second)
				want := robfigNext(t, spec, loc, from)
				if dstDayMatches(rec, loc, from.Add(-48*time.Hour), want) {
					continue // the DST days are tested on their own
				}
				got, ok := rec.next(from.Add(time.Nanosecond), from.Add(maxSearch), nil)
				require.True(t, ok, "%s in %s from %s", spec, zone, from)
				require.True(t, want.Equal(got), "%s in %s from %s: robfig %s, ours %s", spec, zone, from, want, got)
				compared++
			}
			require.Greater(t, compared, 20, "%s in %s: too few comparisons", spec, zone)
		}
	}
}

func TestCronDayOfWeekSeven(t *testing.T) {
	loc := mustLoc(t, "Europe/London")
	from := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) // a Monday
	for _, tt := range []struct{ ours, robfig string }{
		{"0 3 * * 7", "0 3 * * 0"},
		{"0 3 * * 5-7", "0 3 * * 0,5,6"},
		{"0 3 * * 6,7", "0 3 * * 0,6"},
		{"0 3 * * 0-7", "0 3 * * *"},
	} {
		rec := mustCron(t, tt.ours, loc)
		at := from
		for range 20 {
			want := robfigNext(t, tt.robfig, loc, at)
			got, ok := rec.next(at.Add(time.Nanosecond), at.Add(maxSearch), nil)
			require.True(t, ok)
			require.True(t, want.Equal(got), "%s: robfig %s, ours %s", tt.ours, want, got)
			at = want
		}
	}
}

// TestCronDSTDays: where rule 9 deliberately differs from robfig/cron's
// Next(), which skips a job in a spring-forward gap and runs one in a
// fall-back overlap twice.
func TestCronDSTDays(t *testing.T) {
	tests := []struct {
		zone, spec string
		day        string
		want       []string // RFC 3339 occurrences on that local day
		robfig     int      // how many times robfig/cron's Next fires that day
	}{
		{"Europe/London", "30 1 * * *", "2026-03-29", []string{"2026-03-29T02:30:00+01:00"}, 0},
		{"Europe/London", "30 1 * * *", "2026-10-25", []string{"2026-10-25T01:30:00+01:00"}, 2},
		{"America/New_York", "30 1 * * *", "2026-03-08", []string{"2026-03-08T01:30:00-05:00"}, 1},
		{"America/New_York", "30 2 * * *", "2026-03-08", []string{"2026-03-08T03:30:00-04:00"}, 0},
		{"America/New_York", "30 1 * * *", "2026-11-01", []string{"2026-11-01T01:30:00-04:00"}, 2},
		{"Australia/Lord_Howe", "15 2 * * *", "2026-10-04", []string{"2026-10-04T02:45:00+11:00"}, 0},
		{"Australia/Lord_Howe", "45 1 * * *", "2026-04-05", []string{"2026-04-05T01:45:00+11:00"}, 2},
		// Every 15 minutes through London's gap: 01:00-01:45 are moved an
		// hour on, onto 02:00-02:45 BST, which count once.
		{"Europe/London", "*/15 1-2 * * *", "2026-03-29", []string{
			"2026-03-29T02:00:00+01:00", "2026-03-29T02:15:00+01:00", "2026-03-29T02:30:00+01:00", "2026-03-29T02:45:00+01:00"}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.spec+" "+tt.day, func(t *testing.T) {
			loc := mustLoc(t, tt.zone)
			d, err := ParseDate(tt.day)
			require.NoError(t, err)
			start := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
			end := time.Date(d.Year, d.Month, d.Day+1, 0, 0, 0, 0, loc)
			var got []string
			mustCron(t, tt.spec, loc).each(start, end, nil, func(at time.Time) {
				got = append(got, at.In(loc).Format(time.RFC3339))
			})
			require.Equal(t, tt.want, got)

			n := 0
			for at := robfigNext(t, tt.spec, loc, start.Add(-time.Second)); at.Before(end); at = robfigNext(t, tt.spec, loc, at) {
				n++
			}
			require.Equal(t, tt.robfig, n, "robfig/cron's own count, the behaviour rule 9 replaces")
		})
	}
}

func TestParseCronErrors(t *testing.T) {
	for _, spec := range []string{
		"", "TZ=Europe/London 0 3 * * *", "CRON_TZ=UTC 0 3 * * *", "TZ=", "CRON_TZ=", "@every 1h", "@every",
		"0 3 * *", "0 3 * * * *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "60 * * * *", "* 24 * * *",
		"* * 0 * *", "* * * 13 *", "* * * * 8", "* * * * mon-", "*/0 * * * *", "@reboot", "@fortnightly",
		"a b c d e", "0 3 * * 7-1", "1-2-3 * * * *",
	} {
		_, err := parseCron(spec)
		require.Error(t, err, "%q", spec)
	}
}

func TestCronCanFireOnLeapDayOnly(t *testing.T) {
	rec := mustCron(t, "0 0 29 2 *", time.UTC)
	got, ok := rec.next(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), nil)
	require.True(t, ok)
	require.Equal(t, time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), got)
}

func TestDayNumbers(t *testing.T) {
	for tm := time.Date(1600, 1, 1, 12, 0, 0, 0, time.UTC); tm.Year() < 2500; tm = tm.AddDate(0, 0, 1) {
		d := DateOf(tm)
		z := d.dayNumber()
		require.Equal(t, floorDiv(tm.Unix(), 86400), z, d)
		require.Equal(t, d, dateOfDay(z))
		require.Equal(t, tm.Weekday(), d.Weekday(), d)
		require.Equal(t, DateOf(tm.AddDate(0, 0, 1)), d.AddDays(1))
		require.Equal(t, DateOf(tm.AddDate(0, 0, -40)), d.AddDays(-40))
	}
	require.Equal(t, Date{2026, 3, 2}, Date{2026, 2, 30}.AddDays(0))
}
