package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/fleet"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// exited is the end of one controller process.
type exited struct {
	name string
	err  error
}

// monitor starts the controllers (this executable again, with args and the
// rollout's prefix) and prints the rollout's progress every s.every until
// they have all exited, then once more. The first value on signals throws
// the killswitch. It returns an error when a controller did not complete.
func monitor(ctx context.Context, s *settings, args []string, stdout, stderr io.Writer, signals <-chan os.Signal) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: s.endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rollout %s: %d machines, %d controllers, concurrency %v, %v per group, budget %v\n",
		s.prefix, s.targets, s.controllers, s.concurrency, s.group, s.budget)
	// The controllers' output comes through copying goroutines, one per
	// process and stream.
	stderr = &lockedWriter{w: stderr}
	args = append(slices.Clone(args), "-prefix", s.prefix)
	names := make([]string, s.controllers)
	done := make(chan exited, s.controllers)
	var procs []*exec.Cmd
	for i := range names {
		names[i] = fmt.Sprintf("ctl-%d", i+1)
		cmd := exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s/%d", controllerEnv, names[i], i))
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Start(); err != nil {
			for _, p := range procs {
				p.Process.Kill()
				p.Wait()
			}
			return fmt.Errorf("starting controller %s: %w", names[i], err)
		}
		procs = append(procs, cmd)
		go func() { done <- exited{names[i], cmd.Wait()} }()
	}

	tick := time.NewTicker(s.every)
	defer tick.Stop()
	var failed []string
	var killOnce sync.Once
	for running := len(procs); running > 0; {
		select {
		case e := <-done:
			running--
			if e.err != nil {
				failed = append(failed, fmt.Sprintf("%s: %v", e.name, e.err))
			}
		case <-signals:
			killOnce.Do(func() {
				fmt.Fprintln(stderr, "interrupted: throwing the rollout's killswitch")
				kill(ctx, cli, s.prefix, stderr)
			})
		case <-tick.C:
			show(ctx, cli, s, names, stdout, stderr)
		}
	}
	show(ctx, cli, s, names, stdout, stderr)
	if len(failed) > 0 {
		return fmt.Errorf("controllers that did not complete the rollout: %s", strings.Join(failed, "; "))
	}
	return nil
}

// kill throws the killswitch of the rollout under prefix.
func kill(ctx context.Context, cli *clientv3.Client, prefix string, stderr io.Writer) {
	c, err := etcd.NewCoordinator(cli, prefix, "monitor")
	if err == nil {
		err = c.Kill(ctx, "interrupted at the monitor")
		c.Close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "rollout: killswitch: %v\n", err)
	}
}

// show prints the monitor's view of the rollout: per controller and in
// total, the machines running, done, failed and interrupted.
func show(ctx context.Context, cli *clientv3.Client, s *settings, names []string, stdout, stderr io.Writer) {
	st, err := etcd.ReadRollout(ctx, cli, s.prefix)
	if err != nil {
		fmt.Fprintf(stderr, "rollout: monitor: %v\n", err)
		return
	}
	by, total := st.Counts()
	fmt.Fprintf(stdout, "%s\n", time.Now().Format("15:04:05"))
	for _, n := range names {
		live := "gone"
		if slices.Contains(st.Live, n) {
			live = "live"
		}
		fmt.Fprintf(stdout, "  %-7s %s  %s\n", n, line(by[n]), live)
	}
	fmt.Fprintf(stdout, "  %-7s %s  of %d\n", "total", line(total), s.targets)
	if st.Stopped != nil {
		var reasons []string
		for _, e := range unjoin(st.Stopped) {
			reasons = append(reasons, strings.TrimPrefix(e.Error(), "fleet: "))
		}
		fmt.Fprintf(stdout, "  stopped: %s\n", strings.Join(reasons, "; "))
	}
}

// line is one controller's counts as the monitor prints them.
func line(c fleet.Counts) string {
	done := c.Succeeded + c.Failed + c.Critical + c.Killed + c.Abandoned + c.Stopped
	return fmt.Sprintf("running %3d  done %4d  failed %2d  interrupted %2d", c.Running, done, c.Failed+c.Critical, c.Interrupted)
}

// unjoin returns the errors errors.Join joined in err, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// lockedWriter serialises the writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
