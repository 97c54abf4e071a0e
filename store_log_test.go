package afterhours

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func recsOf(ss ...string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		out = append(out, []byte(s))
	}
	return out
}

func wantLog(t *testing.T, a Appender, key string, want ...string) {
	t.Helper()
	got, err := a.Log(key)
	if err != nil {
		t.Fatalf("Log(%s): %v", key, err)
	}
	if !slices.EqualFunc(got, recsOf(want...), bytes.Equal) {
		t.Fatalf("Log(%s) = %q, want %q", key, got, want)
	}
}

func testAppender(t *testing.T, a Appender) {
	t.Helper()
	wantLog(t, a, "cycle-2026-11-23")
	if err := a.Save("cycle-2026-11-23", []byte(`{"snapshot":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.Append("cycle-2026-11-23", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := a.Append("cycle-2026-11-23", []byte("two"), []byte("three")); err != nil {
		t.Fatal(err)
	}
	wantLog(t, a, "cycle-2026-11-23", "one", "two", "three")
	if err := a.Append("cycle-2026-11-23", []byte("four"), nil); err == nil {
		t.Error("an empty record was appended")
	}
	for _, bad := range []string{"", "../x", "A", ".hidden", "a/b"} {
		if err := a.Append(bad, []byte("x")); err == nil {
			t.Errorf("Append(%q) accepted", bad)
		}
	}
	// Save leaves the log; TruncateLog empties it.
	if err := a.Save("cycle-2026-11-23", []byte(`{"snapshot":2}`)); err != nil {
		t.Fatal(err)
	}
	wantLog(t, a, "cycle-2026-11-23", "one", "two", "three")
	if err := a.TruncateLog("cycle-2026-11-23"); err != nil {
		t.Fatal(err)
	}
	wantLog(t, a, "cycle-2026-11-23")
	if err := a.Append("cycle-2026-11-23", []byte("five")); err != nil {
		t.Fatal(err)
	}
	wantLog(t, a, "cycle-2026-11-23", "five")
	if err := a.TruncateLog("no-log"); err != nil {
		t.Errorf("TruncateLog of a key without a log: %v", err)
	}
	if keys, err := a.Keys(); err != nil || !slices.Equal(keys, []string{"cycle-2026-11-23"}) {
		t.Errorf("Keys: %v %v, want the key with data alone", keys, err)
	}
	// Delete drops the data and the log.
	if err := a.Delete("cycle-2026-11-23"); err != nil {
		t.Fatal(err)
	}
	wantLog(t, a, "cycle-2026-11-23")
	if keys, _ := a.Keys(); len(keys) != 0 {
		t.Errorf("keys after Delete: %v", keys)
	}
}

func TestMemoryStoreAppender(t *testing.T) { testAppender(t, NewMemoryStore()) }

func TestFileStoreAppender(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	testAppender(t, s)
	if err := s.Save("k", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := s.Append("k", []byte("x")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(s.logPath("k"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log %v %v, want mode 0600", fi, err)
	}
}

// A log that another user could have written, or a symbolic link, is
// refused as the records are; a log whose record a crash in the middle of
// a Delete removed is removed when the store opens.
func TestFileStoreLogTrust(t *testing.T) {
	mk := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "state")
		s, err := OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Save("cycle-2026-11-23", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if err := s.Append("cycle-2026-11-23", []byte("entry")); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("group-writable", func(t *testing.T) {
		dir := mk(t)
		log := filepath.Join(dir, "cycle-2026-11-23.log")
		if err := os.Chmod(log, 0o620); err != nil {
			t.Fatal(err)
		}
		_, err := OpenFileStore(dir)
		wantUnsafe(t, err, log, "writable by group or others (mode 0620)")
	})
	t.Run("symbolic link", func(t *testing.T) {
		dir := mk(t)
		log := filepath.Join(dir, "cycle-2026-11-23.log")
		elsewhere := filepath.Join(filepath.Dir(dir), "planted.log")
		if err := os.Rename(log, elsewhere); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, log); err != nil {
			t.Fatal(err)
		}
		_, err := OpenFileStore(dir)
		wantUnsafe(t, err, log, "a symbolic link")
	})
	t.Run("swapped after the store opened", func(t *testing.T) {
		dir := mk(t)
		s, err := OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		log := filepath.Join(dir, "cycle-2026-11-23.log")
		if err := os.Chmod(log, 0o606); err != nil {
			t.Fatal(err)
		}
		_, err = s.Log("cycle-2026-11-23")
		wantUnsafe(t, err, log, "writable by group or others (mode 0606)")
		err = s.Append("cycle-2026-11-23", []byte("more"))
		wantUnsafe(t, err, log, "writable by group or others (mode 0606)")
	})
	t.Run("orphan", func(t *testing.T) {
		dir := mk(t)
		if err := os.Remove(filepath.Join(dir, "cycle-2026-11-23.json")); err != nil {
			t.Fatal(err)
		}
		s, err := OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := os.Lstat(filepath.Join(dir, "cycle-2026-11-23.log")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the log without its record is left: %v", err)
		}
	})
}

// A crash in the middle of an Append leaves the log cut anywhere in its
// last record: for every such length, the records before it are read
// back, and the next Append cuts the torn part and is read after them.
// A last record whose bytes were not all written (a CRC that does not
// match) is dropped the same way.
func TestFileStoreTornLog(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save("k", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"first record", "second", `{"last":"record of the log"}`} {
		if err := s.Append("k", []byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	path := filepath.Join(dir, "k.log")
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lastStart := len(whole) - frameHeader - len(`{"last":"record of the log"}`)
	check := func(t *testing.T, data []byte, want ...string) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := OpenFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		wantLog(t, s, "k", want...)
		if err := s.Append("k", []byte("after")); err != nil {
			t.Fatal(err)
		}
		wantLog(t, s, "k", append(want, "after")...)
	}
	for n := lastStart; n < len(whole); n++ {
		check(t, whole[:n], "first record", "second")
	}
	for i := lastStart; i < len(whole); i++ {
		bad := slices.Clone(whole)
		bad[i] ^= 0x40
		check(t, bad, "first record", "second")
	}
	// Torn while the log was created: a part of its header.
	for n := range len(logMagic) {
		check(t, []byte(logMagic[:n]))
	}
	// Not a log at all.
	if err := os.WriteFile(path, []byte("something else entirely"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var se *StateError
	if _, err := s.Log("k"); !errors.As(err, &se) || se.Where != path {
		t.Errorf("Log of a file that is not a log: %v, want a StateError naming it", err)
	}
}

// FuzzDecodeLog checks the log's reader on any bytes: it never fails on
// what starts as a log, the whole part it finds is its records framed
// again, and reading that part alone gives the same records.
func FuzzDecodeLog(f *testing.F) {
	valid := []byte(logMagic)
	for _, r := range []string{"a", `{"seq":1,"set":[]}`, "third record"} {
		valid = appendFrame(valid, []byte(r))
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add([]byte(logMagic[:3]))
	f.Add(append([]byte(logMagic), 0, 0, 0, 0, 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, whole, err := decodeLog(data)
		if err != nil {
			if bytes.HasPrefix(data, []byte(logMagic)) || bytes.HasPrefix([]byte(logMagic), data) {
				t.Fatalf("error %v on a log", err)
			}
			return
		}
		if whole > len(data) {
			t.Fatalf("whole part %d of %d bytes", whole, len(data))
		}
		var again []byte
		if whole > 0 {
			again = []byte(logMagic)
		}
		for _, r := range recs {
			if len(r) == 0 {
				t.Fatal("an empty record")
			}
			again = appendFrame(again, r)
		}
		if !bytes.Equal(again, data[:whole]) {
			t.Fatalf("records framed again differ from the whole part")
		}
		recs2, whole2, err := decodeLog(data[:whole])
		if err != nil || whole2 != whole || !slices.EqualFunc(recs, recs2, bytes.Equal) {
			t.Fatalf("the whole part read alone: %d records, %d bytes, %v", len(recs2), whole2, err)
		}
	})
}
