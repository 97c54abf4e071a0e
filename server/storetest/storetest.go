// Package storetest checks an implementation of [server.Store] against
// the interface's contract: the conformance test every store of the fleet
// server passes (the in-memory one, bbolt's, etcd's).
package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/server"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func scanAll(t *testing.T, tx server.Tx, prefix string) []string {
	var out []string
	require.NoError(t, tx.Scan(prefix, func(k string, v []byte) error {
		out = append(out, k+"="+string(v))
		return nil
	}))
	return out
}

// receive takes the next value of a watch, failing after a deadline.
func receive(t *testing.T, ch <-chan []string) []string {
	t.Helper()
	select {
	case keys, ok := <-ch:
		require.True(t, ok, "watch closed")
		return keys
	case <-time.After(10 * time.Second):
		t.Fatal("no change reported")
		return nil
	}
}

// Run checks that the stores open makes behave as a [server.Store] must:
// transactions that commit whole or not at all, read-only views, scans in
// key order that stop at an error, watches that report each changed key
// of their prefix (merged, never lost) and end with their context or the
// store, and Close. open returns a new, empty store; reopen, when not nil,
// returns the store of the same data after a Close, which must keep
// everything. Run checks that no goroutine leaks; ignore tells it of
// goroutines that are not the store's own (a client's connections).
func Run(t *testing.T, open, reopen func(t *testing.T) server.Store, ignore ...goleak.Option) {
	t.Run("transactions", func(t *testing.T) {
		defer goleak.VerifyNone(t, ignore...)
		{
			s := open(t)
			ctx, cancel := context.WithCancel(context.Background())
			clients := s.Watch(ctx, "clients/")

			// A committed transaction: puts, a delete, reads of its own writes.
			require.NoError(t, s.Update(func(tx server.Tx) error {
				for _, k := range []string{"clients/b", "clients/a", "clients/c", "config"} {
					if err := tx.Put(k, []byte("v-"+k)); err != nil {
						return err
					}
				}
				require.NoError(t, tx.Delete("clients/c"))
				require.NoError(t, tx.Delete("missing"))
				v, err := tx.Get("clients/a")
				require.NoError(t, err)
				require.Equal(t, "v-clients/a", string(v))
				require.Equal(t, []string{"clients/a=v-clients/a", "clients/b=v-clients/b"}, scanAll(t, tx, "clients/"))
				return nil
			}))
			// clients/c, put and deleted in the transaction, did not change:
			// a store may report it or not.
			got := receive(t, clients)
			if !slices.Equal(got, []string{"clients/a", "clients/b"}) {
				require.Equal(t, []string{"clients/a", "clients/b", "clients/c"}, got)
			}

			// A transaction that fails changes nothing and is not reported.
			boom := errors.New("boom")
			err := s.Update(func(tx server.Tx) error {
				require.NoError(t, tx.Put("clients/a", []byte("changed")))
				require.NoError(t, tx.Delete("clients/b"))
				require.NoError(t, tx.Put("clients/z", []byte("new")))
				return boom
			})
			require.ErrorIs(t, err, boom)
			require.NoError(t, s.View(func(tx server.Tx) error {
				require.Equal(t, []string{"clients/a=v-clients/a", "clients/b=v-clients/b"}, scanAll(t, tx, "clients/"))
				v, err := tx.Get("clients/z")
				require.NoError(t, err)
				require.Nil(t, v)
				// A view does not write.
				require.ErrorIs(t, tx.Put("x", []byte("y")), server.ErrReadOnly)
				require.ErrorIs(t, tx.Delete("clients/a"), server.ErrReadOnly)
				return nil
			}))

			// Each committed change is seen; a change outside the prefix is not.
			require.NoError(t, s.Update(func(tx server.Tx) error { return tx.Put("config", []byte("2")) }))
			require.NoError(t, s.Update(func(tx server.Tx) error { return tx.Delete("clients/b") }))
			require.NoError(t, s.Update(func(tx server.Tx) error { return tx.Put("clients/d", nil) }))
			var seen []string
			for len(seen) < 2 {
				seen = append(seen, receive(t, clients)...)
			}
			slices.Sort(seen)
			require.Equal(t, []string{"clients/b", "clients/d"}, slices.Compact(seen))

			// Scan stops at the first error of f.
			require.NoError(t, s.View(func(tx server.Tx) error {
				n := 0
				err := tx.Scan("", func(string, []byte) error {
					n++
					return boom
				})
				require.ErrorIs(t, err, boom)
				require.Equal(t, 1, n)
				v, err := tx.Get("clients/d")
				require.NoError(t, err)
				require.NotNil(t, v)
				require.Empty(t, v)
				return nil
			}))
			cancel()
			for range clients { // the watch ends with its context
			}
			require.NoError(t, s.Close())
			require.ErrorIs(t, s.View(func(server.Tx) error { return nil }), server.ErrClosed)

			if reopen == nil {
				return
			}
			// A reopened store keeps everything.
			s = reopen(t)
			defer s.Close()
			require.NoError(t, s.View(func(tx server.Tx) error {
				require.Equal(t, []string{"clients/a=v-clients/a", "clients/d=", "config=2"}, scanAll(t, tx, ""))
				return nil
			}))
		}
	})
	// A watch of a closed store ends.
	t.Run("watch ends on close", func(t *testing.T) {
		defer goleak.VerifyNone(t, ignore...)
		s := open(t)
		ch := s.Watch(context.Background(), "")
		require.NoError(t, s.Close())
		for range ch {
		}
	})
}
