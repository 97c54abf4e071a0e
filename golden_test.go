package afterhours

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// testHistory is a History and FailureHistory for tests. Its JSON form, in
// testdata/<case>.history.json, is
//
//	{"settled":   {"task": ["2026-06-17", "*"]},
//	 "failed":    {"task": ["2026-06-17"]},
//	 "durations": {"task": ["25m", "18m"]}}
//
// where "*" settles the task for every cycle (a completed one-off) and
// durations are newest first.
type testHistory struct {
	settled   map[string][]string
	failed    map[string][]string
	durations map[string][]time.Duration
}

func (h *testHistory) Settled(task, day string) bool {
	return slices.Contains(h.settled[task], day) || slices.Contains(h.settled[task], "*")
}

func (h *testHistory) Failed(task, day string) bool { return slices.Contains(h.failed[task], day) }

func (h *testHistory) Durations(task string) []time.Duration { return h.durations[task] }

var _ FailureHistory = (*testHistory)(nil)

func parseTestHistory(data []byte) (*testHistory, error) {
	var raw struct {
		Settled   map[string][]string `json:"settled"`
		Failed    map[string][]string `json:"failed"`
		Durations map[string][]string `json:"durations"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	h := &testHistory{settled: raw.Settled, failed: raw.Failed, durations: map[string][]time.Duration{}}
	for task, list := range raw.Durations {
		for _, s := range list {
			d, err := time.ParseDuration(s)
			if err != nil {
				return nil, fmt.Errorf("durations of %s: %w", task, err)
			}
			h.durations[task] = append(h.durations[task], d)
		}
	}
	return h, nil
}

// goldenCase is a golden plan and what was worked out for it by hand from
// the rules: the cycle, the window, and (in UTC) each slot, step and
// deferral. Instants are written "01-02T15:04" in UTC.
type goldenCase struct {
	now      string // RFC 3339
	day      string
	window   [2]string // RFC 3339, UTC
	slots    []string  // "token 01-02T15:04" of the run's start, " void" when void, then " [tasks]"
	steps    []string  // "task 01-02T15:04-15:04"
	deferred []string  // "task reason"
}

var goldenCases = map[string]goldenCase{
	// Sunday 29 March 2026, clocks go from 01:00 GMT to 02:00 BST. Sunday is
	// closed, so its cycle starts at midnight (later than Saturday's 13:30)
	// and its window runs to Monday 08:00 BST. The site-zone slot at 01:30
	// does not exist that night: it is 02:30 BST, 01:30Z, and its hold
	// (01:15Z-02:00Z) pushes the LAN backup to 02:00Z.
	"london-spring-gap": {
		now:    "2026-03-29T00:50:00Z",
		day:    "2026-03-29",
		window: [2]string{"2026-03-29T00:00:00Z", "2026-03-30T07:00:00Z"},
		slots: []string{
			"lan-leeds 03-29T01:30 [sync-pos-catalog]", "pkg-repo 03-29T03:00 [fetch-packages]",
			"lan-leeds 03-30T00:30 [sync-pos-catalog]", "pkg-repo 03-30T03:00 [fetch-packages]",
		},
		steps: []string{
			"rotate-logs 03-29T00:50-00:52", "backup-to-nas 03-29T02:00-02:40", "vacuum-db 03-29T02:40-03:00",
			"openssl-3.0.15 03-29T03:20-03:25", "agent-2.4.1 03-29T03:25-03:28",
		},
	},
	// Sunday 25 October 2026, clocks go from 02:00 BST back to 01:00 GMT.
	// Sunday's cycle starts at its midnight, 23:00Z on Saturday. 01:30
	// happens twice; the slot takes the first, 01:30 BST = 00:30Z.
	"london-fall-overlap": {
		now:    "2026-10-25T00:00:00Z",
		day:    "2026-10-25",
		window: [2]string{"2026-10-24T23:00:00Z", "2026-10-26T08:00:00Z"},
		slots: []string{
			"lan-leeds 10-25T00:30 [sync-pos-catalog]", "pkg-repo 10-25T03:00 [fetch-packages]",
			"lan-leeds 10-26T01:30 [sync-pos-catalog]", "pkg-repo 10-26T03:00 [fetch-packages]",
		},
		steps: []string{
			"rotate-logs 10-25T00:00-00:02", "backup-to-nas 10-25T01:00-01:40", "vacuum-db 10-25T01:40-02:00",
			"openssl-3.0.15 10-25T02:00-02:05", "agent-2.4.1 10-25T02:05-02:08",
		},
	},
	// Sunday 8 March 2026 in New York: 02:00 EST jumps to 03:00 EDT. The
	// store LAN slot at 02:30 is 03:30 EDT, 07:30Z; Saturday's cycle (closing
	// 21:00 EST + 30m) has a window to Sunday's 11:00 EDT opening.
	"newyork-spring-gap": {
		now:    "2026-03-08T05:00:00Z",
		day:    "2026-03-07",
		window: [2]string{"2026-03-08T02:30:00Z", "2026-03-08T15:00:00Z"},
		slots:  []string{"pkg-repo 03-08T06:40 [fetch-packages]", "store-lan 03-08T07:30 [sync-price-labels]"},
		steps: []string{
			"rotate-logs 03-08T05:00-05:02", "backup-to-nas 03-08T08:00-10:30", "vacuum-db 03-08T10:30-10:50",
			"openssl-3.0.15 03-08T10:50-10:55", "agent-2.4.1 03-08T10:55-10:58",
		},
	},
	// Sunday 1 November 2026 in New York: 02:00 EDT falls back to 01:00 EST.
	// The slot at 01:30 takes its first occurrence, 01:30 EDT = 05:30Z.
	"newyork-fall-overlap": {
		now:    "2026-11-01T04:00:00Z",
		day:    "2026-10-31",
		window: [2]string{"2026-11-01T01:30:00Z", "2026-11-01T16:00:00Z"},
		slots:  []string{"store-lan 11-01T05:30 [sync-price-labels]", "pkg-repo 11-01T06:40 [fetch-packages]"},
		steps: []string{
			"rotate-logs 11-01T04:00-04:02", "backup-to-nas 11-01T06:00-08:30", "vacuum-db 11-01T08:30-08:50",
			"openssl-3.0.15 11-01T08:50-08:55", "agent-2.4.1 11-01T08:55-08:58",
		},
	},
	// Lord Howe, Sunday 4 October 2026: 02:00 +10:30 jumps to 02:30 +11.
	// The slot at 02:15 is read with +10:30: 02:45 +11, 15:45Z on the 3rd.
	"lordhowe-gap": {
		now:    "2026-10-03T15:00:00Z",
		day:    "2026-10-03",
		window: [2]string{"2026-10-03T07:30:00Z", "2026-10-03T21:00:00Z"},
		slots:  []string{"island-link 10-03T15:45 [upload-sales]"},
		steps: []string{
			"rotate-logs 10-03T15:00-15:02", "sync-bookings 10-03T16:05-16:45", "vacuum-db 10-03T16:45-17:05",
			"pos-7.2.1 10-03T17:05-17:10", "agent-2.4.1 10-03T17:10-17:13",
		},
	},
	// Lord Howe, Sunday 5 April 2026: 02:00 +11 falls back to 01:30 +10:30.
	// 01:45 happens twice; the slot takes the first, 01:45 +11 = 14:45Z.
	"lordhowe-overlap": {
		now:    "2026-04-04T14:00:00Z",
		day:    "2026-04-04",
		window: [2]string{"2026-04-04T07:00:00Z", "2026-04-04T21:30:00Z"},
		slots:  []string{"island-link 04-04T14:45 [upload-sales]"},
		steps: []string{
			"rotate-logs 04-04T14:00-14:02", "sync-bookings 04-04T15:05-15:45", "vacuum-db 04-04T15:45-16:05",
			"pos-7.2.1 04-04T16:05-16:10", "agent-2.4.1 04-04T16:10-16:13",
		},
	},
	// Kathmandu is +05:45: Wednesday's close at 18:00 + 15m is 12:30Z, and
	// Thursday opens at 10:00, 04:15Z. The UTC slot at 20:00Z is 01:45 local.
	"kathmandu": {
		now:    "2026-07-15T19:00:00Z",
		day:    "2026-07-15",
		window: [2]string{"2026-07-15T12:30:00Z", "2026-07-16T04:15:00Z"},
		slots:  []string{"pkg-repo 07-15T20:00 [fetch-packages]"},
		steps: []string{
			"rotate-logs 07-15T19:00-19:02", "mirror-formulary 07-15T20:30-21:20", "vacuum-db 07-15T21:20-21:40",
			"apt-upgrade 07-15T21:40-21:55", "agent-2.4.1 07-15T21:55-21:58",
		},
	},
	// Christmas Day, a Friday, and Boxing Day are closed: each is a cycle
	// from its own midnight to the next, the whole day a window.
	"closed-date": {
		now:    "2026-12-25T10:00:00Z",
		day:    "2026-12-25",
		window: [2]string{"2026-12-25T00:00:00Z", "2026-12-26T00:00:00Z"},
		slots:  []string{"pkg-repo 12-25T01:40 [fetch-packages]"},
		steps: []string{
			"rotate-logs 12-25T10:00-10:02", "full-backup 12-25T10:02-16:02", "vacuum-db 12-25T16:02-16:22",
			"openssl-3.0.15 12-25T16:22-16:27", "agent-2.4.1 12-25T16:27-16:30",
		},
	},
	// Saturday 13 June 2026 closes at 13:00 BST; Sunday is closed, so the
	// cycle of Saturday ends at Sunday's midnight. No pkg-repo slot starts
	// in it; the LAN slot at 22:00 BST holds 20:30Z-21:45Z, so the 8h weekly
	// backup cannot fit after it and is window-full, without holding back the
	// vacuum.
	"weekend": {
		now:    "2026-06-13T11:00:00Z",
		day:    "2026-06-13",
		window: [2]string{"2026-06-13T12:30:00Z", "2026-06-13T23:00:00Z"},
		slots:  []string{"lan-leeds 06-13T21:00 [sync-pos-catalog]"},
		steps: []string{
			"rotate-logs 06-13T12:30-12:32", "vacuum-db 06-13T12:32-12:52",
			"openssl-3.0.15 06-13T12:52-12:57", "agent-2.4.1 06-13T12:57-13:00",
		},
		deferred: []string{"fetch-packages no-slot", "weekly-backup window-full"},
	},
	// The pub closes at 24:00 on Friday 12 June and Saturday is closed.
	// Friday's anchor is Saturday 00:30 BST, and Saturday's anchor is never
	// earlier, so Friday's cycle is empty; at 23:30 on Friday the plan is
	// for Saturday's cycle, whose window runs to Sunday's 12:00 opening.
	"open-until-midnight": {
		now:    "2026-06-12T22:30:00Z",
		day:    "2026-06-13",
		window: [2]string{"2026-06-12T23:30:00Z", "2026-06-14T11:00:00Z"},
		slots:  []string{"pkg-repo 06-13T02:00 [fetch-packages]", "pkg-repo 06-14T02:00 [fetch-packages]"},
		steps: []string{
			"rotate-logs 06-12T23:30-23:32", "export-takings 06-12T23:32-23:47",
			"till-firmware-4.1 06-12T23:47-06-13T00:12", "agent-2.4.1 06-13T00:12-00:15",
		},
	},
	// Chicago, Tuesday 7 July 2026: closing 21:00 CDT + 15m is 02:15Z, the
	// window runs to 09:00 CDT, 14:00Z, across local midnight (05:00Z). The
	// self-update ends at 07:50Z, exactly where the pkg-repo buffer starts.
	"window-across-midnight": {
		now:    "2026-07-08T03:30:00Z",
		day:    "2026-07-07",
		window: [2]string{"2026-07-08T02:15:00Z", "2026-07-08T14:00:00Z"},
		slots:  []string{"store-lan 07-08T06:00 [sync-shelf-labels]", "pkg-repo 07-08T08:00 [fetch-packages]"},
		steps: []string{
			"rotate-logs 07-08T03:30-03:32", "backup-to-nas 07-08T03:32-05:32", "vacuum-db 07-08T05:32-06:02",
			"index-catalog 07-08T06:30-07:30", "pos-11.4 07-08T07:30-07:45", "agent-2.4.1 07-08T07:45-07:50",
		},
	},
	// Berlin, Tuesday 15 September 2026 (CEST, +2): closing 19:00 + 30m is
	// 17:30Z, Wednesday opens at 07:00, 05:00Z. The UTC slot at 01:40Z and
	// the site slot at 03:00 CEST = 01:00Z both hold parts of the night;
	// two lanes.
	"slots-both-zones": {
		now:    "2026-09-16T00:00:00Z",
		day:    "2026-09-15",
		window: [2]string{"2026-09-15T17:30:00Z", "2026-09-16T05:00:00Z"},
		slots:  []string{"lan-berlin 09-16T01:00 [sync-pos-catalog push-sales]", "pkg-repo 09-16T01:40 [fetch-packages]"},
		steps: []string{
			"rotate-logs 09-16T00:00-00:02", "backup-to-nas 09-16T01:30-03:30", "upload-metrics 09-16T02:00-02:30",
			"vacuum-db 09-16T02:30-02:50", "scanner-firmware-2.9 09-16T03:30-04:00", "agent-2.4.1 09-16T04:00-04:03",
		},
	},
	// A 7h30m window (23:30 to 07:00 GMT): the 6h backup takes most of it,
	// the 2h reindex no longer fits, the 9h OS upgrade never could, and the
	// self-update waits for it (rule 5).
	"full-window": {
		now:    "2026-01-14T23:30:00Z",
		day:    "2026-01-14",
		window: [2]string{"2026-01-14T23:30:00Z", "2026-01-15T07:00:00Z"},
		slots:  []string{"pkg-repo 01-15T02:00 [fetch-packages]"},
		steps: []string{
			"rotate-logs 01-14T23:30-23:32", "full-backup 01-14T23:32-01-15T05:32", "vacuum-db 01-15T05:32-06:02",
			"openssl-3.0.15 01-15T06:02-06:12",
		},
		deferred: []string{"reindex-catalog window-full", "os-upgrade-24.04 window-full", "agent-2.4.1 updates-pending"},
	},
	// Three lanes, Tuesday 12 May 2026 from 19:00 BST: disjoint uses run side
	// by side, trim-cache waits for rotate-logs (disk), legacy-cleanup
	// declares no uses and so waits until nothing runs, sync-loyalty waits
	// for it.
	"parallel-3-uses": {
		now:    "2026-05-12T18:00:00Z",
		day:    "2026-05-12",
		window: [2]string{"2026-05-12T17:30:00Z", "2026-05-13T07:00:00Z"},
		slots:  []string{"pkg-repo 05-13T01:40 [fetch-packages]"},
		steps: []string{
			"rotate-logs 05-12T18:00-18:30", "vacuum-db 05-12T18:00-18:40", "trim-cache 05-12T18:30-18:50",
			"upload-metrics 05-12T18:30-18:45", "legacy-cleanup 05-12T18:50-19:00", "sync-loyalty 05-12T19:00-19:25",
			"openssl-3.0.15 05-12T19:25-19:30", "kernel-6.8.0-51 05-12T19:25-19:30", "agent-2.4.1 05-12T19:30-19:33",
		},
	},
	// Site tags uk, retail, pharmacy: plain tags, !tags, case-sensitivity.
	"tag-selectors": {
		now:    "2026-05-13T21:00:00Z",
		day:    "2026-05-13",
		window: [2]string{"2026-05-13T17:30:00Z", "2026-05-14T07:00:00Z"},
		slots:  []string{"pkg-repo 05-14T01:40 [fetch-packages]"},
		steps: []string{
			"rotate-logs 05-13T21:00-21:02", "vacuum-db 05-13T21:02-21:22", "purge-prescriptions-cache 05-13T21:22-21:27",
			"rx-module-5.2 05-13T21:27-21:37", "agent-2.4.1 05-13T21:37-21:40",
		},
		deferred: []string{
			"fetch-kiosk-media tag-mismatch", "reset-self-checkout tag-mismatch", "grocery-price-sync tag-mismatch",
			"kiosk-screen-test tag-mismatch", "legacy-report disabled", "us-tax-tables-2026 tag-mismatch",
		},
	},
	// History: rotate-logs ran this cycle, openssl is done for good,
	// vacuum-db's three newest runs give 40m (the 2h is older), backup's only
	// run of 0s falls back to its timeout (1h), check-disks has nothing and
	// takes 10m, pos-11.4 took 1h05.
	"history": {
		now:    "2026-06-17T18:00:00Z",
		day:    "2026-06-17",
		window: [2]string{"2026-06-17T17:30:00Z", "2026-06-18T07:00:00Z"},
		slots:  []string{"pkg-repo 06-18T01:40 [fetch-packages]"},
		steps: []string{
			"vacuum-db 06-17T18:00-18:40", "backup-to-nas 06-17T18:40-19:40", "check-disks 06-17T19:40-19:50",
			"pos-11.4 06-17T19:50-20:55", "agent-2.4.1 06-17T20:55-20:58",
		},
		deferred: []string{"fetch-price-files done", "rotate-logs done", "openssl-3.0.15 done"},
	},
	// openssl (on_failure stop) failed in this cycle: everything not settled
	// is stopped, slot tasks and the self-update included.
	"history-stopped": {
		now:    "2026-06-17T18:00:00Z",
		day:    "2026-06-17",
		window: [2]string{"2026-06-17T17:30:00Z", "2026-06-18T07:00:00Z"},
		slots:  []string{"pkg-repo 06-18T01:40 []"},
		deferred: []string{
			"fetch-packages stopped", "fetch-price-files stopped", "rotate-logs done", "vacuum-db stopped",
			"backup-to-nas stopped", "check-disks stopped", "openssl-3.0.15 failed", "pos-11.4 stopped", "agent-2.4.1 stopped",
		},
	},
	// A station kiosk with no business hours on the spring-forward day: the
	// cycle is the whole 23-hour day. The browser update waits for the
	// pkg-repo hold, the self-update for the end of the Wi-Fi slot (03:00
	// BST = 02:00Z to 04:00 BST).
	"kiosk": {
		now:    "2026-03-29T00:30:00Z",
		day:    "2026-03-29",
		window: [2]string{"2026-03-29T00:00:00Z", "2026-03-29T23:00:00Z"},
		slots:  []string{"pkg-repo 03-29T01:40 [fetch-packages]", "station-wifi 03-29T02:00 [fetch-timetables]"},
		steps: []string{
			"rotate-logs 03-29T00:30-00:32", "refresh-ads 03-29T00:32-00:52", "screen-burn-in-cycle 03-29T00:52-01:07",
			"kiosk-browser-126 03-29T02:00-02:30", "agent-2.4.1 03-29T03:00-03:03",
		},
	},
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.profile.json"))
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".profile.json"))
	}
	for name := range goldenCases {
		require.Contains(t, names, name, "case %s has no profile", name)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			gc, ok := goldenCases[name]
			require.True(t, ok, "testdata/%s.profile.json has no case in goldenCases", name)
			p, err := LoadProfile(filepath.Join("testdata", name+".profile.json"))
			require.NoError(t, err)
			var h History
			if data, err := os.ReadFile(filepath.Join("testdata", name+".history.json")); err == nil {
				th, err := parseTestHistory(data)
				require.NoError(t, err)
				h = th
			} else {
				require.ErrorIs(t, err, os.ErrNotExist)
			}
			now, err := time.Parse(time.RFC3339, gc.now)
			require.NoError(t, err)
			plan, err := PlanAt(p, now, WithHistory(h))
			require.NoError(t, err)

			got := goldenText(t, plan)
			path := filepath.Join("testdata", name+".plan.golden")
			if *update {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -run TestGolden -update")
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the plan (go test -run TestGolden -update rewrites it):\n%s", path, goldenDiff(want, got))
			}

			checkPlan(t, p, now, h, plan)
			gc.check(t, plan)
		})
	}
}

// goldenText is the golden form of a plan: its text, then its indented JSON.
func goldenText(t *testing.T, plan *Plan) []byte {
	var b bytes.Buffer
	require.NoError(t, plan.WriteText(&b))
	b.WriteString("\n")
	js, err := json.MarshalIndent(plan, "", "  ")
	require.NoError(t, err)
	b.Write(js)
	b.WriteString("\n")
	return b.Bytes()
}

// goldenDiff shows the lines around the first difference of two texts.
func goldenDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d\n", i+1)
	for j := max(0, i-3); j < i; j++ {
		fmt.Fprintf(&b, "  %s\n", w[j])
	}
	for j := i; j < min(len(w), i+6); j++ {
		fmt.Fprintf(&b, "- %s\n", w[j])
	}
	for j := i; j < min(len(g), i+6); j++ {
		fmt.Fprintf(&b, "+ %s\n", g[j])
	}
	return b.String()
}

// check compares the plan with what was worked out by hand.
func (gc goldenCase) check(t *testing.T, plan *Plan) {
	t.Helper()
	utc := func(ts time.Time) string { return ts.UTC().Format(time.RFC3339) }
	short := func(ts time.Time) string { return ts.UTC().Format("01-02T15:04") }
	if plan.Day != gc.day || utc(plan.Window.Start) != gc.window[0] || utc(plan.Window.End) != gc.window[1] {
		t.Errorf("cycle %s window [%s, %s), want cycle %s window [%s, %s)",
			plan.Day, utc(plan.Window.Start), utc(plan.Window.End), gc.day, gc.window[0], gc.window[1])
	}
	var slots, steps, deferred []string
	for _, s := range plan.Slots {
		line := s.Token + " " + short(s.Run.Start)
		if s.Void {
			line += " void"
		}
		var tasks []string
		for _, task := range s.Tasks {
			tasks = append(tasks, task.Name)
		}
		slots = append(slots, line+" ["+strings.Join(tasks, " ")+"]")
	}
	for _, s := range plan.Steps {
		end := s.End.UTC().Format("15:04")
		if s.End.UTC().YearDay() != s.Start.UTC().YearDay() {
			end = short(s.End)
		}
		steps = append(steps, s.Task.Name+" "+short(s.Start)+"-"+end)
	}
	for _, d := range plan.Deferred {
		deferred = append(deferred, d.Task.Name+" "+d.Reason)
	}
	require.Equal(t, gc.slots, slots, "slots")
	require.Equal(t, gc.steps, steps, "steps")
	require.Equal(t, gc.deferred, deferred, "deferred")
}

// TestPlanSkipsCyclesWithoutWindow plans at an instant after which the next
// cycle's window is empty: rule 2 wants the next cycle with a non-empty
// window, never an empty one.
func TestPlanSkipsCyclesWithoutWindow(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		now     string
		day     string
		window  [2]string
	}{
		{
			// Open every day 07:00-21:00 with a 12h grace: every anchor is
			// 09:00 the next day, in business time, so every window is
			// empty except Saturday's, which closes at 13:00 (anchor Sunday
			// 01:00, window to Sunday's 07:00 opening... Sunday is closed,
			// so to Monday 07:00).
			name: "grace pushes the anchor into the next day's business hours",
			profile: `{"client": "c", "site": {"timezone": "Europe/London", "grace": "12h",
				"business_hours": {"mon": ["07:00-21:00"], "tue": ["07:00-21:00"], "wed": ["07:00-21:00"],
				"thu": ["07:00-21:00"], "fri": ["07:00-21:00"], "sat": ["07:00-13:00"]}},
				"housekeeping": [{"name": "rotate", "run": ["/bin/rotate"]}]}`,
			now: "2026-06-10T12:00:00Z", // Wednesday
			// Saturday's anchor is Sunday 01:00 BST; Sunday is closed, so
			// Sunday's raw anchor (00:00) is earlier and its cycle starts
			// at 01:00 too: Saturday's span is empty and Sunday's window
			// runs from 01:00 BST to Monday 07:00 BST.
			day:    "2026-06-14",
			window: [2]string{"2026-06-14T00:00:00Z", "2026-06-15T06:00:00Z"},
		},
		{
			name: "open until 24:00, then a closed day",
			profile: `{"client": "c", "site": {"timezone": "Europe/London", "grace": "30m",
				"business_hours": {"fri": ["11:00-24:00"], "sun": ["12:00-22:00"]}},
				"housekeeping": [{"name": "rotate", "run": ["/bin/rotate"]}]}`,
			now:    "2026-06-12T22:30:00Z",
			day:    "2026-06-13",
			window: [2]string{"2026-06-12T23:30:00Z", "2026-06-14T11:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(tt.profile))
			require.NoError(t, err)
			now, err := time.Parse(time.RFC3339, tt.now)
			require.NoError(t, err)
			plan, err := PlanAt(p, now)
			require.NoError(t, err)
			got := fmt.Sprintf("%s [%s, %s)", plan.Day, plan.Window.Start.UTC().Format(time.RFC3339), plan.Window.End.UTC().Format(time.RFC3339))
			want := fmt.Sprintf("%s [%s, %s)", tt.day, tt.window[0], tt.window[1])
			require.Equal(t, want, got)
			checkPlan(t, p, now, nil, plan)
		})
	}
}
