package main

import (
	"os"
	"strings"
	"testing"
)

const rootModule = "github.com/afterhours-go/afterhours"

// TestGoModPublishable backs the package doc's rule on modules: go.mod has
// no replace directive (`go install pkg@version` refuses one), it requires
// the root module at a pseudo-version, and go.work at the repository root
// uses this module and replaces that very version by the working tree.
func TestGoModPublishable(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	version := ""
	inBlock := false
	for _, line := range strings.Split(string(mod), "\n") {
		f := strings.Fields(strings.SplitN(line, "//", 2)[0])
		switch {
		case len(f) == 0:
			continue
		case f[0] == "replace" || f[0] == "exclude" || f[0] == "retract":
			t.Errorf("go.mod has a %s directive, which go install pkg@version refuses: %q", f[0], line)
		case f[0] == "require" && len(f) == 2 && f[1] == "(":
			inBlock = true
		case f[0] == ")":
			inBlock = false
		case f[0] == "require" && len(f) == 3 && f[1] == rootModule:
			version = f[2]
		case inBlock && len(f) == 2 && f[0] == rootModule:
			version = f[1]
		}
	}
	if version == "" {
		t.Fatalf("go.mod does not require %s", rootModule)
	}
	if !strings.HasPrefix(version, "v0.0.0-") || strings.Count(version, "-") != 2 {
		t.Errorf("go.mod requires %s %s; want a pseudo-version of a commit of main until a release", rootModule, version)
	}

	work, err := os.ReadFile("../../go.work")
	if err != nil {
		t.Fatal(err)
	}
	w := string(work)
	if !strings.Contains(w, "./cmd/afterhours") {
		t.Error("go.work does not use ./cmd/afterhours")
	}
	want := "replace " + rootModule + " " + version + " => ./"
	if !strings.Contains(w, want) {
		t.Errorf("go.work lacks %q: raise its replace line with go.mod's requirement", want)
	}
}
