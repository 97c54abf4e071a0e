package fleet

import (
	"testing"
	"time"
)

// start gives the instant the wall-clock rule gives every minute of the
// dates around each offset change of the test zones (gaps, overlaps, a
// 30-minute change, a gap at midnight), and of a sample of other dates.
func TestZoneStart(t *testing.T) {
	for _, tz := range testZones {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Fatal(err)
		}
		first := date(2025, 12, 29)
		z := newZoneInfo(loc, first, 371)
		irregular := 0
		for i := range z.mids {
			d := first.AddDays(i)
			step := 1
			if z.table(i) == nil {
				step = 97
			} else {
				irregular++
				if n := len(z.pieces[i]); n > 4 {
					t.Errorf("%s %v: %d pieces", tz, d, n)
				}
			}
			for m := 0; m < minutesPerDay; m += step {
				if got, want := z.start(i, m), resolve(d, m, loc); got != want {
					t.Fatalf("%s %v minute %d: start %v, want %v", tz, d, m, time.Unix(got, 0).In(loc), time.Unix(want, 0).In(loc))
				}
			}
		}
		if want := len(z.trans) > 0; (irregular > 0) != want {
			t.Errorf("%s: %d dates resolved minute by minute, %d offset changes", tz, irregular, len(z.trans))
		}
	}
}
