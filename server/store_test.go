package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// storeKind makes stores for the conformance test; reopen gives the store
// of the same data after a Close (nil when the store cannot outlive it).
type storeKind struct {
	name   string
	open   func(t *testing.T) Store
	reopen func(t *testing.T) Store
}

func storeKinds(t *testing.T) []storeKind {
	path := filepath.Join(t.TempDir(), "fleet.db")
	bolt := func(t *testing.T) Store {
		s, err := OpenBoltStore(path)
		require.NoError(t, err)
		return s
	}
	return []storeKind{
		{"mem", func(*testing.T) Store { return NewMemStore() }, nil},
		{"bolt", bolt, bolt},
	}
}

func scanAll(t *testing.T, tx Tx, prefix string) []string {
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

func TestStoreConformance(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			s := kind.open(t)
			ctx, cancel := context.WithCancel(context.Background())
			clients := s.Watch(ctx, "clients/")

			// A committed transaction: puts, a delete, reads of its own writes.
			require.NoError(t, s.Update(func(tx Tx) error {
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
			require.Equal(t, []string{"clients/a", "clients/b", "clients/c"}, receive(t, clients))

			// A transaction that fails changes nothing and is not reported.
			boom := errors.New("boom")
			err := s.Update(func(tx Tx) error {
				require.NoError(t, tx.Put("clients/a", []byte("changed")))
				require.NoError(t, tx.Delete("clients/b"))
				require.NoError(t, tx.Put("clients/z", []byte("new")))
				return boom
			})
			require.ErrorIs(t, err, boom)
			require.NoError(t, s.View(func(tx Tx) error {
				require.Equal(t, []string{"clients/a=v-clients/a", "clients/b=v-clients/b"}, scanAll(t, tx, "clients/"))
				v, err := tx.Get("clients/z")
				require.NoError(t, err)
				require.Nil(t, v)
				// A view does not write.
				require.ErrorIs(t, tx.Put("x", []byte("y")), ErrReadOnly)
				require.ErrorIs(t, tx.Delete("clients/a"), ErrReadOnly)
				return nil
			}))

			// Each committed change is seen; a change outside the prefix is not.
			require.NoError(t, s.Update(func(tx Tx) error { return tx.Put("config", []byte("2")) }))
			require.NoError(t, s.Update(func(tx Tx) error { return tx.Delete("clients/b") }))
			require.NoError(t, s.Update(func(tx Tx) error { return tx.Put("clients/d", nil) }))
			var seen []string
			for len(seen) < 2 {
				seen = append(seen, receive(t, clients)...)
			}
			slices.Sort(seen)
			require.Equal(t, []string{"clients/b", "clients/d"}, slices.Compact(seen))

			// Scan stops at the first error of f.
			require.NoError(t, s.View(func(tx Tx) error {
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
			require.ErrorIs(t, s.View(func(Tx) error { return nil }), ErrClosed)

			if kind.reopen == nil {
				return
			}
			// A reopened store keeps everything.
			s = kind.reopen(t)
			defer s.Close()
			require.NoError(t, s.View(func(tx Tx) error {
				require.Equal(t, []string{"clients/a=v-clients/a", "clients/d=", "config=2"}, scanAll(t, tx, ""))
				return nil
			}))
		})
	}
}

// A watch of a closed store ends.
func TestStoreWatchEndsOnClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, kind := range storeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			s := kind.open(t)
			ch := s.Watch(context.Background(), "")
			require.NoError(t, s.Close())
			for range ch {
			}
		})
	}
}

// The bbolt file is the owner's alone, and one process (or store) has it
// at a time.
func TestBoltStoreFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	s, err := OpenBoltStore(path)
	require.NoError(t, err)
	defer s.Close()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	_, err = OpenBoltStore(path) // waits for its timeout, a second
	require.Error(t, err)
	_, err = OpenBoltStore(filepath.Join(t.TempDir(), "missing", "fleet.db"))
	require.Error(t, err)
}
