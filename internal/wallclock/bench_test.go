package wallclock_test

import (
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/wallclock"
)

var sink time.Time

func BenchmarkResolve(b *testing.B) {
	london := mustLoad(b, "Europe/London")
	b.Run("common", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = wallclock.Resolve(2026, time.June, 15, 9, 0, 0, london)
		}
	})
	b.Run("near-transition", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = wallclock.Resolve(2026, time.March, 29, 1, 30, 0, london)
		}
	})
}
