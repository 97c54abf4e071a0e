package server

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// MemStore is a [Store] in memory, for tests and for fleets that need not
// outlive the process. Its zero value is not usable: call [NewMemStore].
// It is safe for concurrent use.
type MemStore struct {
	mu     sync.RWMutex
	data   map[string][]byte
	keys   []string // sorted
	closed bool
	watchers
}

// NewMemStore returns an empty store in memory.
func NewMemStore() *MemStore { return &MemStore{data: map[string][]byte{}} }

// View implements [Store.View].
func (s *MemStore) View(f func(Tx) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return f(&memTx{s: s})
}

// Update implements [Store.Update]: changes are kept aside and applied
// when f returns nil.
func (s *MemStore) Update(f func(Tx) error) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	tx := &memTx{s: s, writable: true, writes: map[string][]byte{}}
	if err := f(tx); err != nil {
		s.mu.Unlock()
		return err
	}
	changed := make([]string, 0, len(tx.writes))
	var added []string
	for k, v := range tx.writes {
		changed = append(changed, k)
		_, stored := s.data[k]
		switch {
		case v == nil && stored:
			delete(s.data, k)
			i, _ := slices.BinarySearch(s.keys, k)
			s.keys = slices.Delete(s.keys, i, i+1)
		case v != nil:
			if !stored {
				added = append(added, k)
			}
			s.data[k] = v
		}
	}
	if len(added) <= 16 {
		for _, k := range added {
			i, _ := slices.BinarySearch(s.keys, k)
			s.keys = slices.Insert(s.keys, i, k)
		}
	} else { // one sort rather than many moves of the whole list
		s.keys = append(s.keys, added...)
		slices.Sort(s.keys)
	}
	s.mu.Unlock()
	if len(changed) > 0 {
		s.notify(changed)
	}
	return nil
}

// Watch implements [Store.Watch].
func (s *MemStore) Watch(ctx context.Context, prefix string) <-chan []string {
	return s.watch(ctx, prefix)
}

// Close implements [Store.Close].
func (s *MemStore) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.watchers.close()
	return nil
}

type memTx struct {
	s        *MemStore
	writable bool
	writes   map[string][]byte // nil value: deleted
}

func (tx *memTx) Get(key string) ([]byte, error) {
	if v, ok := tx.writes[key]; ok {
		return slices.Clone(v), nil
	}
	return slices.Clone(tx.s.data[key]), nil
}

func (tx *memTx) Put(key string, value []byte) error {
	if !tx.writable {
		return ErrReadOnly
	}
	v := slices.Clone(value)
	if v == nil {
		v = []byte{}
	}
	tx.writes[key] = v
	return nil
}

func (tx *memTx) Delete(key string) error {
	if !tx.writable {
		return ErrReadOnly
	}
	tx.writes[key] = nil
	return nil
}

func (tx *memTx) Scan(prefix string, f func(key string, value []byte) error) error {
	keys := tx.s.keys[searchPrefix(tx.s.keys, prefix):]
	var extra []string // keys written in the transaction and not stored
	for k, v := range tx.writes {
		if v != nil && strings.HasPrefix(k, prefix) {
			if _, stored := tx.s.data[k]; !stored {
				extra = append(extra, k)
			}
		}
	}
	slices.Sort(extra)
	i, j := 0, 0
	for i < len(keys) || j < len(extra) {
		var k string
		if j >= len(extra) || (i < len(keys) && keys[i] < extra[j]) {
			k = keys[i]
			i++
			if !strings.HasPrefix(k, prefix) {
				i = len(keys)
				continue
			}
		} else {
			k = extra[j]
			j++
		}
		v, written := tx.writes[k]
		if !written {
			v = tx.s.data[k]
		} else if v == nil {
			continue // deleted in the transaction
		}
		if err := f(k, v); err != nil {
			return err
		}
	}
	return nil
}

// searchPrefix returns the index of the first key not before prefix.
func searchPrefix(keys []string, prefix string) int {
	i, _ := slices.BinarySearch(keys, prefix)
	return i
}
