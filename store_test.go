package afterhours

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func testStore(t *testing.T, s Store) {
	t.Helper()
	if _, err := s.Load("state"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of a missing key: %v, want fs.ErrNotExist", err)
	}
	if err := s.Save("state", []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("cycle-2026-11-23", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("state", []byte(`{"a":2}`)); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Load("state"); err != nil || string(d) != `{"a":2}` {
		t.Fatalf("Load: %q %v", d, err)
	}
	keys, err := s.Keys()
	slices.Sort(keys)
	if err != nil || !slices.Equal(keys, []string{"cycle-2026-11-23", "state"}) {
		t.Fatalf("Keys: %v %v", keys, err)
	}
	for _, bad := range []string{"", "../x", "A", ".hidden", "a/b"} {
		if err := s.Save(bad, nil); err == nil {
			t.Errorf("Save(%q) accepted", bad)
		}
	}
	if err := s.Delete("state"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("state"); err != nil {
		t.Fatalf("deleting a missing key: %v", err)
	}
	if _, err := s.Load("state"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load after Delete: %v", err)
	}
}

func TestMemoryStore(t *testing.T) { testStore(t, NewMemoryStore()) }

func TestFileStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testStore(t, s)
	fi, err := os.Stat(s.Where("cycle-2026-11-23"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	// A second store on the same directory is refused.
	if s2, err := OpenFileStore(dir); err == nil {
		s2.Close()
		t.Error("a second FileStore opened a locked directory")
	}
}

// A crash between writing the temporary file and the rename leaves the old
// record, and the next open removes the temporary file.
func TestFileStoreCrashBeforeRename(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save("state", []byte("old")); err != nil {
		t.Fatal(err)
	}
	crash := errors.New("crash")
	s.crashHook = func(string) { panic(crash) }
	func() {
		defer func() {
			if r := recover(); r != crash {
				t.Fatalf("recovered %v", r)
			}
		}()
		s.Save("state", []byte("new"))
	}()
	s.Close()
	temps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
	if len(temps) != 1 {
		t.Fatalf("temporary files %v, want the one the crash left", temps)
	}
	s, err = OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if d, err := s.Load("state"); err != nil || string(d) != "old" {
		t.Errorf("after a crash before the rename: %q %v, want the old record", d, err)
	}
	if temps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(temps) != 0 {
		t.Errorf("temporary files left after open: %v", temps)
	}
	if keys, _ := s.Keys(); !slices.Equal(keys, []string{"state"}) {
		t.Errorf("keys %v", keys)
	}
}
