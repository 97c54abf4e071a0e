package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/afterhours-go/afterhours/etcd/etcdtest"
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
