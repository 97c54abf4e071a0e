package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

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
