// Command agent runs a profile with an afterhours Executor, as a fleet
// agent would, and prints the executor's events as they happen.
//
// The example profile (agent.profile.json beside this file) runs the real
// scripts under scripts/: they work only inside a work directory, $AGENT_WORK
// (by default a temporary one). "${AGENT_DIR}" in a profile stands for the
// profile's directory, so that its command lines are absolute paths.
//
//	go run ./examples/agent                                  # real time
//	go run ./examples/agent -speed 3600 -at 2026-11-23T17:00:00Z -for 24h
//
// With -speed N (at least 1) the clock runs N times faster than real time,
// from -at. Windows, slots, holds, timer times and plans follow that clock,
// while the scripts themselves, and the grace between SIGTERM and SIGKILL,
// take real time. So a script's timeout is real time too: the agent
// multiplies every task's timeout by N (a timer without one gets
// afterhours.DefaultTimerTimeout times N), so that a 10m timeout still
// gives a script 10 minutes of real time, and not 10m/3600 = 0.17 s at
// -speed 3600; a task whose estimate came from its timeout keeps the
// unscaled timeout as its estimate, so the plans are those of real time.
// The ends of slots and windows stay instants of the clock: at -speed 3600
// a 20m slot lasts 0.33 s of real time, and a slot task still running then
// is stopped, as a real one is at its slot's end. With -state DIR the
// journal is kept in DIR and survives restarts. The first Ctrl-C stops the
// executor gracefully (running scripts get SIGTERM, then SIGKILL after the
// grace); a second one turns the killswitch on, which is saved in the state
// and stays on until a run with -resume.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/afterhours-go/afterhours"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, interrupts()); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

// interrupts delivers SIGINT and SIGTERM.
func interrupts() <-chan os.Signal {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	return ch
}

func run(ctx context.Context, args []string, w io.Writer, signals <-chan os.Signal) error {
	out := &lockedWriter{w: w} // events, notices and signals all print
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(out)
	profile := fs.String("profile", filepath.Join("examples", "agent", "agent.profile.json"), "the profile to run")
	state := fs.String("state", "", "keep the journal in this directory (default: in memory)")
	work := fs.String("work", "", "the scripts' work directory, $AGENT_WORK (default: a temporary one)")
	speed := fs.Float64("speed", 1, "how many times faster than real time the clock runs")
	at := fs.String("at", "", "with -speed, the instant the clock starts at (RFC 3339; default now)")
	runFor := fs.Duration("for", 0, "stop after this much of the clock's time (default: run until interrupted)")
	grace := fs.Duration("grace", 5*time.Second, "real time between SIGTERM and SIGKILL")
	resume := fs.Bool("resume", false, "turn the killswitch off before starting")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !(*speed >= 1) {
		return fmt.Errorf("-speed %v: want a factor of 1 or more", *speed)
	}
	start := time.Now()
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return fmt.Errorf("-at: %w", err)
		}
		start = t
	}
	p, err := loadProfile(*profile)
	if err != nil {
		return err
	}
	if err := scaleTimeouts(p, *speed); err != nil {
		return fmt.Errorf("%s: %w", *profile, err)
	}
	if *work == "" {
		dir, err := os.MkdirTemp("", "afterhours-agent-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*work = dir
	}
	// The scripts inherit the agent's environment.
	if err := os.Setenv("AGENT_WORK", *work); err != nil {
		return err
	}
	clk := newScaledClock(start, *speed)
	opts := []afterhours.Option{afterhours.WithClock(clk), afterhours.WithGrace(*grace),
		afterhours.WithNotifier(afterhours.NotifierFunc(func(_ context.Context, n afterhours.Notice) error {
			fmt.Fprintf(out, "NOTICE %s: cycle %s, %d failed %s\n", n.Kind, n.Day, len(n.Failed), n.Reason)
			return nil
		}))}
	if *state != "" {
		store, err := afterhours.OpenFileStore(*state)
		if err != nil {
			return err
		}
		defer store.Close()
		opts = append(opts, afterhours.WithStore(store))
	}
	e, err := afterhours.NewExecutor(p, opts...)
	if err != nil {
		return err
	}
	if line := windowOver(p, start); line != "" {
		fmt.Fprintln(out, line)
	}
	events, unsubscribe := e.Subscribe()
	var printed sync.WaitGroup
	printed.Go(func() { printEvents(out, events) })
	if *resume {
		e.Resume()
	}
	if st := e.Status(); st.Killed {
		fmt.Fprintf(out, "killed since %s (%s): run with -resume to go on\n", st.KilledAt.Format(time.RFC3339), st.KillReason)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if *runFor > 0 {
		go func() {
			select {
			case <-clk.After(*runFor):
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	stopSignals := make(chan struct{})
	signalsDone := make(chan struct{})
	go func() {
		defer close(signalsDone)
		interrupted := 0
		handle := func() {
			if interrupted++; interrupted == 1 {
				fmt.Fprintln(out, "interrupt: stopping (again to kill)")
				cancel()
			} else {
				e.Kill("interrupted twice")
			}
		}
		for {
			select {
			case <-signals:
				handle()
			case <-stopSignals:
				for {
					select {
					case <-signals:
						handle()
					default:
						return
					}
				}
			}
		}
	}()
	err = e.Run(ctx)
	close(stopSignals)
	<-signalsDone
	unsubscribe()
	printed.Wait()
	summary(out, e)
	return err
}

// loadProfile reads a profile, with ${AGENT_DIR} standing for the
// profile's own directory.
func loadProfile(path string) (*afterhours.Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	p, err := afterhours.ParseProfile([]byte(strings.ReplaceAll(string(data), "${AGENT_DIR}", dir)))
	if err != nil {
		var ve *afterhours.ValidationError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	return p, nil
}

// maxTimeout bounds a scaled timeout, far from time.Duration's overflow.
const maxTimeout = 100 * 365 * 24 * time.Hour

// scaleTimeouts makes the timeouts of p's tasks real time on a clock that
// runs speed times faster than real time: it multiplies each by speed
// (a timer without one gets afterhours.DefaultTimerTimeout times speed).
// A task without an estimate gets its unscaled timeout as its estimate,
// which is what planning took its estimate from, so the plans do not
// change. p is validated again.
func scaleTimeouts(p *afterhours.Profile, speed float64) error {
	if speed == 1 {
		return nil
	}
	scale := func(t *afterhours.Task) {
		timeout := time.Duration(t.Timeout)
		if timeout == 0 {
			if t.Kind() != afterhours.Timer {
				return // a step's deadline is then the window's end, a slot task's the slot's
			}
			timeout = afterhours.DefaultTimerTimeout
		} else if t.Estimate == 0 {
			t.Estimate = t.Timeout
		}
		t.Timeout = afterhours.Duration(min(float64(timeout)*speed, float64(maxTimeout)))
	}
	for _, tok := range p.Sharing {
		for _, t := range tok.Tasks {
			scale(t)
		}
	}
	for _, list := range [][]*afterhours.Task{p.Housekeeping, p.Updates, {p.SelfUpdate}, p.Timers} {
		for _, t := range list {
			if t != nil {
				scale(t)
			}
		}
	}
	return p.Validate()
}

// summary prints each cycle's lists.
func summary(out io.Writer, e *afterhours.Executor) {
	for _, c := range e.Journal() {
		fmt.Fprintf(out, "cycle %s: %d completed, %d failed, %d deferred, %d to do\n",
			c.Day, len(c.Completed()), len(c.Failed()), len(c.Deferred()), len(c.ToDo()))
		for _, r := range c.Failed() {
			fmt.Fprintf(out, "  failed %s %s: %s\n", r.Kind, r.Task, r.Error)
		}
	}
}

// scaledClock runs speed times faster than real time, from start.
type scaledClock struct {
	start, real time.Time
	speed       float64
}

func newScaledClock(start time.Time, speed float64) *scaledClock {
	return &scaledClock{start: start, real: time.Now(), speed: speed}
}

func (c *scaledClock) Now() time.Time {
	return c.start.Add(time.Duration(float64(time.Since(c.real)) * c.speed))
}

func (c *scaledClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	time.AfterFunc(time.Duration(float64(d)/c.speed), func() { ch <- c.Now() })
	return ch
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
