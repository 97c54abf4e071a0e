package afterhours

import (
	"strings"
	"testing"
)

func TestCommandValidateRefusesNUL(t *testing.T) {
	for _, c := range []struct {
		cmd  Command
		path string
	}{
		{Command{ID: "c\x001", Run: []string{"/bin/true"}}, "id"},
		{Command{ID: "c1", Name: "fix\x00", Run: []string{"/bin/true"}}, "name"},
		{Command{ID: "c1", Run: []string{"/bin/tr\x00ue"}}, "run[0]"},
		{Command{ID: "c1", Run: []string{"/bin/echo", "a\x00b"}}, "run[1]"},
		{Command{ID: "c1", Run: []string{"/bin/true"}, User: "no\x00body"}, "user"},
		{Command{ID: "c1", Run: []string{"/bin/true"}, Tags: []string{"uk", "re\x00tail"}}, "tags[1]"},
	} {
		err := c.cmd.validate()
		if err == nil || !strings.Contains(err.Error(), c.path+": holds a NUL byte") {
			t.Errorf("%+v: got %v, want a NUL problem at %s", c.cmd, err, c.path)
		}
	}
	if err := (&Command{ID: "c1", Run: []string{"/bin/echo", "fine"}}).validate(); err != nil {
		t.Errorf("a command without NUL bytes: %v", err)
	}
}
