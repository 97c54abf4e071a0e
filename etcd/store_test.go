package etcd_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/etcd"
	"github.com/afterhours-go/afterhours/etcd/etcdtest"
	"github.com/afterhours-go/afterhours/server"
	"github.com/afterhours-go/afterhours/server/storetest"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// The etcd store passes the conformance test of every server.Store; a
// store reopened on the same prefix keeps everything.
func TestStoreConformance(t *testing.T) {
	cli := etcdtest.Client(t)
	prefix := etcdtest.Prefix(t)
	// Connect before the goroutines of the moment are taken as not ours.
	_, err := cli.Get(context.Background(), prefix)
	require.NoError(t, err)
	open := func(t *testing.T) server.Store {
		s, err := etcd.NewStore(cli, prefix)
		require.NoError(t, err)
		return s
	}
	// The client's connection and its streams are not the store's.
	storetest.Run(t, open, open, goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*watchGRPCStream).run"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*watchGRPCStream).serveSubstream"),
		goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/v3.(*watchGRPCStream).serveWatchClient"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc.newClientStreamWithParams.func4"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*Stream).waitOnHeader"),
		// The client's watch stream, closed after its last watcher, holds a
		// context tied to the client's for a moment.
		goleak.IgnoreTopFunction("context.(*cancelCtx).propagateCancel.func2"))
}

// Two replicas (two clients, two stores on one prefix) that increment one
// counter concurrently lose no increment: a commit that finds the other's
// commit since its read runs again. Each sees the other's changes through
// its watch.
func TestStoreReplicas(t *testing.T) {
	prefix := etcdtest.Prefix(t)
	a, err := etcd.NewStore(etcdtest.Client(t), prefix)
	require.NoError(t, err)
	defer a.Close()
	b, err := etcd.NewStore(etcdtest.Client(t), prefix)
	require.NoError(t, err)
	defer b.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := b.Watch(ctx, "counter")

	const each = 50
	var runs atomic.Int64
	incr := func(s *etcd.Store) error {
		return s.Update(func(tx server.Tx) error {
			runs.Add(1)
			v, err := tx.Get("counter")
			if err != nil {
				return err
			}
			n := 0
			if v != nil {
				n, _ = strconv.Atoi(string(v))
			}
			return tx.Put("counter", []byte(strconv.Itoa(n+1)))
		})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*each)
	for _, s := range []*etcd.Store{a, a, b, b} {
		wg.Go(func() {
			for range each {
				if err := incr(s); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	require.NoError(t, a.View(func(tx server.Tx) error {
		v, err := tx.Get("counter")
		require.NoError(t, err)
		require.Equal(t, strconv.Itoa(4*each), string(v))
		return nil
	}))
	t.Logf("%d increments took %d runs of the function", 4*each, runs.Load())
	select {
	case keys := <-seen:
		require.Equal(t, []string{"counter"}, keys)
	case <-time.After(10 * time.Second):
		t.Fatal("b's watch saw nothing")
	}
}

// A view reads one snapshot: a commit after its first read is not seen.
func TestStoreViewIsASnapshot(t *testing.T) {
	cli := etcdtest.Client(t)
	s, err := etcd.NewStore(cli, etcdtest.Prefix(t))
	require.NoError(t, err)
	defer s.Close()
	other, err := etcd.NewStore(cli, strings.TrimSuffix(s.Prefix(), "/"))
	require.NoError(t, err)
	defer other.Close()
	require.NoError(t, s.Update(func(tx server.Tx) error { return tx.Put("a", []byte("1")) }))
	require.NoError(t, s.View(func(tx server.Tx) error {
		v, err := tx.Get("a")
		require.NoError(t, err)
		require.Equal(t, "1", string(v))
		require.NoError(t, other.Update(func(tx server.Tx) error {
			if err := tx.Put("a", []byte("2")); err != nil {
				return err
			}
			return tx.Put("b", []byte("2"))
		}))
		v, err = tx.Get("a")
		require.NoError(t, err)
		require.Equal(t, "1", string(v), "the snapshot's value")
		v, err = tx.Get("b")
		require.NoError(t, err)
		require.Nil(t, v)
		return nil
	}))
}

// Scans page through many keys in order, merged with the transaction's
// own writes.
func TestStoreScanPages(t *testing.T) {
	s, err := etcd.NewStore(etcdtest.Client(t), etcdtest.Prefix(t))
	require.NoError(t, err)
	defer s.Close()
	const n = 2500
	require.NoError(t, s.Update(func(tx server.Tx) error {
		for i := range n {
			if err := tx.Put(fmt.Sprintf("k/%05d", i), []byte("v")); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, s.Update(func(tx server.Tx) error {
		require.NoError(t, tx.Delete("k/00000"))
		require.NoError(t, tx.Put("k/01000", []byte("changed")))
		require.NoError(t, tx.Put("k/01000x", []byte("new")))
		var keys []string
		require.NoError(t, tx.Scan("k/", func(k string, v []byte) error {
			keys = append(keys, k)
			if k == "k/01000" {
				require.Equal(t, "changed", string(v))
			}
			return nil
		}))
		require.Len(t, keys, n)
		require.Equal(t, "k/00001", keys[0])
		require.True(t, slices.IsSorted(keys))
		require.Contains(t, keys, "k/01000x")
		return nil
	}))
}
