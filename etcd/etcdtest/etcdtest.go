// Package etcdtest gives tests an etcd server: the one named by the
// environment variable AFTERHOURS_ETCD (client URLs, comma-separated, as
// .ci/run starts one), or else one etcd process for the test binary, on
// loopback ports with a temporary data directory, started by the first
// test that asks and ended by [Main]. Without either (no etcd on PATH), a
// test skips with a message in a plain `go test`, and fails under .ci/run
// (AFTERHOURS_CI=1). Tests share the server: each takes its own key
// prefix ([Prefix]).
//
// A package that uses it has
//
//	func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m)) }
package etcdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/testenv"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Env names the environment variable of the endpoints of a running etcd.
const Env = "AFTERHOURS_ETCD"

var shared struct {
	sync.Mutex
	url  string
	stop func()
	main bool // Main runs
}

// Main runs the tests and then stops the etcd server they started, if
// any; it returns m.Run's code.
func Main(m *testing.M) int {
	shared.Lock()
	shared.main = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	defer shared.Unlock()
	if shared.stop != nil {
		shared.stop()
	}
	return code
}

// Endpoints returns the client URLs of the etcd server of the tests (see
// the package doc).
func Endpoints(t testing.TB) []string {
	t.Helper()
	if env := os.Getenv(Env); env != "" {
		return strings.Split(env, ",")
	}
	bin, err := exec.LookPath("etcd")
	testenv.Require(t, err == nil, "no etcd server: install etcd-server (apt-get install etcd-server) or set "+Env)
	shared.Lock()
	defer shared.Unlock()
	if !shared.main {
		t.Fatal("etcdtest: the package's TestMain must call etcdtest.Main")
	}
	if shared.url == "" {
		url, stop, err := Start(bin)
		if err != nil {
			t.Fatal(err)
		}
		shared.url, shared.stop = url, stop
	}
	return []string{shared.url}
}

// Start starts the etcd binary bin on two free loopback ports with a new
// temporary data directory and waits until it answers. It returns the
// client URL and a function that kills the server and removes its
// directory.
func Start(bin string) (url string, stop func(), err error) {
	for attempt := 0; ; attempt++ {
		client, err := freePort()
		if err != nil {
			return "", nil, err
		}
		peer, err := freePort()
		if err != nil {
			return "", nil, err
		}
		clientURL, peerURL := "http://"+client, "http://"+peer
		dir, err := os.MkdirTemp("", "afterhours-etcd-")
		if err != nil {
			return "", nil, err
		}
		logPath := filepath.Join(dir, "etcd.log")
		logFile, err := os.Create(logPath)
		if err != nil {
			os.RemoveAll(dir)
			return "", nil, err
		}
		cmd := exec.Command(bin,
			"--name", "test", "--data-dir", filepath.Join(dir, "data"),
			"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
			"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
			"--initial-cluster", "test="+peerURL, "--initial-cluster-state", "new",
			"--max-txn-ops", "100000", "--max-request-bytes", "33554432",
			"--log-level", "error")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			logFile.Close()
			os.RemoveAll(dir)
			return "", nil, fmt.Errorf("start etcd: %w", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait(); logFile.Close() }()
		stop := func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			os.RemoveAll(dir)
		}
		if err := waitReady(clientURL, exited); err != nil {
			log, _ := os.ReadFile(logPath)
			stop()
			if attempt < 3 { // a port taken between freePort and etcd's listen
				continue
			}
			return "", nil, fmt.Errorf("etcd did not start: %v\n%s", err, log)
		}
		return clientURL, stop, nil
	}
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady waits until etcd at url answers a read, for 30 seconds.
func waitReady(url string, exited <-chan error) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "ready")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case e := <-exited:
			return fmt.Errorf("etcd exited: %v", e)
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond) // polling a starting process, with a deadline
	}
}

// Client returns a client of an etcd server for t (see [Endpoints]),
// closed when t ends.
func Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: Endpoints(t), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Prefix returns a key prefix no other test uses: tests share one etcd.
func Prefix(t testing.TB) string {
	var b [6]byte
	rand.Read(b[:])
	return "/afterhours-test/" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "-" + hex.EncodeToString(b[:]) + "/"
}
