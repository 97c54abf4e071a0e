package afterhours

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// idleSpecs are the schedules of n timers: half daily ("0 3 * * *"-like),
// half weekly. Without many, at the night's minutes from 01:00 to 04:59,
// so that specs repeat among timers as they do in a fleet (for 10,000: 240
// daily and 1,680 weekly specs). With many, as few repeat as can: every
// minute of the day for the daily ones (1,440 specs), and no weekly spec
// twice (5,000 for 10,000 timers).
func idleSpecs(n int, many bool) []string {
	specs := make([]string, n)
	for i := range specs {
		k := i / 2
		m, h := k%60, 1+(k/60)%4
		if many {
			m, h = k%60, (k/60)%24
		}
		if i%2 == 0 {
			specs[i] = fmt.Sprintf("%d %d * * *", m, h)
		} else {
			specs[i] = fmt.Sprintf("%d %d * * %d", m, h, (k/1440)%7)
			if !many {
				specs[i] = fmt.Sprintf("%d %d * * %d", m, h, k%7)
			}
		}
	}
	return specs
}

// idleTimersProfile is the JSON of a profile of one timer per spec, with
// distinct names, in a London shop.
func idleTimersProfile(tb testing.TB, specs []string) []byte {
	tb.Helper()
	type timer struct {
		Name     string   `json:"name"`
		Run      []string `json:"run"`
		Schedule string   `json:"schedule"`
	}
	timers := make([]timer, len(specs))
	for i, s := range specs {
		timers[i] = timer{fmt.Sprintf("timer-%05d", i), []string{"/usr/lib/agent/timer"}, s}
	}
	data, err := json.Marshal(map[string]any{
		"client": "bench",
		"site": map[string]any{"timezone": "Europe/London", "grace": "30m", "business_hours": map[string][]string{
			"mon": {"08:00-18:00"}, "tue": {"08:00-18:00"}, "wed": {"08:00-18:00"}, "thu": {"08:00-18:00"}, "fri": {"08:00-18:00"}}},
		"timers": timers,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// heapNow returns the live heap after a full collection.
func heapNow() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// idleExecutorHeap returns the heap an executor of the profile in data
// holds once it is idle (its compiled profile included), running on a
// manual clock at start.
func idleExecutorHeap(tb testing.TB, data []byte, start time.Time) uint64 {
	tb.Helper()
	before := heapNow()
	p, err := ParseProfile(data)
	if err != nil {
		tb.Fatal(err)
	}
	clk := fakeclock.NewManual(start)
	e, err := NewExecutor(p, WithClock(clk))
	if err != nil {
		tb.Fatal(err)
	}
	idle := make(chan struct{}, 1)
	e.idleHook = func(time.Time) {
		select {
		case idle <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	<-idle
	// The loop sleeps on its clock: it holds what it holds while idle.
	clk.WaitTimers(1)
	held := heapNow() - before
	runtime.KeepAlive(e)
	runtime.KeepAlive(p)
	cancel()
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return held
}

// robfigHeap returns the heap robfig/cron holds for specs once started.
func robfigHeap(tb testing.TB, specs []string) uint64 {
	tb.Helper()
	before := heapNow()
	c := cron.New()
	for _, s := range specs {
		if _, err := c.AddFunc(s, func() {}); err != nil {
			tb.Fatal(err)
		}
	}
	c.Start()
	// Entries waits for the scheduler's loop: every entry has its next
	// time, and the loop sleeps until the first.
	if len(c.Entries()) != len(specs) {
		tb.Fatal("robfig/cron lost entries")
	}
	held := heapNow() - before
	runtime.KeepAlive(c)
	<-c.Stop().Done()
	return held
}

// BenchmarkIdleHeap measures, in one run, the heap of an idle executor
// holding n recurring timers (half daily, half weekly, distinct names), its
// compiled profile included, and the heap robfig/cron/v3 holds for the
// same n specs, started: MiB-executor, MiB-robfig and their ratio (the
// design's target: at most 2). The specs repeat as a fleet's do
// (specs=night: 1,920 distinct ones), or hardly at all (specs=many: 6,440
// distinct ones); see idleSpecs. The executor is idle at the start of a
// cycle whose timers are hours away.
func BenchmarkIdleHeap(b *testing.B) {
	// A Tuesday evening, the cycle just begun: the night's timers are hours away.
	start := time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)
	for _, n := range []int{10000} {
		for _, set := range []struct {
			name string
			many bool
		}{{"night", false}, {"many", true}} {
			b.Run(fmt.Sprintf("timers=%d/specs=%s", n, set.name), func(b *testing.B) {
				specs := idleSpecs(n, set.many)
				data := idleTimersProfile(b, specs)
				var ours, theirs uint64
				runs := 0
				for b.Loop() {
					ours += idleExecutorHeap(b, data, start)
					theirs += robfigHeap(b, specs)
					runs++
				}
				runtime.KeepAlive(data)
				const mib = 1 << 20
				b.ReportMetric(float64(ours)/float64(runs)/mib, "MiB-executor")
				b.ReportMetric(float64(theirs)/float64(runs)/mib, "MiB-robfig")
				b.ReportMetric(float64(ours)/float64(theirs), "ratio")
			})
		}
	}
}
