// Command rollout patches a simulated fleet with a [fleet.Rollout]: by
// default 1,000 machines in 50 clusters of 20, each drained, patched and
// verified, with failures injected. It shows a live progress line on
// stderr (done, failed, running, rate, time left), takes Ctrl-C as the
// killswitch, and at the end writes a CSV report of every machine, a CSV
// list of those that need attention, and the statistics for audit.
//
// To run one rollout from several controller processes that share it on
// etcd (-etcd URLS -controllers N, with a monitor of every controller's
// progress), see etcd/examples/rollout, in the etcd module: only that
// module links etcd's client.
//
// Usage:
//
//	go run ./examples/rollout [flags]
//
// The flags, with their defaults:
//
//	-targets 1000      machines in the fleet
//	-clusters 50       clusters they are spread over (node-0007 is in cluster-08)
//	-concurrency 10%   machines patched at once: a count or a percentage
//	-group 25%         machines of one cluster patched at once
//	-budget 5%         failed machines tolerated before no new one starts
//	-fail 0.02         share of machines whose patch fails, retry included
//	-flaky 0.05        share whose first patch attempt fails, the retry works
//	-drain-fail 0      share whose drain fails: a critical failure
//	-work 40ms         mean simulated time of each phase
//	-select ""         site tags to choose machines by, "uk,!canary"
//	-out ""            directory of the CSV reports (default: a new temporary
//	                   one, named at the end)
//	-csv rollout.csv   report of every machine ("" for none); a relative
//	                   name is in the -out directory
//	-failed rollout-failed.csv  machines that need attention, for a ticket
//	-status ""         status file, rewritten every second, for a monitor; the
//	                   durable record of the run is kept beside it (.claims)
//	-resume            resume from the -status file and its record: finished
//	                   and failed machines are skipped, and a machine that was
//	                   in its patch when the last run died (killed, crashed) is
//	                   reported interrupted and left to the operator; one that
//	                   was in its drain (idempotent) is patched
//	-seed 1            seed of the injected failures and durations
//
// Each machine has the site tags of its cluster: a region ("uk", "fr",
// "de", in turn) and "canary" for every tenth cluster.
//
// The exit status is 0 when the rollout completed (failures within the
// budget included), 1 when it stopped (budget, critical failure, Ctrl-C)
// or a report could not be written, and 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours/fleet"
)

func main() {
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, interrupt))
}

// settings are the command's flags.
type settings struct {
	targets, clusters int
	concurrency       fleet.Limit
	group             fleet.Limit
	budget            fleet.Limit
	fail, flaky       float64
	drainFail         float64
	work              time.Duration
	selector          string
	out, csv, failed  string
	status            string
	resume            bool
	seed              uint64
}

// run is the whole command: the first value on interrupt is the killswitch.
// It returns the exit status.
func run(args []string, stdout, stderr io.Writer, interrupt <-chan os.Signal) int {
	s := settings{concurrency: fleet.Percent(10), group: fleet.Percent(25), budget: fleet.Percent(5)}
	fs := flag.NewFlagSet("rollout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&s.targets, "targets", 1000, "`number` of machines in the fleet")
	fs.IntVar(&s.clusters, "clusters", 50, "`number` of clusters the machines are spread over")
	fs.Var(&s.concurrency, "concurrency", "machines patched at once: a `count` or a percentage")
	fs.Var(&s.group, "group", "machines of one cluster patched at once: a `count` or a percentage of the cluster")
	fs.Var(&s.budget, "budget", "failed machines tolerated: a `count` or a percentage")
	fs.Float64Var(&s.fail, "fail", 0.02, "`share` of machines whose patch fails, retry included")
	fs.Float64Var(&s.flaky, "flaky", 0.05, "`share` of machines whose first patch attempt fails")
	fs.Float64Var(&s.drainFail, "drain-fail", 0, "`share` of machines whose drain fails (critical: stops the rollout)")
	fs.DurationVar(&s.work, "work", 40*time.Millisecond, "mean simulated `duration` of each phase")
	fs.StringVar(&s.selector, "select", "", "site `tags` to choose machines by, such as \"uk,!canary\"")
	fs.StringVar(&s.out, "out", "", "`directory` of the CSV reports (default: a new temporary one)")
	fs.StringVar(&s.csv, "csv", "rollout.csv", "`file` for the report of every machine (\"\" for none)")
	fs.StringVar(&s.failed, "failed", "rollout-failed.csv", "`file` for the machines that need attention (\"\" for none)")
	fs.StringVar(&s.status, "status", "", "status `file` for a monitor, rewritten every second")
	fs.BoolVar(&s.resume, "resume", false, "resume from the -status file and its record, skipping finished, failed and interrupted machines")
	fs.Uint64Var(&s.seed, "seed", 1, "`seed` of the injected failures and durations")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := s.check(fs); err != nil {
		fmt.Fprintf(stderr, "rollout: %v\n", err)
		return 2
	}
	sel, err := fleet.ParseSelector(s.selector)
	if err != nil {
		fmt.Fprintf(stderr, "rollout: -select: %v\n", err)
		return 2
	}
	if err := s.outDir(); err != nil {
		fmt.Fprintf(stderr, "rollout: -out: %v\n", err)
		return 1
	}

	opts := []fleet.Option{
		fleet.WithConcurrency(s.concurrency),
		fleet.WithGroupLimit(s.group),
		fleet.WithErrorBudget(s.budget),
		fleet.WithSelector(sel),
		fleet.WithKillGrace(5 * time.Second),
		fleet.WithEscalation(func(e fleet.Escalation) {
			fmt.Fprintf(stderr, "\nESCALATION: %s failed to %s: %v; the rollout stops\n", e.Record.ID, e.Record.Phase, e.Err)
		}),
	}
	if s.status != "" {
		opts = append(opts, fleet.WithStatusFile(s.status, time.Second))
		if s.resume {
			prev, err := fleet.LoadReport(s.status)
			if err != nil {
				fmt.Fprintf(stderr, "rollout: -resume: %v\n", err)
				return 1
			}
			opts = append(opts, fleet.WithResume(prev))
		}
	}
	r, err := fleet.NewRollout(s.fleet(), s.phases(), opts...)
	if err != nil {
		fmt.Fprintf(stderr, "rollout: %v\n", err)
		return 2
	}

	// Ctrl-C is the killswitch.
	stopWatch := make(chan struct{})
	var watchers sync.WaitGroup
	watchers.Go(func() {
		select {
		case <-interrupt:
			fmt.Fprintln(stderr, "\ninterrupted: killing the rollout")
			r.Kill("interrupted (Ctrl-C)")
		case <-stopWatch:
		}
	})
	watchers.Go(func() { progress(stderr, r, stopWatch) })

	runErr := r.Run(context.Background())
	close(stopWatch)
	watchers.Wait()
	printLine(stderr, r.Status())
	fmt.Fprintln(stderr)

	rep := r.Report()
	code := 0
	if runErr != nil {
		code = 1
	}
	for _, out := range []struct {
		path string
		recs []fleet.Record
	}{{s.csv, rep.Targets}, {s.failed, rep.Failed()}} {
		if out.path == "" {
			continue
		}
		if err := writeCSV(out.path, out.recs); err != nil {
			fmt.Fprintf(stderr, "rollout: %v\n", err)
			code = 1
		}
	}
	writeSummary(stdout, rep, s)
	return code
}

// outDir places the CSV reports: a relative -csv or -failed name is in
// the -out directory, a new temporary one when -out is not given (and
// some report is written), so that a run never litters the current
// directory.
func (s *settings) outDir() error {
	if s.csv == "" && s.failed == "" {
		return nil
	}
	if s.out == "" {
		dir, err := os.MkdirTemp("", "afterhours-rollout-")
		if err != nil {
			return err
		}
		s.out = dir
	} else if err := os.MkdirAll(s.out, 0o755); err != nil {
		return err
	}
	for _, p := range []*string{&s.csv, &s.failed} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(s.out, *p)
		}
	}
	return nil
}

func (s *settings) check(fs *flag.FlagSet) error {
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case s.targets < 0:
		return fmt.Errorf("-targets %d: want 0 or more", s.targets)
	case s.clusters < 1:
		return fmt.Errorf("-clusters %d: want 1 or more", s.clusters)
	case s.work < 0:
		return fmt.Errorf("-work %v: want 0 or more", s.work)
	case s.resume && s.status == "":
		return errors.New("-resume needs -status FILE")
	}
	for name, v := range map[string]float64{"fail": s.fail, "flaky": s.flaky, "drain-fail": s.drainFail} {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("-%s %v: want a share from 0 to 1", name, v)
		}
	}
	return nil
}

// fleet returns the simulated machines: node-0007 is the eighth, in
// cluster-08, with its cluster's site tags.
func (s *settings) fleet() []fleet.Target {
	regions := []string{"uk", "fr", "de"}
	ts := make([]fleet.Target, s.targets)
	for i := range ts {
		c := i % s.clusters
		tags := []string{regions[c%len(regions)]}
		if c%10 == 9 {
			tags = append(tags, "canary")
		}
		ts[i] = fleet.Target{ID: fmt.Sprintf("node-%04d", i), Group: fmt.Sprintf("cluster-%02d", c+1), Tags: tags}
	}
	return ts
}

// fate is what the simulation holds in store for one machine, drawn from
// the seed and its ID so that it does not depend on the order of the run.
type fate struct {
	drainFails, patchFails, flaky bool
	rng                           *rand.Rand
}

func (s *settings) fateOf(id string) *fate {
	h := fnv.New64a()
	h.Write([]byte(id))
	rng := rand.New(rand.NewPCG(s.seed, h.Sum64()))
	return &fate{
		drainFails: rng.Float64() < s.drainFail,
		patchFails: rng.Float64() < s.fail,
		flaky:      rng.Float64() < s.flaky,
		rng:        rng,
	}
}

// phases returns drain (critical), patch (one retry) and verify, each a
// simulated wait of about -work. Draining and verifying again is safe
// (idempotent); patching again is not.
func (s *settings) phases() []fleet.Phase {
	var mu sync.Mutex
	fates := map[string]*fate{}
	fateOf := func(id string) *fate {
		mu.Lock()
		defer mu.Unlock()
		f, ok := fates[id]
		if !ok {
			f = s.fateOf(id)
			fates[id] = f
		}
		return f
	}
	return []fleet.Phase{
		{Name: "drain", Critical: true, Idempotent: true, Run: func(ctx context.Context, t fleet.Target) error {
			f := fateOf(t.ID)
			if err := s.simulate(ctx, f); err != nil {
				return err
			}
			if f.drainFails {
				return errors.New("pods would not move: PodDisruptionBudget")
			}
			return nil
		}},
		{Name: "patch", Retries: 1, Run: func(ctx context.Context, t fleet.Target) error {
			f := fateOf(t.ID)
			if err := s.simulate(ctx, f); err != nil {
				return err
			}
			switch {
			case f.patchFails:
				return errors.New("apt-get: exit status 100: dpkg was interrupted")
			case f.flaky:
				f.flaky = false
				return errors.New("mirror timed out")
			}
			return nil
		}},
		{Name: "verify", Idempotent: true, Run: func(ctx context.Context, t fleet.Target) error {
			return s.simulate(ctx, fateOf(t.ID))
		}},
	}
}

// simulate waits between half and one and a half times -work, or until
// ctx is done. Phases of one machine run one after the other, so its
// random source needs no lock.
func (s *settings) simulate(ctx context.Context, f *fate) error {
	if s.work == 0 {
		return ctx.Err()
	}
	d := s.work/2 + time.Duration(f.rng.Int64N(int64(s.work)+1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// progress rewrites the progress line every tenth of a second until stop
// is closed. It is the display's own period; the rollout polls nothing.
func progress(w io.Writer, r *fleet.Rollout, stop <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			printLine(w, r.Status())
		case <-stop:
			return
		}
	}
}

func printLine(w io.Writer, st fleet.Status) {
	left := "?"
	if d, ok := st.Left(); ok {
		left = d.Round(100 * time.Millisecond).String()
	}
	c := st.Counts
	line := fmt.Sprintf("done %d/%d  failed %d  running %d  rate %.1f/s  left %s  %s",
		st.Done(), st.Total, c.Failures(), c.Running, st.Rate(), left, st.State)
	if n := c.Stopped + c.Killed + c.Abandoned; n > 0 {
		line += fmt.Sprintf(" (%d stopped or killed)", n)
	}
	if c.Interrupted > 0 {
		line += fmt.Sprintf(" (%d interrupted)", c.Interrupted)
	}
	fmt.Fprintf(w, "\r%-79s", line) // pads over a longer line before it
}

func writeCSV(path string, recs []fleet.Record) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := fleet.WriteCSV(f, recs); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// writeSummary prints the statistics for audit and the first machines that
// need attention.
func writeSummary(w io.Writer, rep *fleet.Report, s settings) {
	st, stats := rep.Status, rep.Stats
	fmt.Fprintf(w, "rollout %s\n", st.State)
	if st.Reason != "" {
		fmt.Fprintf(w, "why: %s\n", st.Reason)
	}
	fmt.Fprintf(w, "%d machines in %v (concurrency %d, error budget %d", st.Total, st.Elapsed().Round(time.Millisecond), st.Concurrency, st.Budget)
	if st.Selector != "" {
		fmt.Fprintf(w, ", selector %q", st.Selector)
	}
	fmt.Fprintln(w, ")")
	c := stats.Counts
	for _, row := range []struct {
		name string
		n    int
	}{{"succeeded", c.Succeeded}, {"failed", c.Failed}, {"critical", c.Critical}, {"stopped", c.Stopped},
		{"killed", c.Killed}, {"abandoned", c.Abandoned}, {"interrupted", c.Interrupted}, {"pending", c.Pending}} {
		if row.n > 0 || row.name == "succeeded" || row.name == "failed" {
			fmt.Fprintf(w, "  %-11s %5d\n", row.name, row.n)
		}
	}
	if st.Resumed > 0 {
		fmt.Fprintf(w, "  (%d carried from the resumed status file)\n", st.Resumed)
	}
	fmt.Fprintf(w, "success rate %.1f%% of %d that ran\n", 100*stats.SuccessRate, stats.Ran)
	d := stats.Durations
	r := func(v time.Duration) time.Duration { return v.Round(time.Millisecond) }
	fmt.Fprintf(w, "durations p50 %v  p90 %v  p99 %v  max %v\n", r(d.P50), r(d.P90), r(d.P99), r(d.Max))
	failed := rep.Failed()
	if len(failed) > 0 {
		fmt.Fprintf(w, "%d machines need attention", len(failed))
		if s.failed != "" {
			fmt.Fprintf(w, " (listed in %s)", s.failed)
		}
		fmt.Fprintln(w, ":")
		for _, rec := range failed[:min(len(failed), 10)] {
			fmt.Fprintf(w, "  %s %s %s in %s: %s\n", rec.ID, rec.Group, rec.Outcome, rec.Phase, oneLine(rec.Error))
		}
		if len(failed) > 10 {
			fmt.Fprintf(w, "  ... and %d more\n", len(failed)-10)
		}
	}
	if s.csv != "" {
		fmt.Fprintf(w, "report of every machine in %s\n", s.csv)
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
