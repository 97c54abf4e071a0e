package afterhours

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModulesPublishable backs the rule on the repository's other modules
// (cmd/afterhours, etcd): each go.mod has no replace directive (`go
// install pkg@version` refuses one) and requires this module, and any other
// module of the repository it uses (cmd/afterhours requires etcd's), at a
// pseudo-version, a commit of main; go.work uses each and replaces each
// such version by the module's working tree.
func TestModulesPublishable(t *testing.T) {
	const root = "github.com/afterhours-go/afterhours"
	work, err := os.ReadFile("go.work")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	inUse := false
	for _, line := range strings.Split(string(work), "\n") {
		f := strings.Fields(strings.SplitN(line, "//", 2)[0])
		switch {
		case len(f) == 0:
		case f[0] == "use" && len(f) == 2 && f[1] == "(":
			inUse = true
		case f[0] == ")":
			inUse = false
		case inUse && len(f) == 1 && f[0] != ".":
			dirs = append(dirs, f[0])
		case f[0] == "use" && len(f) == 2 && f[1] != ".":
			dirs = append(dirs, f[1])
		}
	}
	for _, want := range []string{"./cmd/afterhours", "./etcd"} {
		if !strings.Contains(strings.Join(dirs, " "), want) {
			t.Errorf("go.work does not use %s", want)
		}
	}
	// The modules of the repository, by path: their directories as go.work
	// names them.
	inRepo := map[string]string{root: "./"}
	mods := map[string][]byte{}
	for _, dir := range dirs {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		mods[dir] = mod
		for _, line := range strings.Split(string(mod), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
				inRepo[f[1]] = strings.TrimSuffix(dir, "/")
			}
		}
	}
	for _, dir := range dirs {
		required := map[string]string{} // in-repo module path: version
		inBlock := false
		for _, line := range strings.Split(string(mods[dir]), "\n") {
			f := strings.Fields(strings.SplitN(line, "//", 2)[0])
			switch {
			case len(f) == 0:
				continue
			case f[0] == "replace" || f[0] == "exclude" || f[0] == "retract":
				t.Errorf("%s/go.mod has a %s directive, which go install pkg@version refuses: %q", dir, f[0], line)
			case f[0] == "require" && len(f) == 2 && f[1] == "(":
				inBlock = true
			case f[0] == ")":
				inBlock = false
			case f[0] == "require" && len(f) == 3 && inRepo[f[1]] != "":
				required[f[1]] = f[2]
			case inBlock && len(f) == 2 && inRepo[f[0]] != "":
				required[f[0]] = f[1]
			}
		}
		if required[root] == "" {
			t.Errorf("%s/go.mod does not require %s", dir, root)
		}
		for path, version := range required {
			if !strings.HasPrefix(version, "v0.0.0-") || strings.Count(version, "-") != 2 {
				t.Errorf("%s/go.mod requires %s %s; want a pseudo-version of a commit of main until a release", dir, path, version)
			}
			want := "replace " + path + " " + version + " => " + inRepo[path]
			if !strings.Contains(string(work), want) {
				t.Errorf("go.work lacks %q: raise its replace line with %s/go.mod's requirement", want, dir)
			}
		}
	}
}
