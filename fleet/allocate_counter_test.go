package fleet

import (
	"math/rand/v2"
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
			var conc [minutesPerDay]int32
			for _, b := range bases {
				for i := range dlen {
					conc[(b+i)%minutesPerDay]++
				}
			}
			f := c.frames[0]
			for y := range minutesPerDay {
				var peak, sum int32
				for i := range dlen {
					v := conc[(y+i)%minutesPerDay]
					peak, sum = max(peak, v), sum+v
				}
				if f.conc[y] != conc[y] || f.peak[y] != peak || f.sum[y] != sum {
					t.Fatalf("dlen %d, step %d, minute %d: conc %d peak %d sum %d; want %d, %d, %d",
						dlen, step, y, f.conc[y], f.peak[y], f.sum[y], conc[y], peak, sum)
				}
			}
		}
	}
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
			var conc [minutesPerDay]int32
			for _, b := range bases {
				for i := range dlen {
					conc[(b+i)%minutesPerDay]++
				}
			}
			f := c.frames[0]
			for y := range minutesPerDay {
				var peak int32
				for i := range dlen {
					peak = max(peak, conc[(y+i)%minutesPerDay])
				}
				if f.conc[y] != conc[y] || f.peak[y] != peak {
					t.Fatalf("dlen %d, step %d, minute %d: conc %d peak %d; want %d, %d",
						dlen, step, y, f.conc[y], f.peak[y], conc[y], peak)
				}
			}
		}
	}
}
