package fleet

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The counts, peaks and sums a counter keeps match a direct computation,
// for slot lengths from a minute to a day, as clients come and go.
func TestCounterPeaks(t *testing.T) {
	utc := newZoneInfo(time.UTC, date(2026, 1, 1), 10)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, dlen := range []int{1, 2, 7, 20, 60, 479, 480, 719, 720, 721, 1000, 1439, 1440} {
		c := newCounter([]*zoneInfo{utc}, 3, 3, 0, dlen)
		var bases []int
		for step := range 40 {
			m := rng.IntN(minutesPerDay)
			if step%4 == 3 && len(bases) > 0 {
				k := rng.IntN(len(bases))
				m = bases[k]
				bases = append(bases[:k], bases[k+1:]...)
				c.remove(m, 0)
			} else {
				bases = append(bases, m)
				c.add(m, 0)
			}
			conc, peak, sum := directCounts(bases, dlen)
			f := c.frames[0]
			for y := range minutesPerDay {
				if f.conc[y] != conc[y] || f.peak[y] != peak[y] || f.sum[y] != sum[y] {
					t.Fatalf("dlen %d, step %d, minute %d: conc %d peak %d sum %d; want %d, %d, %d",
						dlen, step, y, f.conc[y], f.peak[y], f.sum[y], conc[y], peak[y], sum[y])
				}
			}
		}
	}
}

// directCounts returns, for slots of dlen minutes at bases, the clients in
// their slots at each minute of the day, and for a slot from each minute
// the most of them and their sum over its minutes.
func directCounts(bases []int, dlen int) (conc, peak, sum [minutesPerDay]int32) {
	for _, b := range bases {
		for i := range dlen {
			conc[(b+i)%minutesPerDay]++
		}
	}
	for y := range minutesPerDay {
		for i := range dlen {
			v := conc[(y+i)%minutesPerDay]
			peak[y], sum[y] = max(peak[y], v), sum[y]+v
		}
	}
	return conc, peak, sum
}

// A LAN's counter, emptied by reset between LANs, keeps exact counts and
// peaks (it keeps no sums), and reset leaves nothing behind.
func TestCounterReset(t *testing.T) {
	utc := newZoneInfo(time.UTC, date(2026, 1, 1), 10)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, dlen := range []int{1, 20, 720, 721, 1440} {
		c := newCounter([]*zoneInfo{utc}, 3, 3, 4, dlen)
		c.resets = true
		var bases []int
		for step := range 60 {
			if step%10 == 9 {
				c.reset()
				bases = nil
			} else {
				m := rng.IntN(minutesPerDay)
				bases = append(bases, m)
				c.add(m, 0)
			}
			conc, peak, _ := directCounts(bases, dlen)
			f := c.frames[0]
			for y := range minutesPerDay {
				if f.conc[y] != conc[y] || f.peak[y] != peak[y] {
					t.Fatalf("dlen %d, step %d, minute %d: conc %d peak %d; want %d, %d",
						dlen, step, y, f.conc[y], f.peak[y], conc[y], peak[y])
				}
			}
		}
	}
}

// fitsWindows agrees with a direct look at every window's counts, as
// clients come and go around the offset changes of London and Lord Howe
// (a 30-minute one), for fleet and LAN counters.
func TestCounterWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tz := range []string{"Europe/London", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Fatal(err)
		}
		from := date(2026, 3, 25)
		if tz == "Australia/Lord_Howe" {
			from = date(2026, 3, 30) // DST ends on 5 April
		}
		z := newZoneInfo(loc, from, 20)
		for _, lan := range []bool{false, true} {
			c := newCounter([]*zoneInfo{z}, 3, 14, 3, 60)
			c.resets = lan
			if len(c.wins) == 0 {
				t.Fatalf("%s: no window around the offset change", tz)
			}
			var bases []int
			sawFull, sawRefused := false, false
			for step := range 400 {
				switch {
				case lan && step%50 == 49:
					c.reset()
					bases = nil
				case !lan && step%3 == 2 && len(bases) > 0:
					k := rng.IntN(len(bases))
					c.remove(bases[k], 0)
					bases = slices.Delete(bases, k, k+1)
				default:
					// Bases crowd the small hours, where the changes are.
					m := rng.IntN(240)
					if c.fits(m, 0) {
						c.add(m, 0)
						bases = append(bases, m)
					}
				}
				for _, w := range c.wins {
					full := 0
					for _, n := range w.conc {
						if n >= c.cap {
							full++
						}
					}
					if full != w.full {
						t.Fatalf("%s lan=%v step %d: full %d, want %d", tz, lan, step, w.full, full)
					}
					sawFull = sawFull || full > 0
				}
				for m := range 300 {
					want := true
					for _, w := range c.wins {
						for _, i := range w.dates[0] {
							lo, hi := w.span(z.start(i, m), c.dlen)
							for _, n := range w.conc[lo:hi] {
								want = want && n < c.cap
							}
						}
					}
					if got := c.fitsWindows(m, 0); got != want {
						t.Fatalf("%s lan=%v step %d: fitsWindows(%d) = %v, want %v", tz, lan, step, m, got, want)
					}
					sawRefused = sawRefused || !want
				}
			}
			if !sawFull || !sawRefused {
				t.Fatalf("%s lan=%v: no window was ever full (%v) or no slot refused (%v): the case tests nothing", tz, lan, sawFull, sawRefused)
			}
		}
	}
}
