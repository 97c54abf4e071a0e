package metrics_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/afterhours-go/afterhours/internal/testenv"
)

// The library's other packages never import client_golang: only a program
// that imports this package builds it in.
func TestCoreDoesNotImportPrometheus(t *testing.T) {
	gobin, err := exec.LookPath("go")
	testenv.Require(t, err == nil, "the go command is not on PATH")
	out, err := exec.Command(gobin, "list", "-deps", "-test=false",
		"github.com/afterhours-go/afterhours",
		"github.com/afterhours-go/afterhours/fleet",
		"github.com/afterhours-go/afterhours/server",
		"github.com/afterhours-go/afterhours/agentlink").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/prometheus/") {
			t.Errorf("%s is imported by the core packages", pkg)
		}
	}
}
