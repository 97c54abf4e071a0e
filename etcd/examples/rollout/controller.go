package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/fleet"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// controllerMain runs one controller: env is "<name>/<index>" (see
// controllerEnv), args the monitor's flags. The first value on signals
// throws the killswitch of the whole rollout. It returns the exit status:
// 0 when the rollout completed, 1 when it stopped or failed, 2 for bad
// flags.
func controllerMain(env string, args []string, stderr io.Writer, signals <-chan os.Signal) int {
	name, idx, ok := strings.Cut(env, "/")
	index, err := strconv.Atoi(idx)
	if !ok || err != nil || name == "" {
		fmt.Fprintf(stderr, "rollout: %s=%q: want <name>/<index>\n", controllerEnv, env)
		return 2
	}
	s, err := parse(args, stderr)
	if err == nil && s.prefix == "" {
		err = errors.New("a controller needs -prefix")
	}
	if err != nil {
		fmt.Fprintf(stderr, "rollout: %s: %v\n", name, err)
		return 2
	}
	if err := runController(context.Background(), s, name, index, signals); err != nil {
		fmt.Fprintf(stderr, "rollout: %s: %v\n", name, err)
		return 1
	}
	return 0
}

// runController runs the rollout as controller name, the index-th.
func runController(ctx context.Context, s *settings, name string, index int, signals <-chan os.Signal) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: s.endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	coord, err := etcd.NewCoordinator(cli, s.prefix, name, etcd.WithLeaseTTL(s.ttl))
	if err != nil {
		return err
	}
	defer coord.Close()
	var log *lineLog
	if s.logDir != "" {
		if log, err = openLineLog(filepath.Join(s.logDir, name+".log")); err != nil {
			return err
		}
		defer log.Close()
	}
	patch := func(ctx context.Context, t fleet.Target) error {
		if err := log.write("start", t.ID, t.Group); err != nil {
			return err
		}
		timer := time.NewTimer(s.work(t.ID))
		defer timer.Stop()
		result := "ok"
		var err error
		select {
		case <-timer.C:
			i, _ := strconv.Atoi(strings.TrimPrefix(t.ID, "t"))
			if s.fail[i] {
				result, err = "fail", errors.New("the patch failed (injected)")
			}
		case <-ctx.Done():
			result, err = "cancelled", context.Cause(ctx)
		}
		if lerr := log.write("end", t.ID, t.Group+" "+result); lerr != nil && err == nil {
			err = lerr
		}
		return err
	}
	r, err := fleet.NewRollout(s.order(index), []fleet.Phase{{Name: "patch", Run: patch}},
		fleet.WithConcurrency(s.concurrency),
		fleet.WithGroupLimit(s.group),
		fleet.WithErrorBudget(s.budget),
		fleet.WithCoordinator(coord),
		fleet.WithKillGrace(5*time.Second))
	if err != nil {
		return err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-signals:
			r.Kill("interrupted (Ctrl-C or SIGTERM at controller " + name + ")")
		case <-stop:
		}
	})
	err = r.Run(ctx)
	close(stop)
	wg.Wait()
	if qerr := waitQuiet(ctx, cli, coord, s.prefix); qerr != nil && err == nil {
		err = qerr
	}
	return err
}

// waitQuiet waits until no target of the rollout runs, on any controller:
// each has ended, or was recorded interrupted after its controller's lease
// expired. A controller that has nothing left to do stays until then, so
// that while one controller lives, the death of another is recorded.
func waitQuiet(ctx context.Context, cli *clientv3.Client, coord *etcd.Coordinator, prefix string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	changes := coord.Changes(ctx) // before the read, so that no change is missed
	for {
		st, err := etcd.ReadRollout(ctx, cli, prefix)
		if err != nil {
			return err
		}
		if _, total := st.Counts(); total.Running == 0 {
			return nil
		}
		<-changes
	}
}

// lineLog appends lines "<unix nanoseconds> <what> <target> <detail>" to a
// file, each with one write(2) on a file opened O_APPEND, so that a line
// is whole and in the file as soon as write returns: a SIGKILL of the
// process loses none (the page cache is the kernel's). A nil *lineLog
// writes nothing.
type lineLog struct {
	mu sync.Mutex
	f  *os.File
}

func openLineLog(path string) (*lineLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &lineLog{f: f}, nil
}

func (l *lineLog) write(what, id, detail string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := fmt.Fprintf(l.f, "%d %s %s %s\n", time.Now().UnixNano(), what, id, detail)
	return err
}

func (l *lineLog) Close() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
