package afterhours

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// typicalProfile is the design's example shop, with a weekly and a monthly
// housekeeping task, a quarter-hourly timer and two slots.
const typicalProfile = `{
  "client": "shop-0042",
  "site": {
    "name": "leeds", "timezone": "Europe/London", "tags": ["uk", "retail"],
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"],
      "wed": ["08:00-18:00"], "thu": ["08:00-18:00"], "fri": ["08:00-18:00"],
      "sat": ["09:00-13:00"]},
    "closed": ["2026-12-25", "2026-12-26", "2027-01-01"], "grace": "30m"
  },
  "sharing": [
    {"token": "pkg-repo", "base": "01:40", "zone": "UTC", "duration": "20m", "buffer": "10m", "uses": ["network"],
     "tasks": [{"name": "fetch-packages", "run": ["/usr/lib/agent/fetch"]}]},
    {"token": "lan-leeds", "base": "03:10", "zone": "site", "duration": "30m", "buffer": "15m", "uses": ["network"],
     "tasks": [{"name": "sync-media", "run": ["/usr/lib/agent/sync"]}]}
  ],
  "housekeeping": [
    {"name": "rotate-logs", "run": ["/usr/sbin/logrotate", "/etc/logrotate.conf"], "estimate": "2m", "uses": ["disk"]},
    {"name": "vacuum-db", "schedule": "0 3 * * 0", "run": ["/usr/lib/agent/vacuum"], "estimate": "20m", "uses": ["db"]},
    {"name": "backup", "repeat": "monthly", "start": "2026-01-01T02:00:00Z", "run": ["/usr/lib/agent/backup"], "estimate": "40m", "uses": ["disk", "network"]}
  ],
  "updates": [{"name": "openssl-3.0.15", "run": ["/usr/lib/agent/apply", "openssl"], "estimate": "5m", "on_failure": "stop"}],
  "self_update": {"name": "agent-2.4.1", "run": ["/usr/lib/agent/selfupdate"], "estimate": "3m"},
  "timers": [{"name": "inventory", "repeat": "quarter-hourly", "start": "2026-11-01T00:05:00Z", "run": ["/usr/lib/agent/inventory"]}],
  "parallel": 2
}`

func BenchmarkForecast(b *testing.B) {
	p, err := ParseProfile([]byte(typicalProfile))
	if err != nil {
		b.Fatal(err)
	}
	clk := fakeclock.Fixed(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	b.Run("days=365", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Forecast(p, clk, 365); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// cronBenchSpecs are the schedules of the 1,000-task benchmark: a realistic
// mix of daily, weekly, monthly and sub-daily housekeeping.
var cronBenchSpecs = []string{
	"30 2 * * *", "0 3 * * 0", "15 4 1 * *", "*/30 * * * *", "0 */6 * * *", "45 1 * * 1-5",
	"0 22 * * 6", "10 0 1,15 * *", "@daily", "@weekly", "0 5 * * 7", "20 3 * jan,apr,jul,oct *",
}

// distinctSpecs are n different schedules: daily, weekly and monthly, at
// n different times of day, so that no two tasks share a recurrence.
func distinctSpecs(n int) []string {
	specs := make([]string, n)
	for i := range specs {
		m, h := i%60, (i/60)%24
		switch i % 3 {
		case 0:
			specs[i] = fmt.Sprintf("%d %d * * *", m, h)
		case 1:
			specs[i] = fmt.Sprintf("%d %d * * %d", m, h, i%7)
		default:
			specs[i] = fmt.Sprintf("%d %d %d * *", m, h, 1+i%28)
		}
	}
	return specs
}

func cronBenchProfile(b *testing.B, specs []string) *Profile {
	n := len(specs)
	type task struct {
		Name     string   `json:"name"`
		Run      []string `json:"run"`
		Schedule string   `json:"schedule"`
		Estimate string   `json:"estimate"`
		Uses     []string `json:"uses"`
	}
	hk := make([]task, n)
	for i := range hk {
		hk[i] = task{fmt.Sprintf("task-%04d", i), []string{"/usr/lib/agent/task"}, specs[i],
			fmt.Sprintf("%ds", 20+i%40), []string{fmt.Sprintf("r%d", i%8)}}
	}
	doc, err := json.Marshal(map[string]any{
		"client": "bench",
		"site": map[string]any{"timezone": "Europe/London", "grace": "30m", "business_hours": map[string][]string{
			"mon": {"08:00-18:00"}, "tue": {"08:00-18:00"}, "wed": {"08:00-18:00"}, "thu": {"08:00-18:00"}, "fri": {"08:00-18:00"}}},
		"housekeeping": hk,
		"parallel":     4,
	})
	if err != nil {
		b.Fatal(err)
	}
	p, err := ParseProfile(doc)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkCronDue compares BuildPlan for 1,000 cron-scheduled tasks (due-ness
// for the whole cycle, the sequence and the deferrals included) with 1,000
// calls of robfig/cron's Next() for the same specs, the cost it must halve:
// once with a realistic mix of 12 schedules that tasks share, once with
// 1,000 different ones.
func BenchmarkCronDue(b *testing.B) {
	const n = 1000
	clk := fakeclock.Fixed(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	shared := make([]string, n)
	for i := range shared {
		shared[i] = cronBenchSpecs[i%len(cronBenchSpecs)]
	}
	for _, set := range []struct {
		name  string
		specs []string
	}{{"shared", shared}, {"distinct", distinctSpecs(n)}} {
		b.Run(fmt.Sprintf("specs=%s/BuildPlan/tasks=%d", set.name, n), func(b *testing.B) {
			p := cronBenchProfile(b, set.specs)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := BuildPlan(p, clk); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("specs=%s/robfig-Next/tasks=%d", set.name, n), func(b *testing.B) {
			loc := mustLoc(b, "Europe/London")
			scheds := make([]cron.Schedule, n)
			for i := range scheds {
				s, err := cron.ParseStandard(strings.Replace(set.specs[i], "* * 7", "* * 0", 1))
				if err != nil {
					b.Fatal(err)
				}
				s.(*cron.SpecSchedule).Location = loc
				scheds[i] = s
			}
			from := clk.Now()
			b.ReportAllocs()
			for b.Loop() {
				for _, s := range scheds {
					s.Next(from)
				}
			}
		})
	}
}

// BenchmarkMinuteTimer plans a cycle with a "* * * * *" timer (1,440 runs)
// on a plain day and on London's spring-forward day, where wall times are
// resolved and sorted once per date rather than once per run.
func BenchmarkMinuteTimer(b *testing.B) {
	p, err := ParseProfile([]byte(`{"client": "c", "site": {"timezone": "Europe/London"},
	  "timers": [{"name": "t", "run": ["/x"], "schedule": "* * * * *"}]}`))
	if err != nil {
		b.Fatal(err)
	}
	for _, day := range []struct {
		name string
		at   time.Time
	}{{"plain", time.Date(2026, 3, 25, 0, 30, 0, 0, time.UTC)}, {"spring-forward", time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)}} {
		b.Run("day="+day.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := PlanAt(p, day.at); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
