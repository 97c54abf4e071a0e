package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

// TestFleetDay runs the example for one simulated day at 10,000 times real
// speed (about 9 s): every client ran all its due housekeeping, every
// failed housekeeping run is an injected one, the shared repository never
// had more clients in a minute than its capacity, the midday command ran on
// every client of the tagged site, and the status was printed every 6
// simulated hours.
func TestFleetDay(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a simulated day (seconds of real time)")
	}
	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"-days", "1", "-speed", "10000"}, &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &out, &errOut)
	}
	got := out.String()
	t.Log("\n" + got)
	if errOut.Len() > 0 {
		t.Errorf("stderr:\n%s", &errOut)
	}
	if n := strings.Count(got, "] clients: "); n != 4 {
		t.Errorf("%d status lines, want 4 (every 6 hours of a day)", n)
	}
	for _, want := range []string{
		"50 agents in 3 sites",
		"0 never seen",
		"clients that ran all their due housekeeping: 50/50",
		"minutes over capacity: 0",
		`operator: command restart-printers queued for tag "uk": 17 clients`,
		`command restart-printers (tag "uk"): completed on 17 of 17 clients`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	m := regexp.MustCompile(`housekeeping runs: (\d+) completed, (\d+) failed \((\d+) of them injected\)`).FindStringSubmatch(got)
	if m == nil {
		t.Fatal("no housekeeping line")
	}
	completed, _ := strconv.Atoi(m[1])
	if m[2] != m[3] {
		t.Errorf("%s failed housekeeping runs, %s injected: some failed for another reason", m[2], m[3])
	}
	// Each client runs 3 tasks a night.
	if failed, _ := strconv.Atoi(m[2]); completed+failed != 150 {
		t.Errorf("%d housekeeping runs, want 150", completed+failed)
	}
}

// TestFailing: the injected failures are a function of the seed, the client
// and the run, at the rate asked.
func TestFailing(t *testing.T) {
	n := 0
	for i := range 10000 {
		run := fmt.Sprintf("2026-11-23/rotate-logs#%d", i)
		f := failing(1, "shop-001", run, 5)
		if f != failing(1, "shop-001", run, 5) {
			t.Fatal("failing is not deterministic")
		}
		if failing(1, "shop-001", run, 0) || !failing(1, "shop-001", run, 100) {
			t.Fatal("rate 0 failed, or rate 100 did not")
		}
		if f {
			n++
		}
	}
	if n < 400 || n > 600 {
		t.Errorf("%d of 10000 runs failed at rate 5, want about 500", n)
	}
}

// TestMeter: the load counts the runs in each minute and the minutes over
// capacity.
func TestMeter(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2026, 11, 23, 20, min, 0, 0, time.UTC) }
	var m meter
	m.add(afterhours.Interval{Start: at(0), End: at(5)})
	m.add(afterhours.Interval{Start: at(3), End: at(8)})
	m.add(afterhours.Interval{Start: at(4), End: at(6)})
	m.add(afterhours.Interval{Start: at(10), End: at(12)})
	runs, peak, over := m.load(2)
	if runs != 4 || peak != 3 || over != 1 { // 20:04 has three runs
		t.Errorf("load(2) = %d runs, peak %d, %d minutes over; want 4, 3, 1", runs, peak, over)
	}
}

// TestFlags: -h prints the flags and is no error; values out of range are
// refused before anything starts.
func TestFlags(t *testing.T) {
	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"-h"}, &out, &errOut); err != nil || !strings.Contains(errOut.String(), "-speed") {
		t.Errorf("-h: %v\n%s", err, &errOut)
	}
	for _, args := range [][]string{{"-days", "0"}, {"-speed", "0.5"}, {"-agents", "0"}, {"-fail", "101"}} {
		if err := run(context.Background(), args, &out, &errOut); err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
	if out.Len() > 0 {
		t.Errorf("stdout: %q", &out)
	}
}
