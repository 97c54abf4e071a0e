package trust

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func lstat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	fi, err := os.Lstat(path)
	require.NoError(t, err)
	return fi
}

func TestWhy(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	require.Empty(t, Why(lstat(t, dir), true))
	require.Equal(t, "it is not a regular file", Why(lstat(t, dir), false))

	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	require.Empty(t, Why(lstat(t, file), false))
	require.Equal(t, "it is not a directory", Why(lstat(t, file), true))

	require.NoError(t, os.Chmod(file, 0o620))
	require.Equal(t, "it is writable by group or others (mode 0620)", Why(lstat(t, file), false))
	require.NoError(t, os.Chmod(dir, 0o777))
	require.Equal(t, "it is writable by group or others (mode 0777)", Why(lstat(t, dir), true))

	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(file, link))
	require.Equal(t, "it is a symbolic link", Why(lstat(t, link), false))

	if os.Geteuid() == 0 {
		require.NoError(t, os.Chown(file, 1, 1))
		require.NoError(t, os.Chmod(file, 0o600))
		require.True(t, strings.HasPrefix(Why(lstat(t, file), false), "it is owned by uid 1, not by this process's uid 0"))
	}
}
