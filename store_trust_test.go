package afterhours

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/afterhours-go/afterhours/internal/testenv"
)

// nobody is the uid another local user has in the trust tests.
const nobody = 65534

// A queued command as another user would plant it in executor.json.
const plantedMeta = `{"version":1,"queue":[{"id":"evil","run":["/bin/sh","-c","id > /tmp/owned"],"accepted":"2026-11-23T17:00:00Z"}]}`

// wantUnsafe checks that err refuses the state at path, saying why.
func wantUnsafe(t *testing.T, err error, path, why string) {
	t.Helper()
	var se *StateError
	if !errors.Is(err, ErrUnsafeState) || !errors.As(err, &se) || se.Where != path || !strings.Contains(err.Error(), why) {
		t.Fatalf("got %v, want a StateError refusing %s: %s", err, path, why)
	}
}

// Issue 11, item 10: an existing directory with mode 0777 holding an
// executor.json another user wrote is refused, and so are a directory or a
// file that is a symlink, belongs to another user, or is writable by group
// or others; a file swapped after the store opened is refused by Load.
func TestFileStoreRefusesUntrustedState(t *testing.T) {
	testenv.Require(t, os.Geteuid() == 0, "giving files to another user (chown) needs root")
	// mk returns a fresh state directory (mode 0700, ours) in a fresh
	// parent, with executor.json holding the planted command.
	mk := func(t *testing.T) (dir, meta string) {
		dir = filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		meta = filepath.Join(dir, "executor.json")
		if err := os.WriteFile(meta, []byte(plantedMeta), 0o600); err != nil {
			t.Fatal(err)
		}
		return dir, meta
	}
	open := func(dir string) error {
		s, err := OpenFileStore(dir)
		if err != nil {
			return err
		}
		defer s.Close()
		_, err = NewExecutor(mustParse(t, smallShopRun), WithStore(s))
		return err
	}

	t.Run("reproduction: a 0777 directory, executor.json of another user", func(t *testing.T) {
		dir, meta := mk(t)
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(meta, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, open(dir), dir, "writable by group or others (mode 0777)")
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, open(dir), meta, "owned by uid 65534")
	})
	t.Run("the directory of another user", func(t *testing.T) {
		dir, _ := mk(t)
		if err := os.Chown(dir, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, open(dir), dir, "owned by uid 65534")
	})
	t.Run("a symlinked directory", func(t *testing.T) {
		dir, _ := mk(t)
		link := filepath.Join(filepath.Dir(dir), "link")
		if err := os.Symlink(dir, link); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, open(link), link, "a symbolic link")
	})
	t.Run("a symlinked file", func(t *testing.T) {
		dir, meta := mk(t)
		elsewhere := filepath.Join(filepath.Dir(dir), "planted.json")
		if err := os.Rename(meta, elsewhere); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, meta); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, open(dir), meta, "a symbolic link")
	})
	t.Run("a group-writable file", func(t *testing.T) {
		dir, meta := mk(t)
		if err := os.Chmod(meta, 0o620); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, open(dir), meta, "writable by group or others (mode 0620)")
	})
	t.Run("a lock file of another user", func(t *testing.T) {
		dir, _ := mk(t)
		lock := filepath.Join(dir, "lock")
		if err := os.WriteFile(lock, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(lock, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		wantUnsafe(t, open(dir), lock, "owned by uid 65534")
	})
	t.Run("a file swapped after the store opened", func(t *testing.T) {
		dir, meta := mk(t)
		s, err := OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Load("executor"); err != nil {
			t.Fatalf("Load of a trusted file: %v", err)
		}
		if err := os.Chown(meta, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		_, err = s.Load("executor")
		wantUnsafe(t, err, meta, "owned by uid 65534")
		if err := os.Chown(meta, 0, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o757); err != nil {
			t.Fatal(err)
		}
		_, err = s.Load("executor")
		wantUnsafe(t, err, dir, "writable by group or others (mode 0757)")
		if err := s.Save("executor", []byte(`{"version":1}`)); !errors.Is(err, ErrUnsafeState) {
			t.Errorf("Save into an unsafe directory: %v", err)
		}
	})
	t.Run("Save replaces a link planted later, never writes through it", func(t *testing.T) {
		dir, meta := mk(t)
		s, err := OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		target := filepath.Join(filepath.Dir(dir), "target")
		if err := os.WriteFile(target, []byte("theirs"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(meta); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, meta); err != nil {
			t.Fatal(err)
		}
		_, err = s.Load("executor")
		wantUnsafe(t, err, meta, "a symbolic link")
		if err := s.Save("executor", []byte(`{"version":1}`)); err != nil {
			t.Fatal(err)
		}
		if data, _ := os.ReadFile(target); string(data) != "theirs" {
			t.Errorf("Save wrote through the link: %q", data)
		}
		if fi, err := os.Lstat(meta); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
			t.Errorf("the record after Save: %v %v, want a regular file, mode 0600", fi.Mode(), err)
		}
	})
	t.Run("a trusted directory opens, and a new one is 0700", func(t *testing.T) {
		dir, _ := mk(t)
		if err := open(dir); err != nil {
			t.Fatal(err)
		}
		fresh := filepath.Join(t.TempDir(), "new", "state")
		s, err := OpenFileStore(fresh)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if fi, err := os.Lstat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("new state directory: %v %v, want mode 0700", fi.Mode(), err)
		}
	})
}
