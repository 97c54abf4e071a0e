package afterhours

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/afterhours-go/afterhours/internal/atomicfile"
	"github.com/afterhours-go/afterhours/internal/trust"
)

// Store keeps the executor's state: the journal of each cycle, the queued
// commands and the killswitch. Keys are short names of lower-case letters,
// digits, '-' and '.'; values are JSON documents.
//
// The executor writes a record through Save (or, for a store that is an
// [Appender], Append) before it acts on it: a command is saved before
// [Executor.Submit] returns, a run is saved as active before it starts,
// and the killswitch is saved before [Executor.Kill] returns. A Store must be safe for concurrent use, and Save must replace a
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
	logs map[string][][]byte // see Appender
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

// Delete removes key and its log.
func (m *MemoryStore) Delete(key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	delete(m.logs, key)
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
// mode 0600, and the file KEY.log for the log of a key (it is an
// [Appender]: see Append). Save writes a temporary file in the same directory, syncs it,
// renames it over the record and syncs the directory, so a crash leaves the
// old record or the new one. The directory is locked (flock on its "lock"
// file) while the store is open, so that two executors never share it.
//
// # Trust
//
// The state decides what the executor runs, often as root, so a FileStore
// reads only what no other user could have written: the directory itself
// (not its parents) and every file of the store in it ("lock", the
// KEY.json records and the KEY.log logs) must belong to the executor's
// user (the effective uid), must not be writable by group or others, and
// must not be a symbolic link. [OpenFileStore] checks the directory, every
// record and every log; Load, Log and Append check the directory and the
// file again, on the open file, so a file swapped later is refused too. Files are opened with O_NOFOLLOW,
// and temporary files are created with O_EXCL and O_NOFOLLOW, mode 0600.
// A refusal is a *[StateError] naming the path, matching
// [ErrUnsafeState]; nothing of the refused state is read.
type FileStore struct {
	dir  string
	lock *os.File
	mu   sync.Mutex // one Save or Delete at a time: each syncs the directory

	// logEnds holds, for each log appended to since the store opened, the
	// length of its whole part (see Append).
	logEnds map[string]int64

	// crashHook, when set, runs after the temporary file is written and
	// synced and before the rename (crash tests); appendHook, when set,
	// runs in the middle of an Append's write (crash tests).
	crashHook  func(key string)
	appendHook func(key string)
}

// OpenFileStore opens (creating it, mode 0700, if need be) the store in
// dir. It refuses a directory or a record that another user could have
// written (see [FileStore]) with a *[StateError] matching [ErrUnsafeState].
// It removes temporary files a crash left behind. It fails when another
// FileStore holds the directory.
func OpenFileStore(dir string) (*FileStore, error) {
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("afterhours: file store: %w", err)
		}
	}
	s := &FileStore{dir: dir}
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	lockPath := filepath.Join(dir, "lock")
	lock, err := openNoFollow(lockPath, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return nil, err
	}
	if err := checkOpen(lockPath, lock); err != nil {
		lock.Close()
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("afterhours: file store %s: locked by another process: %w", dir, err)
	}
	s.lock = lock
	temps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	for _, t := range temps {
		os.Remove(t) // a symbolic link is removed, not followed
	}
	keys, err := s.Keys()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("afterhours: file store: %w", err)
	}
	for _, k := range keys {
		fi, err := os.Lstat(s.Where(k))
		if err == nil {
			err = trusted(s.Where(k), fi, false)
		}
		if err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.checkLogs(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// unsafeState is why a path is refused; it matches ErrUnsafeState.
type unsafeState struct{ why string }

func (u *unsafeState) Error() string {
	return "refused: " + u.why + " (the state directory and its files must belong to the executor's user and be writable by it alone)"
}

func (u *unsafeState) Unwrap() error { return ErrUnsafeState }

func refuse(path, why string) error {
	return &StateError{Where: path, Err: &unsafeState{why: why}}
}

// trusted checks the lstat (or fstat) of path: a directory when dir is
// set, else a regular file, of the executor's user, not writable by group
// or others.
func trusted(path string, fi fs.FileInfo, dir bool) error {
	if why := trust.Why(fi, dir); why != "" {
		return refuse(path, why)
	}
	return nil
}

// checkDir checks the store's directory itself.
func (s *FileStore) checkDir() error {
	fi, err := os.Lstat(s.dir)
	if err != nil {
		return fmt.Errorf("afterhours: file store: %w", err)
	}
	return trusted(s.dir, fi, true)
}

// openNoFollow opens path without following a symbolic link (and without
// blocking on a FIFO), creating it mode 0600 when flag says so.
func openNoFollow(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, refuse(path, "it is a symbolic link")
	}
	return f, err
}

// checkOpen checks an opened file: what was opened is what is read.
func checkOpen(path string, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	return trusted(path, fi, false)
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

// Load reads the record of key, after checking the directory and the file
// (see [FileStore]): an untrusted one is a *[StateError] matching
// [ErrUnsafeState].
func (s *FileStore) Load(key string) ([]byte, error) {
	if !validKey(key) {
		return nil, fmt.Errorf("file store: invalid key %q", key)
	}
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	return readTrusted(s.Where(key))
}

// readTrusted reads the file at path, not through a symbolic link, after
// checking the open file as [FileStore.Load] does.
func readTrusted(path string) ([]byte, error) {
	f, err := openNoFollow(path, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := checkOpen(path, f); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// Save replaces the record of key atomically and durably. It refuses a
// directory that is no longer trusted.
func (s *FileStore) Save(key string, data []byte) error {
	if !validKey(key) {
		return fmt.Errorf("file store: invalid key %q", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkDir(); err != nil {
		return err
	}
	var hook func()
	if s.crashHook != nil {
		hook = func() { s.crashHook(key) }
	}
	if err := atomicfile.Write(s.Where(key), data, 0o600, hook); err != nil {
		return fmt.Errorf("file store: save %s: %w", key, err)
	}
	return nil
}

// Delete removes the record of key, then its log (a log left without its
// record by a crash between the two is removed when the store opens).
func (s *FileStore) Delete(key string) error {
	if !validKey(key) {
		return fmt.Errorf("file store: invalid key %q", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.Remove(s.Where(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := s.removeLog(key); err != nil {
		return err
	}
	return s.syncDir()
}

// Keys lists the records in the directory: every KEY.json entry, whatever
// its type, so that Load refuses one that is not a trusted file rather
// than the store passing over it.
func (s *FileStore) Keys() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && validKey(name) {
			keys = append(keys, name)
		}
	}
	return keys, nil
}

func (s *FileStore) syncDir() error { return atomicfile.SyncDir(s.dir) }

// loadError is the error of a store's Load of the record at where: a
// *StateError naming it, unless the store gave one already.
func loadError(where string, err error) error {
	var se *StateError
	if errors.As(err, &se) {
		return err
	}
	return &StateError{Where: where, Err: err}
}

// where names the record of key in errors, for stores that can say.
func where(s Store, key string) string {
	if w, ok := s.(interface{ Where(string) string }); ok {
		return w.Where(key)
	}
	return key
}
