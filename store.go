package afterhours

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// Store keeps the executor's state: the journal of each cycle, the queued
// commands and the killswitch. Keys are short names of lower-case letters,
// digits, '-' and '.'; values are JSON documents.
//
// The executor writes a record through Save before it acts on it: a command
// is saved before [Executor.Submit] returns, a run is saved as active
// before it starts, and the killswitch is saved before [Executor.Kill]
// returns. A Store must be safe for concurrent use, and Save must replace a
// record atomically: after a crash, Load returns the old data or the new,
// never a mix.
type Store interface {
	// Load returns the data saved under key, or an error that matches
	// fs.ErrNotExist (errors.Is) when there is none.
	Load(key string) ([]byte, error)
	// Save replaces the data under key.
	Save(key string, data []byte) error
	// Delete removes key; deleting a missing key is not an error.
	Delete(key string) error
	// Keys returns every key, in any order.
	Keys() ([]string, error)
}

// validKey reports whether key may name a record: it must be usable as a
// file name anywhere.
func validKey(key string) bool {
	if key == "" || len(key) > 100 || key[0] == '.' {
		return false
	}
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// MemoryStore is a [Store] in memory, for tests and simulations. The zero
// value is ready to use; it is safe for concurrent use.
type MemoryStore struct {
	mu   sync.Mutex
	data map[string][]byte
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// Load returns a copy of the data under key.
func (m *MemoryStore) Load(key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.data[key]
	if !ok {
		return nil, fmt.Errorf("memory store: %s: %w", key, fs.ErrNotExist)
	}
	return slices.Clone(d), nil
}

// Save keeps a copy of data under key.
func (m *MemoryStore) Save(key string, data []byte) error {
	if !validKey(key) {
		return fmt.Errorf("memory store: invalid key %q", key)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = map[string][]byte{}
	}
	m.data[key] = slices.Clone(data)
	return nil
}

// Delete removes key.
func (m *MemoryStore) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	return nil
}

// Keys returns the keys in sorted order.
func (m *MemoryStore) Keys() ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.data))
	for k := range m.data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, nil
}

// Where names the record of key in errors: "memory:key".
func (m *MemoryStore) Where(key string) string { return "memory:" + key }

// FileStore is a [Store] in a directory: one file KEY.json per record,
// mode 0600. Save writes a temporary file in the same directory, syncs it,
// renames it over the record and syncs the directory, so a crash leaves the
// old record or the new one. The directory is locked (flock on its "lock"
// file) while the store is open, so that two executors never share it.
type FileStore struct {
	dir  string
	lock *os.File
	mu   sync.Mutex // one Save or Delete at a time: each syncs the directory

	// crashHook, when set, runs after the temporary file is written and
	// synced and before the rename (crash tests).
	crashHook func(key string)
}

// OpenFileStore opens (creating it, mode 0700, if need be) the store in
// dir. It removes temporary files a crash left behind. It fails when another
// FileStore holds the directory.
func OpenFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("afterhours: file store: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("afterhours: file store: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("afterhours: file store %s: locked by another process: %w", dir, err)
	}
	temps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	for _, t := range temps {
		os.Remove(t)
	}
	return &FileStore{dir: dir, lock: lock}, nil
}

// Close releases the directory's lock.
func (s *FileStore) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close()
	s.lock = nil
	return err
}

// Where returns the path of the file that holds key.
func (s *FileStore) Where(key string) string { return filepath.Join(s.dir, key+".json") }

// Load reads the record of key.
func (s *FileStore) Load(key string) ([]byte, error) {
	if !validKey(key) {
		return nil, fmt.Errorf("file store: invalid key %q", key)
	}
	return os.ReadFile(s.Where(key))
}

// Save replaces the record of key atomically and durably.
func (s *FileStore) Save(key string, data []byte) error {
	if !validKey(key) {
		return fmt.Errorf("file store: invalid key %q", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.CreateTemp(s.dir, "."+key+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && s.crashHook != nil {
		s.crashHook(key)
	}
	if err == nil {
		err = os.Rename(tmp, s.Where(key))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("file store: save %s: %w", key, err)
	}
	return s.syncDir()
}

// Delete removes the record of key.
func (s *FileStore) Delete(key string) error {
	if !validKey(key) {
		return fmt.Errorf("file store: invalid key %q", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Remove(s.Where(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return s.syncDir()
}

// Keys lists the records in the directory.
func (s *FileStore) Keys() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && e.Type().IsRegular() && validKey(name) {
			keys = append(keys, name)
		}
	}
	return keys, nil
}

func (s *FileStore) syncDir() error {
	d, err := os.Open(s.dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// where names the record of key in errors, for stores that can say.
func where(s Store, key string) string {
	if w, ok := s.(interface{ Where(string) string }); ok {
		return w.Where(key)
	}
	return key
}
