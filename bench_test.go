package afterhours

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// benchProfile builds a profile of n housekeeping and update tasks over a
// few resources, with a UTC and a site slot, in Europe/London.
func benchProfile(tb testing.TB, n, parallel int) *Profile {
	tb.Helper()
	type task struct {
		Name     string   `json:"name"`
		Run      []string `json:"run"`
		Estimate string   `json:"estimate"`
		Uses     []string `json:"uses,omitempty"`
		Tags     []string `json:"tags,omitempty"`
	}
	uses := [][]string{{"disk"}, {"db"}, {"network"}, {"disk", "db"}, nil, {"cpu"}}
	var hk, up []task
	for i := range n - 1 {
		t := task{
			Name:     fmt.Sprintf("task-%04d", i),
			Run:      []string{"/usr/lib/agent/task", fmt.Sprint(i)},
			Estimate: fmt.Sprintf("%ds", 30+(i*37)%300),
			Uses:     uses[i%len(uses)],
		}
		if i%10 == 3 {
			t.Tags = []string{"retail", "!kiosk"}
		}
		if i%3 == 2 {
			up = append(up, t)
		} else {
			hk = append(hk, t)
		}
	}
	doc := map[string]any{
		"client": "bench",
		"site": map[string]any{
			"timezone": "Europe/London", "tags": []string{"uk", "retail"}, "grace": "30m",
			"business_hours": map[string][]string{
				"mon": {"08:00-18:00"}, "tue": {"08:00-18:00"}, "wed": {"08:00-18:00"},
				"thu": {"08:00-18:00"}, "fri": {"08:00-18:00"}, "sat": {"09:00-13:00"},
			},
		},
		"sharing": []map[string]any{
			{"token": "pkg-repo", "base": "01:40", "zone": "UTC", "duration": "20m", "buffer": "10m",
				"uses": []string{"network"}, "tasks": []map[string]any{{"name": "fetch", "run": []string{"/usr/lib/agent/fetch"}}}},
			{"token": "lan", "base": "03:10", "zone": "site", "duration": "30m", "buffer": "15m",
				"tasks": []map[string]any{{"name": "sync", "run": []string{"/usr/lib/agent/sync"}}}},
		},
		"housekeeping": hk,
		"updates":      up,
		"self_update":  map[string]any{"name": "agent", "run": []string{"/usr/lib/agent/self"}, "estimate": "3m"},
		"parallel":     parallel,
	}
	data, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := ParseProfile(data)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkBuildPlan plans profiles of 10 to 10,000 tasks: the design's
// figures are for 30 and 1,000; the sizes between show how the cost grows.
func BenchmarkBuildPlan(b *testing.B) {
	clk := fakeclock.Fixed(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)) // a Tuesday
	for _, n := range []int{10, 30, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			p := benchProfile(b, n, 4)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := BuildPlan(p, clk); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseProfile(b *testing.B) {
	data, err := json.Marshal(map[string]any{
		"client": "bench",
		"site":   map[string]any{"timezone": "Europe/London", "business_hours": map[string][]string{"mon": {"08:00-18:00"}}},
		"sharing": []map[string]any{{"token": "pkg-repo", "base": "01:40", "duration": "20m", "buffer": "10m",
			"tasks": []map[string]any{{"name": "fetch", "run": []string{"/usr/lib/agent/fetch"}}}}},
		"housekeeping": []map[string]any{{"name": "rotate-logs", "run": []string{"/usr/sbin/logrotate"}, "estimate": "2m", "uses": []string{"disk"}}},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseProfile(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCycleAt(b *testing.B) {
	p := benchProfile(b, 2, 1)
	t := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		p.Site.CycleAt(t)
	}
}
