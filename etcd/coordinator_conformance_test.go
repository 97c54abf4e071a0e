package etcd_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/afterhours-go/afterhours/fleet"
	"github.com/afterhours-go/afterhours/fleet/coordtest"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The etcd coordinator passes the conformance tests of every
// fleet.Coordinator, with three controllers of their own client each; a
// crash is the end of a controller's client without Close (no keep-alive,
// no revocation), as a SIGKILL ends it.
func TestCoordinatorConformance(t *testing.T) { coordtest.Run(t, etcdSuite()) }

// Three Rollouts on the etcd coordinator keep the shared limits, as the
// recorded times show.
func TestCoordinatorRollouts(t *testing.T) { coordtest.RunRollouts(t, etcdSuite()) }

func etcdSuite() coordtest.Suite {
	var mu sync.Mutex
	clients := make(map[fleet.Coordinator]*clientv3.Client)
	return coordtest.Suite{
		New: func(t *testing.T, n int) []fleet.Coordinator {
			prefix := etcdtest.Prefix(t)
			cs := make([]fleet.Coordinator, n)
			for i := range cs {
				cli := ownClient(t)
				c, err := etcd.NewCoordinator(cli, prefix, fmt.Sprintf("ctl-%d", i), etcd.WithLeaseTTL(time.Second))
				require.NoError(t, err)
				t.Cleanup(func() { c.Close() })
				mu.Lock()
				clients[c] = cli
				mu.Unlock()
				cs[i] = c
			}
			return cs
		},
		Crash: func(t *testing.T, fc fleet.Coordinator) {
			c := fc.(*etcd.Coordinator)
			mu.Lock()
			cli := clients[c]
			mu.Unlock()
			cli.Close()
			obs := etcdtest.Client(t)
			waitFor(t, 15*time.Second, "the dead controller's targets recorded interrupted", func() bool {
				resp, err := obs.Get(context.Background(), c.Prefix()+"rec/", clientv3.WithPrefix())
				require.NoError(t, err)
				for _, kv := range resp.Kvs {
					if rec := decodeStored(t, kv.Value); rec.Outcome == fleet.Running {
						return false
					}
				}
				return true
			})
		},
	}
}
