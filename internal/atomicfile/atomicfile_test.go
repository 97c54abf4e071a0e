package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Write replaces a file's content, with the mode asked, and leaves no
// temporary file.
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status.json")
	require.NoError(t, Write(path, []byte("one"), 0o600, nil))
	require.NoError(t, Write(path, []byte("two"), 0o600, nil))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "two", string(data))
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

// A crash before the rename leaves the old file whole; the temporary
// file is what is left to clean.
func TestWriteCrashBeforeRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "status.json")
	require.NoError(t, Write(path, []byte("old"), 0o600, nil))
	func() {
		defer func() { require.Equal(t, "crash", recover()) }()
		Write(path, []byte("new"), 0o600, func() { panic("crash") })
	}()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "old", string(data))
	temps, _ := filepath.Glob(filepath.Join(dir, ".status.json.*.tmp"))
	require.Len(t, temps, 1)
}

// A symbolic link at the path is replaced, never followed.
func TestWriteReplacesALink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o600))
	path := filepath.Join(dir, "status.json")
	require.NoError(t, os.Symlink(target, path))
	require.NoError(t, Write(path, []byte("new"), 0o600, nil))
	data, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "keep", string(data))
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	require.True(t, fi.Mode().IsRegular())
}

// A directory that cannot be written to is an error, and nothing is left.
func TestWriteError(t *testing.T) {
	require.Error(t, Write(filepath.Join(t.TempDir(), "missing", "f"), []byte("x"), 0o600, nil))
}
