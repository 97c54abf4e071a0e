package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BoltStore is a [Store] in one file on disk, over go.etcd.io/bbolt: every
// Update is fsynced before it returns, and nothing runs besides the
// process. Only one process may open the file at a time (a second waits
// up to a second, then fails). It is safe for concurrent use.
type BoltStore struct {
	db *bolt.DB
	watchers
}

// bucket holds every key of the store.
var bucket = []byte("afterhours")

// OpenBoltStore opens the store in the file at path, creating it (mode
// 0600) when missing.
func OpenBoltStore(path string) (*BoltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("server: open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("server: open store %s: %w", path, err)
	}
	return &BoltStore{db: db}, nil
}

// View implements [Store.View].
func (s *BoltStore) View(f func(Tx) error) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		return f(&boltTx{b: tx.Bucket(bucket)})
	})
	return boltErr(err)
}

// Update implements [Store.Update].
func (s *BoltStore) Update(f func(Tx) error) error {
	btx := &boltTx{writable: true}
	err := s.db.Update(func(tx *bolt.Tx) error {
		btx.b = tx.Bucket(bucket)
		return f(btx)
	})
	if err != nil {
		return boltErr(err)
	}
	if len(btx.changed) > 0 {
		s.notify(btx.changed)
	}
	return nil
}

func boltErr(err error) error {
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Watch implements [Store.Watch].
func (s *BoltStore) Watch(ctx context.Context, prefix string) <-chan []string {
	return s.watch(ctx, prefix)
}

// Close implements [Store.Close].
func (s *BoltStore) Close() error {
	s.watchers.close()
	return s.db.Close()
}

type boltTx struct {
	b        *bolt.Bucket
	writable bool
	changed  []string
}

func (tx *boltTx) Get(key string) ([]byte, error) {
	return slices.Clone(tx.b.Get([]byte(key))), nil
}

func (tx *boltTx) Put(key string, value []byte) error {
	if !tx.writable {
		return ErrReadOnly
	}
	if value == nil {
		value = []byte{}
	}
	if err := tx.b.Put([]byte(key), value); err != nil {
		return fmt.Errorf("server: put %q: %w", key, err)
	}
	tx.changed = append(tx.changed, key)
	return nil
}

func (tx *boltTx) Delete(key string) error {
	if !tx.writable {
		return ErrReadOnly
	}
	if err := tx.b.Delete([]byte(key)); err != nil {
		return fmt.Errorf("server: delete %q: %w", key, err)
	}
	tx.changed = append(tx.changed, key)
	return nil
}

func (tx *boltTx) Scan(prefix string, f func(key string, value []byte) error) error {
	c := tx.b.Cursor()
	p := []byte(prefix)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if err := f(string(k), v); err != nil {
			return err
		}
	}
	return nil
}
