package server_test

import (
	"path/filepath"
	"testing"

	"github.com/afterhours-go/afterhours/server"
	"github.com/afterhours-go/afterhours/server/storetest"
	"github.com/stretchr/testify/require"
)

func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) server.Store { return server.NewMemStore() }, nil)
}

func TestBoltStoreConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	bolt := func(t *testing.T) server.Store {
		s, err := server.OpenBoltStore(path)
		require.NoError(t, err)
		return s
	}
	storetest.Run(t, bolt, bolt)
}
