package afterhours_test

import (
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

func TestSiteWallTime(t *testing.T) {
	cases := []struct {
		zone           string
		d              afterhours.Date
		hour, min, sec int
		want           string
	}{
		{"Europe/London", afterhours.Date{Year: 2026, Month: time.November, Day: 24}, 21, 0, 0, "2026-11-24T21:00:00Z"},
		{"Europe/London", afterhours.Date{Year: 2026, Month: time.July, Day: 1}, 21, 0, 0, "2026-07-01T21:00:00+01:00"},
		// The gap: 01:30 does not exist and moves to 02:30 BST.
		{"Europe/London", afterhours.Date{Year: 2026, Month: time.March, Day: 29}, 1, 30, 0, "2026-03-29T02:30:00+01:00"},
		// The overlap: 01:30 occurs twice, the first (BST) counts.
		{"Europe/London", afterhours.Date{Year: 2026, Month: time.October, Day: 25}, 1, 30, 0, "2026-10-25T01:30:00+01:00"},
		{"America/New_York", afterhours.Date{Year: 2026, Month: time.March, Day: 8}, 2, 15, 30, "2026-03-08T03:15:30-04:00"},
		{"Europe/London", afterhours.Date{Year: 2026, Month: time.November, Day: 24}, 24, 0, 0, "2026-11-25T00:00:00Z"},
	}
	for _, c := range cases {
		s := afterhours.Site{Timezone: c.zone}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		got := s.WallTime(c.d, c.hour, c.min, c.sec)
		want, _ := time.Parse(time.RFC3339, c.want)
		if !got.Equal(want) {
			t.Errorf("%s %s %02d:%02d:%02d: got %s, want %s", c.zone, c.d, c.hour, c.min, c.sec, got.Format(time.RFC3339), c.want)
		}
		if got.Location() != s.Location() {
			t.Errorf("%s: result in %v, want the site's zone", c.zone, got.Location())
		}
	}
}
