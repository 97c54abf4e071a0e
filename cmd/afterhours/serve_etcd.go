package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/server"
)

// Defaults of serve's etcd flags.
const (
	defaultEtcdPrefix = "/afterhours/"
	defaultLeaseTTL   = etcd.DefaultElectionTTL
)

// etcdFlags are serve's flags for a fleet kept in etcd and served by
// several replicas.
type etcdFlags struct {
	endpoints, prefix, advertise string
	ttl                          time.Duration
}

// addEtcdFlags defines the etcd flags on f.
func addEtcdFlags(f *flags) *etcdFlags {
	e := &etcdFlags{}
	f.StringVar(&e.endpoints, "etcd", "", "keep the fleet in the etcd cluster at these client `URLS` (comma-separated, http://host:2379), instead of DIR/fleet.db, and serve it as one of several replicas")
	f.StringVar(&e.prefix, "etcd-prefix", defaultEtcdPrefix, "with -etcd: the fleet's key `PREFIX` in etcd; the replicas of one fleet share it")
	f.StringVar(&e.advertise, "advertise", "", "with -etcd: this replica's base `URL` as the other replicas reach it, where they forward the changes only the leader makes (default: http:// or https:// and the address it listens on, which must then name a host)")
	f.DurationVar(&e.ttl, "etcd-lease-ttl", defaultLeaseTTL, "with -etcd: the TTL of the leader election's lease, whole seconds, 2s or more: a dead leader is replaced within about this `DURATION`")
	return e
}

// check returns what is wrong with the etcd flags, "" when nothing is;
// listen is the address serve will listen on, set is the flags given.
func (e *etcdFlags) check(set map[string]bool, listen string) string {
	if e.endpoints == "" {
		for _, name := range []string{"etcd-prefix", "advertise", "etcd-lease-ttl"} {
			if set[name] {
				return "-" + name + " needs -etcd"
			}
		}
		return ""
	}
	if len(e.list()) == 0 {
		return fmt.Sprintf("-etcd %q: want client URLs such as http://127.0.0.1:2379, comma-separated", e.endpoints)
	}
	for _, ep := range e.list() {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Sprintf("-etcd %q: want client URLs such as http://127.0.0.1:2379, comma-separated", ep)
		}
	}
	if !strings.HasPrefix(e.prefix, "/") || strings.ContainsAny(e.prefix, " \t\n") {
		return fmt.Sprintf("-etcd-prefix %q: want a key prefix starting with /, such as %s", e.prefix, defaultEtcdPrefix)
	}
	if e.ttl < 2*time.Second || e.ttl%time.Second != 0 {
		return fmt.Sprintf("-etcd-lease-ttl %v: want whole seconds, 2s or more", e.ttl)
	}
	if e.advertise != "" {
		u, err := url.Parse(e.advertise)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return fmt.Sprintf("-advertise %q: want a base URL such as https://replica-1.example:8443", e.advertise)
		}
		return ""
	}
	if host, _, err := net.SplitHostPort(listen); err != nil || host == "" || net.ParseIP(host).IsUnspecified() {
		return fmt.Sprintf("-advertise is needed: the other replicas cannot reach the listen address %q", listen)
	}
	return ""
}

func (e *etcdFlags) list() []string {
	var out []string
	for _, ep := range strings.Split(e.endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			out = append(out, ep)
		}
	}
	return out
}

// advertised returns the URL of -advertise, or the one of the address ln
// listens on.
func (e *etcdFlags) advertised(ln net.Listener, useTLS bool) string {
	if e.advertise != "" {
		return strings.TrimSuffix(e.advertise, "/")
	}
	scheme := "http://"
	if useTLS {
		scheme = "https://"
	}
	return scheme + ln.Addr().String()
}

// replica is what serves a fleet kept in etcd: the client, the store and
// the leader election.
type replica struct {
	client   io.Closer
	store    *etcd.Store
	election *etcd.Election
}

// openReplica connects to etcd, opens the fleet's store and starts
// campaigning for its leadership with advertise as the URL.
func openReplica(e *etcdFlags, advertise string, log *slog.Logger) (*replica, error) {
	cli, err := etcd.Dial(e.list())
	if err != nil {
		return nil, err
	}
	store, err := etcd.NewStore(cli, e.prefix)
	if err != nil {
		cli.Close()
		return nil, err
	}
	election, err := etcd.NewElection(cli, e.prefix, advertise, e.ttl, log)
	if err != nil {
		store.Close()
		cli.Close()
		return nil, err
	}
	return &replica{client: cli, store: store, election: election}, nil
}

// resign hands the leadership over, if this replica has it.
func (r *replica) resign() { r.election.Close() }

// close resigns, closes the store and the client.
func (r *replica) close() error {
	r.election.Close()
	err := r.store.Close()
	if cerr := r.client.Close(); err == nil {
		err = cerr
	}
	return err
}

// options are the fleet's options for a replica: its leadership, and a
// transport to forward requests to a leader that serves TLS with the
// certificate of cert (replicas usually share one, or one CA).
func (r *replica) options(cert *tls.Certificate) ([]server.Option, error) {
	opts := []server.Option{server.WithLeadership(r.election)}
	if cert == nil {
		return opts, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, der := range cert.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("TLS: %w", err)
		}
		pool.AddCert(c)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	return append(opts, server.WithForwardTransport(tr)), nil
}
