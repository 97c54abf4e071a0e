package etcd_test

import (
	"context"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/stretchr/testify/require"
)

// Dial takes the endpoints as client URLs and reaches the cluster.
func TestDial(t *testing.T) {
	cli, err := etcd.Dial(etcdtest.Endpoints(t))
	require.NoError(t, err)
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = cli.Put(ctx, etcdtest.Prefix(t)+"dialled", "yes")
	require.NoError(t, err)

	for _, bad := range [][]string{nil, {"127.0.0.1:2379"}, {"ftp://h:1"}, {"http://"}, {"http://h:1/v3"}} {
		_, err := etcd.Dial(bad)
		require.Error(t, err, "%q", bad)
	}
}
