package fleet

import (
	"math"
	"math/rand/v2"
	"testing"
)

// minNode picks the lesser key as (a, b) compare, the first of equal ones,
// at the edges of the 64-bit halves too.
func TestMinNode(t *testing.T) {
	less := func(x, y tnode) bool { return x.a < y.a || x.a == y.a && x.b < y.b }
	edges := []uint64{0, 1, 2, 1<<32 - 1, 1 << 32, 1<<63 - 1, 1 << 63, math.MaxUint64 - 1, math.MaxUint64}
	var keys []tnode
	for _, a := range edges {
		for _, b := range edges {
			keys = append(keys, tnode{a, b})
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		keys = append(keys, tnode{rng.Uint64N(4), rng.Uint64()}, tnode{rng.Uint64(), rng.Uint64N(3)})
	}
	for _, x := range keys {
		for _, y := range keys {
			want := x
			if less(y, x) {
				want = y
			}
			if got := minNode(x, y); got != want {
				t.Fatalf("minNode(%v, %v) = %v, want %v", x, y, got, want)
			}
		}
	}
}
