package agentlink

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/afterhours-go/afterhours"
	"github.com/stretchr/testify/require"
)

func TestCredentialsInFileStore(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o700))
	fs, err := afterhours.OpenFileStore(dir)
	require.NoError(t, err)
	c := Credentials{Server: "https://fleet.example", Client: "leeds-1", Token: "secret"}
	require.NoError(t, SaveCredentials(fs, c))
	st, err := os.Stat(filepath.Join(dir, CredentialsKey+".json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.NoError(t, fs.Close())

	fs, err = afterhours.OpenFileStore(dir)
	require.NoError(t, err)
	defer fs.Close()
	got, err := LoadCredentials(fs)
	require.NoError(t, err)
	require.Equal(t, c, got)
}
