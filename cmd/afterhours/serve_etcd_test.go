package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/etcd/etcdtest"
)

// TestServeEtcdRefuses: the etcd flags are checked before anything starts:
// they need -etcd, URLs, a prefix, whole seconds, and an address the other
// replicas can reach.
func TestServeEtcdRefuses(t *testing.T) {
	good := filepath.Join(t.TempDir(), "data")
	ep := "http://127.0.0.1:2379"
	for _, c := range []struct {
		name string
		args []string
		errs string
	}{
		{"-advertise alone", []string{"-advertise", "http://a:1"}, "-advertise needs -etcd"},
		{"-etcd-prefix alone", []string{"-etcd-prefix", "/p/"}, "-etcd-prefix needs -etcd"},
		{"-etcd-lease-ttl alone", []string{"-etcd-lease-ttl", "5s"}, "-etcd-lease-ttl needs -etcd"},
		{"not a URL", []string{"-etcd", "127.0.0.1:2379"}, `-etcd "127.0.0.1:2379": want client URLs`},
		{"only commas", []string{"-etcd", " , "}, `-etcd " , ": want client URLs`},
		{"a second bad URL", []string{"-etcd", ep + ",ftp://b:1"}, `-etcd "ftp://b:1"`},
		{"a short TTL", []string{"-etcd", ep, "-etcd-lease-ttl", "1s"}, "want whole seconds, 2s or more"},
		{"a fraction", []string{"-etcd", ep, "-etcd-lease-ttl", "2500ms"}, "want whole seconds, 2s or more"},
		{"a relative prefix", []string{"-etcd", ep, "-etcd-prefix", "fleet"}, "want a key prefix starting with /"},
		{"an unspecified host", []string{"-etcd", ep, "-listen", "0.0.0.0:8080"}, `-advertise is needed: the other replicas cannot reach the listen address "0.0.0.0:8080"`},
		{"no host", []string{"-etcd", ep, "-listen", ":8080"}, "-advertise is needed"},
		{"a bad advertised URL", []string{"-etcd", ep, "-advertise", "replica-1:8443"}, `-advertise "replica-1:8443": want a base URL`},
		{"an advertised path", []string{"-etcd", ep, "-advertise", "http://a:1/x"}, "want a base URL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			code := serve(ctx, append([]string{"-data", good}, c.args...), &out, &errOut, nil)
			if code != exitUsage || !strings.Contains(errOut.String(), c.errs) || !strings.Contains(errOut.String(), "usage: afterhours serve") {
				t.Errorf("exit %d, want %d; stderr lacks %q:\n%s", code, exitUsage, c.errs, errOut.String())
			}
		})
	}
}

// TestServeEtcd: serve -etcd keeps the fleet in etcd (no fleet.db in the
// data directory, which still holds the admin token), says so at start,
// leads alone, serves, and says it stopped leading when stopped; a second
// serve on the same prefix serves the same fleet.
func TestServeEtcd(t *testing.T) {
	endpoints := strings.Join(etcdtest.Endpoints(t), ",")
	prefix := etcdtest.Prefix(t)
	dir := filepath.Join(t.TempDir(), "data")
	s := startServe(t, "-data", dir, "-etcd", endpoints, "-etcd-prefix", prefix, "-etcd-lease-ttl", "10s")
	base := "http://" + s.addr
	c := &http.Client{}
	request(t, c, "GET", base+"/v1/config", "", "").want(t, http.StatusUnauthorized)
	admin := generatedToken(t, dir)
	waitFor(t, "the replica to lead", func() bool { return strings.Contains(s.stderr.String(), "leading the fleet's replicas") })
	enrolled := enrolShop(t, c, base, admin)
	etag := request(t, c, "GET", base+"/v1/agent/clients/shop-1/profile", enrolled.Token, "").want(t, http.StatusOK).header.Get("ETag")
	if fileExists(filepath.Join(dir, storeFile)) {
		t.Errorf("serve -etcd created %s", storeFile)
	}

	// Another replica, with its own data directory and the same token.
	dir2 := filepath.Join(t.TempDir(), "data")
	tokens := filepath.Join(t.TempDir(), "tokens")
	writeTokens(t, tokens, "admin "+admin+"\n", 0o600)
	s2 := startServe(t, "-data", dir2, "-tokens", tokens, "-etcd", endpoints, "-etcd-prefix", prefix, "-etcd-lease-ttl", "10s")
	base2 := "http://" + s2.addr
	r := request(t, c, "GET", base2+"/v1/agent/clients/shop-1/profile", enrolled.Token, "").want(t, http.StatusOK)
	if got := r.header.Get("ETag"); got != etag {
		t.Errorf("the second replica serves ETag %q, the first %q", got, etag)
	}
	// A change that allocates, made on the follower, is the leader's: 503
	// (try again) until the new replica has learnt who leads, then 200.
	waitFor(t, "the follower to forward a registration", func() bool {
		r := request(t, c, "PUT", base2+"/v1/clients/shop-2", admin, `{"site": "leeds"}`)
		if r.status != http.StatusOK && (r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "") {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		return r.status == http.StatusOK
	})

	stopped := time.Now()
	if code := s.stop(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, s.stderr)
	}
	errs := s.stderr.String()
	for _, want := range []string{"etcd.endpoints=" + endpoints, "etcd.prefix=" + prefix, "etcd.advertise=" + base, "leading the fleet's replicas", "stopped leading the fleet's replicas", "serve: stopped"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	// The first stopped and resigned: the second leads at once, not when
	// the lease (10 s) would have expired.
	waitFor(t, "the second replica to lead", func() bool { return strings.Contains(s2.stderr.String(), "leading the fleet's replicas") })
	if took := time.Since(stopped); took > 5*time.Second {
		t.Errorf("the second replica led %v after the first stopped: it did not resign", took)
	}
	request(t, c, "PUT", base2+"/v1/clients/shop-3", admin, `{"site": "leeds"}`).want(t, http.StatusOK)
	if code := s2.stop(); code != exitOK {
		t.Fatalf("serve exited %d:\n%s", code, s2.stderr)
	}
}

// TestServeEtcdTLS: replicas served over TLS with one certificate forward
// to the leader over HTTPS, trusting that certificate.
func TestServeEtcdTLS(t *testing.T) {
	endpoints := strings.Join(etcdtest.Endpoints(t), ",")
	prefix := etcdtest.Prefix(t)
	tmp := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, tmp)
	tokens := filepath.Join(tmp, "tokens")
	writeTokens(t, tokens, "admin admin-token-0123456789\n", 0o600)
	args := func(dir string) []string {
		return []string{"-data", filepath.Join(tmp, dir), "-tokens", tokens, "-tls-cert", certFile, "-tls-key", keyFile,
			"-etcd", endpoints, "-etcd-prefix", prefix, "-etcd-lease-ttl", "10s"}
	}
	first := startServe(t, args("first")...)
	waitFor(t, "the first replica to lead", func() bool { return strings.Contains(first.stderr.String(), "leading the fleet's replicas") })
	second := startServe(t, args("second")...)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	request(t, c, "PUT", "https://"+first.addr+"/v1/config", "admin-token-0123456789", fleetConfig).want(t, http.StatusOK)
	var r reply
	waitFor(t, "the follower to forward a registration", func() bool {
		r = request(t, c, "PUT", "https://"+second.addr+"/v1/clients/shop-1", "admin-token-0123456789", `{"site": "leeds"}`)
		return r.status != http.StatusServiceUnavailable
	})
	r.want(t, http.StatusOK)
	if strings.Contains(second.stderr.String(), "leading the fleet's replicas") {
		t.Fatal("the second replica led: nothing was forwarded")
	}
	if !strings.Contains(first.stderr.String(), "etcd.advertise=https://"+first.addr) {
		t.Errorf("the first replica does not advertise its https URL:\n%s", first.stderr)
	}
}
