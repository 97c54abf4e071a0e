package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/stretchr/testify/require"
)

// TestMain runs a controller when the test binary is started as one (by
// the monitor of a test, which starts os.Executable(), or by the
// acceptance test), and the tests otherwise.
func TestMain(m *testing.M) {
	if env := os.Getenv(controllerEnv); env != "" {
		os.Exit(controllerMain(env, os.Args[1:], os.Stderr, make(chan os.Signal)))
	}
	os.Exit(etcdtest.Main(m))
}

// The monitor runs two controller processes to the end of a small rollout
// and shows each one's progress and the total.
func TestMonitor(t *testing.T) {
	urls := strings.Join(etcdtest.Endpoints(t), ",")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-etcd", urls, "-prefix", etcdtest.Prefix(t), "-controllers", "2", "-targets", "80",
		"-concurrency", "10", "-work-min", "1ms", "-work-max", "5ms", "-every", "50ms"}, &stdout, &stderr, make(chan os.Signal))
	out := stdout.String()
	t.Log("\n" + out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	last := out[strings.LastIndex(out, "  ctl-1 "):]
	done := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  (ctl-\d|total) +running +(\d+) +done +(\d+) +failed +0 +interrupted +0 +(.*)$`).FindAllStringSubmatch(last, -1) {
		if m[2] != "0" {
			t.Errorf("%s still running at the end: %q", m[1], m[0])
		}
		done[m[1]] = m[3]
		if m[1] != "total" && m[4] != "gone" {
			t.Errorf("%s not gone at the end: %q", m[1], m[0])
		}
	}
	if len(done) != 3 || done["total"] != "80" {
		t.Fatalf("the last view lacks two controllers and a total of 80 done: %v\n%s", done, last)
	}
	if !strings.Contains(last, "of 80") {
		t.Errorf("no 'of 80' in the total line")
	}
}

// Bad flags exit with status 2.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-etcd", "http://127.0.0.1:1", "-controllers", "0"},
		{"-etcd", "http://127.0.0.1:1", "-fail", "x"},
		{"-etcd", "http://127.0.0.1:1", "-targets", "10", "-fail", "10"},
		{"-etcd", "http://127.0.0.1:1", "-ttl", "1500ms"},
		{"-etcd", "http://127.0.0.1:1", "-work-min", "2s", "-work-max", "1s"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr, nil); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// Ctrl-C at the monitor throws the rollout's killswitch: every controller
// sees it, cancels its running patches within a second of the key's write
// (300 patches of a minute, all running), and exits.
func TestKillswitch(t *testing.T) {
	urls := strings.Join(etcdtest.Endpoints(t), ",")
	prefix, dir := etcdtest.Prefix(t), t.TempDir()
	signals := make(chan os.Signal, 1)
	var stdout, stderr bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"-etcd", urls, "-prefix", prefix, "-controllers", "3", "-targets", "300",
			"-concurrency", "300", "-group", "100%", "-work-min", "1m", "-work-max", "1m", "-log", dir}, &stdout, &stderr, signals)
	}()
	cli := etcdtest.Client(t)
	var seen *etcd.RolloutState
	waitFor(t, 60*time.Second, "every target running", func() bool {
		st, err := etcd.ReadRollout(context.Background(), cli, prefix)
		require.NoError(t, err)
		seen = st
		_, total := st.Counts()
		return total.Running == 300
	}, func() string {
		by, _ := seen.Counts()
		return fmt.Sprintf("live %v, %v\n%s", seen.Live, by, stderr.String())
	})
	// The killswitch is thrown when its key is written: a watch tells the
	// test, as the controllers' watches tell them. (The monitor's write
	// may wait behind the controllers' claims in etcd's queue.)
	watch := cli.Watch(t.Context(), prefix+"kill")
	signals <- os.Interrupt
	var thrown time.Time
	select {
	case <-watch:
		thrown = time.Now()
	case <-time.After(60 * time.Second):
		t.Fatal("no killswitch key a minute after Ctrl-C")
	}
	select {
	case c := <-code:
		require.Equal(t, 1, c, "a killed rollout did not complete")
	case <-time.After(60 * time.Second):
		t.Fatal("the controllers still run a minute after the killswitch")
	}
	cancelled := 0
	for i := range 3 {
		path := filepath.Join(dir, fmt.Sprintf("ctl-%d.log", i+1))
		starts, ends := readLines(t, path)
		cancelled += len(starts)
		for id := range starts {
			end, ok := ends[id]
			require.True(t, ok, "%s: %s never ended", path, id)
			require.Less(t, end.at.Sub(thrown), time.Second, "%s: %s cancelled %v after the killswitch, started %v after it", path, id, end.at.Sub(thrown), starts[id].at.Sub(thrown))
		}
	}
	require.Equal(t, 300, cancelled, "every patch started, and was cancelled")
	require.Contains(t, stdout.String(), "rollout killed: interrupted at the monitor")
}
