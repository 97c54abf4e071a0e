package etcd_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

// newClient returns a client of the etcd at endpoint, closed when t ends.
func newClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	return cli
}

// elect starts an election for the replica url on its own client of
// endpoint; it is closed when t ends.
func elect(t *testing.T, endpoint, prefix, url string, ttl time.Duration) *etcd.Election {
	t.Helper()
	e, err := etcd.NewElection(newClient(t, endpoint), prefix, url, ttl, nil)
	require.NoError(t, err)
	t.Cleanup(func() { e.Close() })
	return e
}

// eventually polls cond until it holds, failing t after within.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		<-tick.C
	}
	return time.Since(start)
}

// leaders returns the electors that lead now.
func leaders(els []*etcd.Election) []int {
	var out []int
	for i, e := range els {
		if self, _ := e.Leader(); self {
			out = append(out, i)
		}
	}
	return out
}

// watchLeaders samples the electors' Leader every millisecond until the
// returned function is called, which reports the samples taken and the
// first instant at which two of them led at once, if any. Two reads of one
// elector around a read of another make a sample, so that a handover
// between two reads is not taken for two leaders: i leads, j leads, i
// still leads.
func watchLeaders(els ...*etcd.Election) (stop func() (samples int, twoLeaders string)) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var samples int
	var bad string
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			samples++
			for i, a := range els {
				for j, b := range els {
					if i == j {
						continue
					}
					a1, _ := a.Leader()
					b1, _ := b.Leader()
					a2, _ := a.Leader()
					if a1 && b1 && a2 && bad == "" {
						bad = fmt.Sprintf("electors %d and %d both led at %s", i, j, time.Now().Format(time.RFC3339Nano))
					}
				}
			}
		}
	})
	return func() (int, string) {
		close(done)
		wg.Wait()
		return samples, bad
	}
}

// Of three replicas, one leads and the others name its URL; Changed
// signals the change.
func TestElectionOneLeader(t *testing.T) {
	endpoint := etcdtest.Endpoints(t)[0]
	prefix := etcdtest.Prefix(t)
	var els []*etcd.Election
	for i := range 3 {
		els = append(els, elect(t, endpoint, prefix, fmt.Sprintf("http://replica-%d:8080", i), 5*time.Second))
	}
	stop := watchLeaders(els...)
	eventually(t, 10*time.Second, "one leader, named by all", func() bool {
		l := leaders(els)
		if len(l) != 1 {
			return false
		}
		want := fmt.Sprintf("http://replica-%d:8080", l[0])
		for _, e := range els {
			if _, url := e.Leader(); url != want {
				return false
			}
		}
		return true
	})
	for _, e := range els {
		select {
		case <-e.Changed():
		default:
			t.Error("Changed has no value after the election")
		}
	}
	samples, bad := stop()
	require.Empty(t, bad)
	require.Positive(t, samples)
}

// A leader that closes resigns: another replica leads at once, long before
// the lease would have expired, and never while the first still leads.
func TestElectionCloseHandsOver(t *testing.T) {
	endpoint := etcdtest.Endpoints(t)[0]
	prefix := etcdtest.Prefix(t)
	const ttl = 10 * time.Second
	first := elect(t, endpoint, prefix, "http://first:8080", ttl)
	eventually(t, 10*time.Second, "the first replica leads", func() bool { self, _ := first.Leader(); return self })
	second := elect(t, endpoint, prefix, "http://second:8080", ttl)
	eventually(t, 10*time.Second, "the second replica names the first", func() bool {
		_, url := second.Leader()
		return url == "http://first:8080"
	})
	stop := watchLeaders(first, second)
	closed := time.Now()
	require.NoError(t, first.Close())
	eventually(t, ttl, "the second replica leads", func() bool { self, _ := second.Leader(); return self })
	took := time.Since(closed)
	_, bad := stop()
	require.Empty(t, bad)
	self, url := first.Leader()
	require.False(t, self)
	require.Empty(t, url, "a closed election names no leader")
	t.Logf("hand-over on Close: %v (lease TTL %v)", took, ttl)
	require.Less(t, took, ttl/2, "the hand-over waited for the lease, as if Close had not resigned")
}

// proxy forwards TCP connections to an address, and can freeze: it holds
// every byte in both directions until thawed, as a network that drops
// everything does, without closing a connection (so the client sees no
// error, only silence).
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	open   chan struct{} // closed while not frozen
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: strings.TrimPrefix(target, "http://"), open: make(chan struct{})}
	close(p.open)
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(up, c) })
		p.wg.Go(func() { p.pipe(c, up) })
	}
}

// pipe copies from src to dst, holding each chunk while frozen.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			open := p.open
			p.mu.Unlock()
			<-open
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.open = make(chan struct{})
}

func (p *proxy) thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

func (p *proxy) close() {
	p.thaw()
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// A leader cut off from etcd (no error, only silence: a partition, or a
// process stopped) stops leading on its own clock before its lease expires
// on the server; the other replica leads within about the TTL, never while
// the first still does. Back on the network, the first learns that its
// lease is gone, campaigns again, and follows.
func TestElectionCutOffLeader(t *testing.T) {
	endpoint := etcdtest.Endpoints(t)[0]
	prefix := etcdtest.Prefix(t)
	const ttl = 2 * time.Second
	link := newProxy(t, endpoint)
	first := elect(t, link.addr(), prefix, "http://first:8080", ttl)
	eventually(t, 10*time.Second, "the first replica leads", func() bool { self, _ := first.Leader(); return self })
	second := elect(t, endpoint, prefix, "http://second:8080", ttl)
	eventually(t, 10*time.Second, "the second replica names the first", func() bool {
		_, url := second.Leader()
		return url == "http://first:8080"
	})

	stop := watchLeaders(first, second)
	cut := time.Now()
	link.freeze()
	stepped := eventually(t, ttl, "the cut-off leader stops leading", func() bool { self, _ := first.Leader(); return !self })
	eventually(t, 3*ttl, "the second replica leads", func() bool { self, _ := second.Leader(); return self })
	took := time.Since(cut)
	samples, bad := stop()
	require.Empty(t, bad, "%d samples", samples)
	t.Logf("cut off: the old leader stopped %v after the cut, the new one led %v after it (lease TTL %v; %d samples)", stepped, took, ttl, samples)
	// The lease expires at most a TTL after the cut; etcd reaps expired
	// leases every 500 ms, and the watch and a read follow.
	require.Less(t, took, ttl+1500*time.Millisecond)
	require.Less(t, stepped, ttl-ttl/10+300*time.Millisecond)

	link.thaw()
	eventually(t, 15*time.Second, "the first replica follows the second", func() bool {
		self, url := first.Leader()
		return !self && url == "http://second:8080"
	})
	self, _ := second.Leader()
	require.True(t, self)
}

// A leader whose lease is revoked under it (etcdctl lease revoke) stops
// leading when its watch reports its key gone, and campaigns again; the
// next candidate leads.
func TestElectionRevokedLease(t *testing.T) {
	endpoint := etcdtest.Endpoints(t)[0]
	prefix := etcdtest.Prefix(t)
	first := elect(t, endpoint, prefix, "http://first:8080", 10*time.Second)
	eventually(t, 10*time.Second, "the first replica leads", func() bool { self, _ := first.Leader(); return self })
	second := elect(t, endpoint, prefix, "http://second:8080", 10*time.Second)
	eventually(t, 10*time.Second, "the second replica names the first", func() bool {
		_, url := second.Leader()
		return url == "http://first:8080"
	})
	admin := newClient(t, endpoint)
	resp, err := admin.Get(context.Background(), prefix+"leader/", clientv3.WithFirstCreate()...)
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	require.Equal(t, "http://first:8080", string(resp.Kvs[0].Value))
	_, err = admin.Revoke(context.Background(), clientv3.LeaseID(resp.Kvs[0].Lease))
	require.NoError(t, err)
	eventually(t, 5*time.Second, "the second leads, the first follows it", func() bool {
		s1, url1 := first.Leader()
		s2, _ := second.Leader()
		return !s1 && s2 && url1 == "http://second:8080"
	})
}

func TestNewElectionRefuses(t *testing.T) {
	cli := etcdtest.Client(t)
	for _, c := range []struct {
		name, prefix, url string
		ttl               time.Duration
		want              string
	}{
		{"no prefix", "", "http://a:1", 5 * time.Second, "empty prefix"},
		{"no scheme", "/p/", "a:1", 5 * time.Second, "want an http or https URL"},
		{"no host", "/p/", "http://", 5 * time.Second, "want an http or https URL"},
		{"a short TTL", "/p/", "http://a:1", time.Second, "2s or more"},
		{"a fraction", "/p/", "http://a:1", 2500 * time.Millisecond, "whole number of seconds"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := etcd.NewElection(cli, c.prefix, c.url, c.ttl, nil)
			require.ErrorContains(t, err, c.want)
		})
	}
	_, err := etcd.NewElection(nil, "/p/", "http://a:1", 5*time.Second, nil)
	require.ErrorContains(t, err, "nil client")
}

// Close ends every goroutine of the election; the client's own (its
// connection, its lease and watch streams) stay until the client closes.
func TestElectionCloseLeaksNothing(t *testing.T) {
	endpoint := etcdtest.Endpoints(t)[0]
	cli := newClient(t, endpoint)
	_, err := cli.Get(context.Background(), "connect")
	require.NoError(t, err)
	ignore := []goleak.Option{goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*lessor).recvKeepAliveLoop"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*lessor).deadlineLoop"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*lessor).sendKeepAliveLoop"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*watchGRPCStream).run"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*watchGRPCStream).serveSubstream"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*watchGRPCStream).serveWatchClient"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc.newClientStreamWithParams.func4"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*Stream).waitOnHeader"),
		goleak.IgnoreTopFunction("context.(*cancelCtx).propagateCancel.func2")}
	e, err := etcd.NewElection(cli, etcdtest.Prefix(t), "http://a:8080", 5*time.Second, nil)
	require.NoError(t, err)
	eventually(t, 10*time.Second, "it leads", func() bool { self, _ := e.Leader(); return self })
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "a second Close")
	goleak.VerifyNone(t, ignore...)
}
