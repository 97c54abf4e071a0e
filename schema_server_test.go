package afterhours_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/server"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// TestProfileSchemaAcceptsComposedProfiles validates the profiles the
// fleet server composes (server.Config.Profile) against the schema: for
// every fleet config written in the server package's tests, every site,
// with every token placed and with none placed ("unplaced").
func TestProfileSchemaAcceptsComposedProfiles(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(afterhours.ProfileSchema()))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	require.NoError(t, c.AddResource(afterhours.ProfileSchemaID, doc))
	sch, err := c.Compile(afterhours.ProfileSchemaID)
	require.NoError(t, err)

	profiles := 0
	for _, src := range serverConfigs(t) {
		cfg, err := server.ParseConfig([]byte(src))
		if err != nil {
			continue // a config a test means to be invalid
		}
		placed := map[string]server.Placement{}
		for _, r := range cfg.Resources() {
			placed[r.Token] = server.Placement{Base: "01:00"}
		}
		for _, site := range cfg.Sites() {
			for _, pl := range []map[string]server.Placement{placed, nil} {
				data, err := cfg.Profile(server.Client{ID: "c-" + site, Site: site}, pl)
				require.NoError(t, err)
				_, err = afterhours.ParseProfile(data)
				require.NoError(t, err, "%s", data)
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
				require.NoError(t, err)
				require.NoError(t, sch.Validate(inst), "%s", data)
				profiles++
			}
		}
	}
	t.Logf("%d composed profiles", profiles)
	require.Greater(t, profiles, 4)
}

// serverConfigs returns the string constants of the server package's tests
// that are fleet configs: JSON objects with "sites".
func serverConfigs(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("server", "*_test.go"))
	require.NoError(t, err)
	fset := token.NewFileSet()
	var out []string
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err == nil && strings.HasPrefix(strings.TrimSpace(s), "{") && strings.Contains(s, `"sites"`) {
				out = append(out, s)
			}
			return true
		})
	}
	return out
}
