package e2e_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/server"
)

func TestSmoke(t *testing.T) {
	s := newSim(t, 9)
	exe, _ := os.Executable()
	cmdLog := filepath.Join(t.TempDir(), "commands.log")
	s.runUntil(simStart.Add(26 * time.Hour))
	s.srv.admin(http.MethodPost, "/v1/commands", server.NewCommand{ID: "x",
		Run: []string{exe, helperArg, cmdLog, "x"}, Tags: []string{"nepal"}}, nil)
	for i := 0; i < 3; i++ {
		s.quiet()
		for _, a := range s.agents {
			if a.site != "kathmandu" {
				continue
			}
			st := a.exec.Status()
			t.Logf("%s day %s queued %d active %d", a.id, st.Day, len(st.Queued), len(st.Active))
			for _, cj := range a.exec.Journal() {
				for _, r := range cj.Records {
					if r.Command != "" {
						t.Logf("   %s %s %s %v", cj.Day, r.Task, r.State, r.Start)
					}
				}
			}
		}
		s.clk.set(s.clk.now().Add(time.Minute))
	}
}
