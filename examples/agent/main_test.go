package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

// A night of the example profile at 1,200 times real speed, from just
// before its window opens at 18:30: the real scripts run, in order, and
// the journal says so. The test waits for each run to end, however long
// the scripts take on a busy machine (their timeouts are real time); the
// window, 13h30m of the clock, is 40 s of real time for six steps.
func TestAgentNight(t *testing.T) {
	work := t.TempDir()
	out, stop := startAgent(t, "-profile", "agent.profile.json", "-speed", "1200", "-at", "2026-11-23T18:29:00Z", "-work", work)
	steps := []string{
		"housekeeping rotate-logs",
		"housekeeping clean-tmp",
		"housekeeping backup-pos",
		"update openssl-3.0.15",
		"update pos-app-7.2.0",
		"self-update agent-2.4.1",
		"timer inventory",
	}
	for _, step := range steps {
		// (The cycle of 2026-11-22, before, defers every step.)
		if got := out.waitFor(t, "finished "+step, "failed "+step); got != "finished "+step {
			t.Fatalf("%s:\n%s", got, out)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	last := -1
	for _, step := range steps[:6] {
		i := strings.Index(text, "started "+step)
		if i < last {
			t.Errorf("%s started before the step planned before it:\n%s", step, text)
		}
		last = i
	}
	if !strings.Contains(text, "\ncycle 2026-11-23: ") {
		t.Errorf("no summary of the cycle:\n%s", text)
	}
	for _, mark := range []string{"applied-openssl-3.0.15", "applied-pos-app-7.2.0", "backup.tar", "agent-version", "inventory.log"} {
		if _, err := os.Stat(filepath.Join(work, mark)); err != nil {
			t.Errorf("no mark of the scripts: %v", err)
		}
	}
}

// The pkg-repo slot, 01:40-02:00 UTC, runs its task's real script. At 60
// times real speed the slot lasts 20 s of real time, for a script that
// echoes a line.
func TestAgentSlot(t *testing.T) {
	out, stop := startAgent(t, "-profile", "agent.profile.json", "-speed", "60", "-at", "2026-11-24T01:39:30Z", "-work", t.TempDir())
	const task = "shared fetch-packages"
	if got := out.waitFor(t, "finished "+task, "failed "+task); got != "finished "+task {
		t.Fatalf("%s:\n%s", got, out)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if at, ok := strings.CutSuffix(line, " UTC started "+task); ok && (at < "2026-11-24 01:40:00" || at >= "2026-11-24 02:00:00") {
			t.Errorf("started out of its slot: %s", line)
		}
	}
}

// A clock slower than real time is refused: scaled, its timeouts would
// fall below the tasks' estimates.
func TestAgentSpeedBelowOne(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-profile", "agent.profile.json", "-speed", "0.5"}, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "-speed 0.5: want a factor of 1 or more") {
		t.Errorf("-speed 0.5: %v", err)
	}
}

// -for stops the agent after that much of the clock's time: an hour at
// 3,600 times real speed is a second.
func TestAgentFor(t *testing.T) {
	var out bytes.Buffer
	args := []string{"-profile", "agent.profile.json", "-speed", "3600", "-at", "2026-11-23T12:00:00Z", "-for", "1h", "-work", t.TempDir()}
	if err := run(context.Background(), args, &out, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\ncycle 2026-11-22: ") {
		t.Errorf("no summary of the cycle:\n%s", out.String())
	}
}

// The first interrupt stops gracefully; a second one kills, and the kill
// survives a restart until -resume.
func TestAgentInterrupts(t *testing.T) {
	state := t.TempDir()
	args := []string{"-profile", "agent.profile.json", "-speed", "20000", "-at", "2026-11-23T17:00:00Z", "-state", state, "-work", t.TempDir()}
	signals := make(chan os.Signal, 2)
	signals <- os.Interrupt
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, signals); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "interrupt: stopping") || strings.Contains(out.String(), "killed") {
		t.Errorf("one interrupt:\n%s", out.String())
	}
	signals <- os.Interrupt
	signals <- os.Interrupt
	out.Reset()
	if err := run(context.Background(), args, &out, signals); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "killed (killed): interrupted twice") {
		t.Errorf("two interrupts:\n%s", out.String())
	}
	signals <- os.Interrupt
	out.Reset()
	if err := run(context.Background(), args, &out, signals); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "killed since") {
		t.Errorf("restart after a kill:\n%s", out.String())
	}
	signals <- os.Interrupt
	out.Reset()
	if err := run(context.Background(), append(args, "-resume"), &out, signals); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "killed since") || !strings.Contains(out.String(), "resumed") {
		t.Errorf("restart with -resume:\n%s", out.String())
	}
}

// A script's timeout is real time however fast the clock runs: at -speed
// 3600, a timer with a 10m timeout whose run takes longer than 10m/3600 =
// 0.17 s of real time (here: until the clock is past the next quarter
// hour, when the test releases it) finishes, where it used to fail
// "timeout: ran longer than 10m".
func TestAgentTimeoutsTakeRealTime(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wait.sh"), 0o755, `#!/bin/sh
# Runs until the test creates $AGENT_WORK/release.
while [ ! -e "$AGENT_WORK/release" ]; do sleep 0.01; done
`)
	writeFile(t, filepath.Join(dir, "slow.profile.json"), 0o644, `{
  "client": "shop-0042",
  "site": {"name": "leeds", "timezone": "Europe/London",
           "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"]}},
  "timers": [
    {"name": "slow", "repeat": "quarter-hourly", "start": "2026-11-01T00:05:00Z",
     "run": ["${AGENT_DIR}/wait.sh"], "timeout": "10m"}
  ]
}`)
	work := t.TempDir()
	out, stop := startAgent(t, "-profile", filepath.Join(dir, "slow.profile.json"), "-speed", "3600",
		"-at", "2026-11-23T12:04:00Z", "-work", work)
	// 12:20, the next run's time, is past the 12:15 deadline of the
	// first run's 10m on the clock.
	const skipped, failed = "deferred timer slow (overlap)", "failed timer slow"
	if out.waitFor(t, skipped, failed) == failed {
		t.Fatalf("the run that started at 12:05 failed:\n%s", out)
	}
	writeFile(t, filepath.Join(work, "release"), 0o644, "")
	if out.waitFor(t, "finished timer slow", failed) == failed {
		t.Fatalf("the run that started at 12:05 failed:\n%s", out)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// Scaling the timeouts for -speed 3600 gives the scripts their timeouts in
// real time and leaves the plans as they are, that of a step whose
// estimate is its timeout included.
func TestScaleTimeoutsKeepsPlans(t *testing.T) {
	const stepProfile = `{
  "client": "shop-0042",
  "site": {"name": "leeds", "timezone": "Europe/London", "grace": "30m",
           "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"]}},
  "housekeeping": [
    {"name": "vacuum", "run": ["/bin/true"], "timeout": "40m"},
    {"name": "reindex", "run": ["/bin/true"], "estimate": "20m", "timeout": "1h"}
  ]
}`
	load := map[string]func() (*afterhours.Profile, error){
		"agent.profile.json": func() (*afterhours.Profile, error) { return loadProfile("agent.profile.json") },
		"steps":              func() (*afterhours.Profile, error) { return afterhours.ParseProfile([]byte(stepProfile)) },
	}
	for name, load := range load {
		real, err := load()
		if err != nil {
			t.Fatal(err)
		}
		fast, err := load()
		if err != nil {
			t.Fatal(err)
		}
		if err := scaleTimeouts(fast, 3600); err != nil {
			t.Fatal(err)
		}
		for _, at := range []string{"2026-11-23T17:00:00Z", "2026-11-24T01:35:00Z", "2026-11-28T12:00:00Z"} {
			now, err := time.Parse(time.RFC3339, at)
			if err != nil {
				t.Fatal(err)
			}
			want, err := afterhours.PlanAt(real, now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := afterhours.PlanAt(fast, now)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%s planned at %s with the timeouts scaled:\n%s\nwant:\n%s", name, at, got, want)
			}
		}
		for task, want := range map[string]time.Duration{
			"inventory":      10 * time.Minute * 3600,
			"fetch-packages": 20 * time.Minute * 3600,
			"openssl-3.0.15": 30 * time.Minute * 3600,
			"agent-2.4.1":    15 * time.Minute * 3600,
			"clean-tmp":      0, // none: its deadline is the window's end
			"vacuum":         40 * time.Minute * 3600,
			"reindex":        time.Hour * 3600,
		} {
			if task := fast.Task(task); task != nil && time.Duration(task.Timeout) != want {
				t.Errorf("%s: timeout %v, want %v", task.Name, time.Duration(task.Timeout), want)
			}
		}
	}
}

func writeFile(t *testing.T, path string, mode os.FileMode, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// startAgent runs the agent with args on a goroutine until stop is called
// (or the test ends), and returns what it prints as it prints it. stop
// returns what run returned.
func startAgent(t *testing.T, args ...string) (*output, func() error) {
	t.Helper()
	out := &output{changed: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, out, nil) }()
	stop := sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() { stop() })
	return out, stop
}

// outputLimit is how long, in real time, a test waits for a line of the
// agent's output: far longer than the real time anything it waits for
// takes, even on a loaded machine.
const outputLimit = time.Minute

// output is what the agent prints, safe to read while it prints.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // holds a value after a write, until waitFor takes it
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	n, err := o.buf.Write(p)
	o.mu.Unlock()
	select {
	case o.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output holds one of texts, and returns the first
// of them it holds. It fails the test when none comes within outputLimit.
func (o *output) waitFor(t *testing.T, texts ...string) string {
	t.Helper()
	limit := time.After(outputLimit)
	for {
		s := o.String()
		for _, text := range texts {
			if strings.Contains(s, text) {
				return text
			}
		}
		select {
		case <-o.changed:
		case <-limit:
			t.Fatalf("none of %q in %v of real time:\n%s", texts, outputLimit, s)
		}
	}
}

// Started after its window, the agent says the window is over and when the
// next opens, and gathers what it missed on one line instead of a line per
// task and "60 runs missed" of a timer.
func TestAgentStartedAfterWindow(t *testing.T) {
	var out bytes.Buffer
	args := []string{"-profile", "agent.profile.json", "-speed", "3600", "-at", "2026-11-24T09:30:00Z", "-for", "1m", "-work", t.TempDir()}
	if err := run(context.Background(), args, &out, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out.String(), "\n")
	for i, l := range lines {
		// The clock runs fast: drop the seconds that the first events took.
		if strings.HasPrefix(l, "2026-11-24 09:") {
			lines[i] = l[len("2026-11-24 09:30:00 UTC "):]
		}
	}
	want := []string{
		"Tue 24 Nov 09:30 GMT: the window of cycle 2026-11-23 closed at Tue 24 Nov 08:00 GMT; the next opens at Tue 24 Nov 18:30 GMT, in 9h",
		"planned cycle 2026-11-23: 0 steps, 1 slot, 96 timer runs, 6 deferred",
		"missed while the agent was not running: 6 tasks (fetch-packages, rotate-logs, clean-tmp, backup-pos, openssl-3.0.15*, pos-app-7.2.0*); * carried over to the next cycle; and 60 timer runs of inventory",
	}
	if len(lines) < len(want) || strings.Join(lines[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Errorf("first screen:\n%s\nwant it to start with:\n%s", out.String(), strings.Join(want, "\n"))
	}
	if n := strings.Count(out.String(), "(missed)"); n != 0 {
		t.Errorf("%d missed deferrals printed one by one:\n%s", n, out.String())
	}
}

func TestHoursMinutes(t *testing.T) {
	for d, want := range map[time.Duration]string{9 * time.Hour: "9h", 9*time.Hour + 30*time.Minute: "9h30m",
		45 * time.Minute: "45m", 25*time.Hour + 5*time.Minute + 29*time.Second: "25h05m"} {
		if got := hoursMinutes(d); got != want {
			t.Errorf("hoursMinutes(%v) = %q, want %q", d, got, want)
		}
	}
}
