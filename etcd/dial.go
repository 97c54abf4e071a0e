package etcd

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// DialTimeout bounds the connection to etcd that [Dial] sets up.
const DialTimeout = 5 * time.Second

// Dial returns a client of the etcd cluster at endpoints, for [NewStore] and
// [NewElection], so that a program can use this package without importing
// etcd's client itself. An endpoint is a client URL, http://host:port or
// https://host:port (the server's certificate checked against the system's
// roots; client certificates are not supported here: build the client with
// clientv3.New for them). etcd's own client logging is off. The client
// connects in the background: an unreachable cluster shows as errors of
// the first requests, not of Dial. The caller closes the client.
func Dial(endpoints []string) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		return nil, fmt.Errorf("etcd: no endpoint")
	}
	secure := false
	for _, ep := range endpoints {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
			return nil, fmt.Errorf("etcd: endpoint %q: want a client URL such as http://127.0.0.1:2379", ep)
		}
		secure = secure || u.Scheme == "https"
	}
	cfg := clientv3.Config{Endpoints: endpoints, DialTimeout: DialTimeout, Logger: zap.NewNop()}
	if secure {
		cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	return cli, nil
}
