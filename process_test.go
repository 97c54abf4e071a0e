package afterhours

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/afterhours-go/afterhours/internal/proc"
	"github.com/afterhours-go/afterhours/internal/testenv"
)

// waitUntil polls cond, in real time, until it holds; it fails the test
// after a minute.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		<-time.After(5 * time.Millisecond)
	}
}

// pidsWith returns the live processes whose command line starts with
// prefix.
func pidsWith(prefix string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !strings.HasPrefix(strings.ReplaceAll(string(data), "\x00", " "), prefix) {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := strings.LastIndexByte(string(stat), ')'); i > 0 && len(stat) > i+2 && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
				continue
			}
		}
		out = append(out, pid)
	}
	return out
}

// uniqueArg is an argument for sleep to find it by.
func uniqueArg() string { return strconv.FormatInt(1e6+time.Now().UnixNano()%1e6, 10) }

func cgroupsWritable(t *testing.T) {
	t.Helper()
	cgs, err := proc.OpenCgroups()
	why := "cgroup v2 writable"
	if err != nil {
		why += ": " + err.Error()
	} else {
		cgs.Close()
	}
	testenv.Require(t, err == nil, why)
}

// A run whose script starts `setsid sleep 1000` (which also ignores
// SIGTERM) leaves nothing behind, after Kill and after a timeout: each run
// has a cgroup of its own, ended through cgroup.kill (issue 11, item 9).
func TestRunEndsSetsidDescendants(t *testing.T) {
	cgroupsWritable(t)
	for _, how := range []string{"kill", "timeout"} {
		t.Run(how, func(t *testing.T) {
			arg := uniqueArg()
			dir := t.TempDir()
			script := filepath.Join(dir, "long.sh")
			os.WriteFile(script, []byte("#!/bin/sh\n/usr/bin/setsid /bin/sh -c \"trap '' TERM; exec /usr/bin/sleep 1000 "+arg+"\" &\n/usr/bin/sleep 1000\n"), 0o755)
			p, err := ParseProfile([]byte(`{"client": "c", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}},
			  "housekeeping": [{"name": "long", "run": ["` + script + `"], "estimate": "5m", "timeout": "10m"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			clk := clock.NewMock()
			clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
			e, err := NewExecutor(p, WithClock(clk), WithGrace(200*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			ch, unsub := e.Subscribe()
			defer unsub()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- e.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			for ev := range ch {
				if ev.Kind == EventStarted && ev.Task == "long" {
					break
				}
			}
			waitUntil(t, "the setsid sleep", func() bool { return len(pidsWith("/usr/bin/sleep 1000 "+arg)) > 0 })
			if got := e.Status().Isolation; got != IsolationCgroup {
				t.Errorf("Status().Isolation = %q, want %q", got, IsolationCgroup)
			}
			if how == "kill" {
				e.Kill("test")
			} else {
				clk.Add(10 * time.Minute)
			}
			for ev := range ch {
				if ev.Kind == EventFailed && ev.Task == "long" {
					break
				}
			}
			if left := pidsWith("/usr/bin/sleep 1000 " + arg); len(left) > 0 {
				t.Errorf("after the %s, the setsid sleep %v still runs", how, left)
			}
			r := one(t, e.Journal(), "long", StateFailed)
			if !strings.Contains(r.Error, "killed with SIGKILL") || r.Cgroup == "" {
				t.Errorf("long: error %q, cgroup %q", r.Error, r.Cgroup)
			}
			if _, err := os.Stat(r.Cgroup); !os.IsNotExist(err) {
				t.Errorf("the run's cgroup %s is left: %v", r.Cgroup, err)
			}
		})
	}
}

// A task run as another user gets a clean environment: PATH, HOME, USER,
// LOGNAME and SHELL of that user and the AFTERHOURS_* variables, never
// the agent's (issue 11, item 11).
func TestRunAsAnotherUserCleanEnvironment(t *testing.T) {
	testenv.Require(t, os.Geteuid() == 0, "root, to run a task as nobody")
	u, err := proc.LookupUser("nobody")
	testenv.Require(t, err == nil, "a user nobody")
	t.Setenv("AFTERHOURS_AGENT_TOKEN_SECRET", "s3cret") // not of the run's four: not passed on
	t.Setenv("API_TOKEN", "s3cret")
	t.Setenv("PATH", "/opt/agent/bin:"+os.Getenv("PATH"))
	p, err := ParseProfile([]byte(`{"client": "c", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}},
	  "housekeeping": [{"name": "env", "run": ["/usr/bin/env"], "user": "nobody", "estimate": "1m"},
	    {"name": "own", "run": ["/usr/bin/env"], "estimate": "1m"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	e, err := NewExecutor(p, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	runUntilEnded(t, e, 2)
	js := e.Journal()
	got := strings.Split(strings.TrimSpace(one(t, js, "env", StateCompleted).Output), "\n")
	slices.Sort(got)
	want := []string{
		"AFTERHOURS_CYCLE=2026-11-23", "AFTERHOURS_KIND=housekeeping", "AFTERHOURS_RUN=2026-11-23/env#1", "AFTERHOURS_TASK=env",
		"HOME=" + u.Home, "LOGNAME=nobody", "PATH=" + SafePath, "SHELL=" + u.Shell, "USER=nobody",
	}
	if !slices.Equal(got, want) {
		t.Errorf("env as nobody:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The executor's own user keeps the executor's environment, but for
	// its AFTERHOURS_* variables: a run's are the run's.
	own := one(t, js, "own", StateCompleted).Output
	if !strings.Contains(own, "API_TOKEN=s3cret") || !strings.Contains(own, "AFTERHOURS_TASK=own") {
		t.Errorf("env as the executor's user lacks its environment:\n%s", own)
	}
	if strings.Contains(own, "AFTERHOURS_AGENT_TOKEN_SECRET") {
		t.Errorf("env as the executor's user has the executor's own AFTERHOURS_* variables:\n%s", own)
	}
}

// Processes of an interrupted run that outlive SIGKILL (here: a live
// process standing for one in uninterruptible sleep) hold back the
// self-update alone; once they are gone, a re-plan lets it run.
func TestSurvivorsHoldBackTheSelfUpdate(t *testing.T) {
	sleeper, err := proc.Start(proc.Spec{Argv: []string{"/usr/bin/sleep", "1000"}, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctxSleep, stopSleep := context.WithCancel(context.Background())
	slept := make(chan proc.Result, 1)
	go func() { slept <- sleeper.Wait(ctxSleep) }()
	defer func() { stopSleep(); <-slept }()

	p, err := ParseProfile([]byte(`{"client": "c", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}},
	  "updates": [{"name": "u", "run": ["/bin/true"], "estimate": "1m"}],
	  "self_update": {"name": "su", "run": ["/bin/true"], "estimate": "1m"}}`))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	e, err := NewExecutor(p, WithClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	e.survivors = []survivor{{run: "2026-11-22/u-long#1", o: proc.Orphan{Leader: sleeper.Identity}}}
	ch, unsub := e.Subscribe()
	defer unsub()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var deferred *Event
	finished := map[string]bool{}
	for ev := range ch {
		if ev.Kind == EventDeferred && ev.Task == "su" {
			deferred = &ev
		}
		if ev.Kind == EventFinished {
			finished[ev.Task] = true
		}
		if deferred != nil && finished["u"] {
			break
		}
	}
	if deferred.Reason != ReasonOrphaned || !strings.Contains(deferred.Detail, "2026-11-22/u-long#1 (processes ["+strconv.Itoa(sleeper.Identity.PID)+"])") {
		t.Errorf("su deferred %s: %q", deferred.Reason, deferred.Detail)
	}
	stopSleep()
	<-slept
	slept <- proc.Result{}
	if err := e.Update(p); err != nil {
		t.Fatal(err)
	}
	for ev := range ch {
		if ev.Kind == EventFinished && ev.Task == "su" {
			break
		}
		if ev.Kind == EventDeferred && ev.Task == "su" {
			t.Fatalf("su deferred again once the survivor is gone: %s %q", ev.Reason, ev.Detail)
		}
	}
}
