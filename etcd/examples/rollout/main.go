// Command rollout runs one patch rollout from several controller
// processes on etcd, as seed 002's controllers did, with a monitor that
// regularly checks in with all of them: every controller takes targets of
// the same rollout as it has room, and together they never exceed its
// concurrency, a group's limit or its error budget (an [etcd.Coordinator]
// each). A controller killed midway has its claims expire with its lease;
// the others record its running targets interrupted and go on.
//
// It is the multi-controller form of examples/rollout of the core module,
// which runs a rollout in one process; it lives in the etcd module because
// only that module links etcd's client.
//
// Usage:
//
//	go run ./etcd/examples/rollout -etcd http://127.0.0.1:2379 -controllers 3
//
// The command starts N controller processes (itself again, each with its
// controller's name) and prints the monitor's view every -every until they
// have all exited: per controller and in total, the targets running, done,
// failed and interrupted. Ctrl-C throws the rollout's killswitch, which
// stops every controller.
//
// The flags, with their defaults:
//
//	-etcd URLS         etcd client URLs, comma-separated (required)
//	-controllers 1     controller processes to run
//	-prefix ""         the rollout's etcd prefix (default: a new one)
//	-targets 3000      machines (t0000 ...), in groups of -group-size
//	-group-size 10     machines per group (t0000 to t0009 are g000)
//	-concurrency 100   machines patched at once, by all controllers: a count
//	                   or a percentage
//	-group 2           machines of one group patched at once
//	-budget 5          failures tolerated before no new machine starts
//	-fail ""           indices of the machines whose patch fails ("5,70")
//	-work-min 100ms    shortest patch
//	-work-max 300ms    longest patch (each machine's is fixed by its ID)
//	-ttl 5s            the controllers' lease TTL: how long a dead
//	                   controller's claims hold its room
//	-log ""            directory where each controller appends a line per
//	                   start and per end of a patch (<controller>.log)
//	-every 1s          how often the monitor prints
//
// Controller i takes the targets in order from target i*targets/N on,
// wrapping around, so that the controllers seldom race for one target;
// each takes over the rest of the others' share as it runs out of its own.
// A controller that has nothing left to do stays until no target runs on
// any controller, so that while one lives, another's death is recorded:
// the targets the dead one ran are interrupted when its lease expires.
//
// The exit status is 0 when every controller completed the rollout
// (failures within the budget included), 1 when one stopped (budget,
// killswitch) or failed, and 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/afterhours-go/afterhours/fleet"
)

// controllerEnv names a controller process: the monitor starts the
// command again with it set to "<name>/<index>", and the process then runs
// that controller instead of a monitor.
const controllerEnv = "AFTERHOURS_ROLLOUT_CONTROLLER"

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	if env := os.Getenv(controllerEnv); env != "" {
		os.Exit(controllerMain(env, os.Args[1:], os.Stderr, signals))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, signals))
}

// settings are the command's flags.
type settings struct {
	endpoints   []string
	controllers int
	prefix      string
	targets     int
	groupSize   int
	concurrency fleet.Limit
	group       fleet.Limit
	budget      fleet.Limit
	fail        map[int]bool
	workMin     time.Duration
	workMax     time.Duration
	ttl         time.Duration
	logDir      string
	every       time.Duration
}

// parse reads the flags of args.
func parse(args []string, stderr io.Writer) (*settings, error) {
	s := &settings{concurrency: fleet.Count(100), group: fleet.Count(2), budget: fleet.Count(5), fail: map[int]bool{}}
	fs := flag.NewFlagSet("rollout", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var endpoints, fail string
	fs.StringVar(&endpoints, "etcd", "", "etcd client `URLs`, comma-separated")
	fs.IntVar(&s.controllers, "controllers", 1, "`number` of controller processes")
	fs.StringVar(&s.prefix, "prefix", "", "the rollout's etcd `prefix` (default: a new one)")
	fs.IntVar(&s.targets, "targets", 3000, "`number` of machines")
	fs.IntVar(&s.groupSize, "group-size", 10, "machines per `group`")
	fs.Var(&s.concurrency, "concurrency", "machines patched at once by all controllers: a `count` or a percentage")
	fs.Var(&s.group, "group", "machines of one group patched at once: a `count` or a percentage of the group")
	fs.Var(&s.budget, "budget", "failed machines tolerated: a `count` or a percentage")
	fs.StringVar(&fail, "fail", "", "`indices` of the machines whose patch fails, comma-separated")
	fs.DurationVar(&s.workMin, "work-min", 100*time.Millisecond, "shortest patch `duration`")
	fs.DurationVar(&s.workMax, "work-max", 300*time.Millisecond, "longest patch `duration`")
	fs.DurationVar(&s.ttl, "ttl", 5*time.Second, "the controllers' lease `TTL`, in whole seconds")
	fs.StringVar(&s.logDir, "log", "", "`directory` of the controllers' start and end lines")
	fs.DurationVar(&s.every, "every", time.Second, "how often the monitor prints (a `duration`)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case endpoints == "":
		return nil, errors.New("-etcd URLS is required")
	case s.controllers < 1:
		return nil, fmt.Errorf("-controllers %d: want 1 or more", s.controllers)
	case s.targets < 1 || s.groupSize < 1:
		return nil, fmt.Errorf("-targets %d, -group-size %d: want 1 or more", s.targets, s.groupSize)
	case s.workMin < 0 || s.workMax < s.workMin:
		return nil, fmt.Errorf("-work-min %v, -work-max %v: want 0 <= min <= max", s.workMin, s.workMax)
	case s.ttl < time.Second || s.ttl%time.Second != 0:
		return nil, fmt.Errorf("-ttl %v: want whole seconds, at least 1s", s.ttl)
	case s.every <= 0:
		return nil, fmt.Errorf("-every %v: want more than 0", s.every)
	}
	s.endpoints = strings.Split(endpoints, ",")
	for f := range strings.SplitSeq(fail, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		i, err := strconv.Atoi(f)
		if err != nil || i < 0 || i >= s.targets {
			return nil, fmt.Errorf("-fail: %q is not the index of a machine", f)
		}
		s.fail[i] = true
	}
	return s, nil
}

// targetID is the ID of machine i.
func targetID(i int) string { return fmt.Sprintf("t%04d", i) }

// groupOf is the group of machine i.
func (s *settings) groupOf(i int) string { return fmt.Sprintf("g%03d", i/s.groupSize) }

// order returns the machines as controller index takes them: from its
// share's first on, wrapping around.
func (s *settings) order(index int) []fleet.Target {
	first := index * s.targets / s.controllers
	ts := make([]fleet.Target, s.targets)
	for k := range ts {
		i := (first + k) % s.targets
		ts[k] = fleet.Target{ID: targetID(i), Group: s.groupOf(i)}
	}
	return ts
}

// work is how long the patch of machine id takes: fixed by the ID, from
// -work-min to -work-max.
func (s *settings) work(id string) time.Duration {
	if s.workMax == s.workMin {
		return s.workMin
	}
	var h uint64 = 14695981039346656037 // FNV-1a
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	return s.workMin + time.Duration(h%uint64(s.workMax-s.workMin+1))
}

// run is the monitor: it starts the controllers and prints their progress
// until they have all exited. The first value on signals throws the
// killswitch. It returns the exit status.
func run(args []string, stdout, stderr io.Writer, signals <-chan os.Signal) int {
	s, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "rollout: %v\n", err)
		return 2
	}
	if s.prefix == "" {
		s.prefix = fmt.Sprintf("/afterhours/rollouts/%d/", time.Now().UnixNano())
	}
	if err := monitor(context.Background(), s, args, stdout, stderr, signals); err != nil {
		fmt.Fprintf(stderr, "rollout: %v\n", err)
		return 1
	}
	return 0
}
