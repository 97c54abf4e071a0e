package afterhours

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// Validation compiles alike tasks once: 10,000 timers of two schedules hold
// two recurrences and one compiled part, and their equal command lines and
// schedules are one copy each.
func TestAlikeTasksShare(t *testing.T) {
	var timers []string
	for i := range 10000 {
		spec := "0 3 * * *"
		if i%2 == 1 {
			spec = "30 4 * * 0"
		}
		timers = append(timers, fmt.Sprintf(`{"name": "t%05d", "schedule": %q, "run": ["/usr/lib/agent/timer", "--quiet"]}`, i, spec))
	}
	p, err := ParseProfile([]byte(`{"client": "c", "site": {"timezone": "Europe/London"}, "timers": [` + strings.Join(timers, ",") + `]}`))
	require.NoError(t, err)

	recurs, infos, runs, specs := map[*recurrence]bool{}, map[*taskInfo]bool{}, map[*string]bool{}, map[*byte]bool{}
	for _, task := range p.Timers {
		recurs[task.recur] = true
		infos[task.taskInfo] = true
		runs[&task.Run[0]] = true
		specs[unsafe.StringData(task.Schedule)] = true
	}
	require.Len(t, recurs, 2)
	require.Equal(t, 2, p.nrecurs)
	require.Len(t, infos, 1)
	require.Len(t, runs, 1, "one command line for all")
	require.Len(t, specs, 2, "one copy of each schedule")
	require.Nil(t, p.compiling, "what validation shares is dropped once it is done")
	require.Equal(t, p.Timers[4321], p.Task("t04321"))
	require.Nil(t, p.Task("t10000"))
}

// A shared list is clipped: appending to one task's copies it, and the
// other tasks keep theirs.
func TestSharedListsAreClipped(t *testing.T) {
	p, err := ParseProfile([]byte(`{"client": "c", "site": {"timezone": "UTC"}, "housekeeping": [
	  {"name": "a", "run": ["/bin/x", "-v"], "uses": ["db"], "tags": ["uk"]},
	  {"name": "b", "run": ["/bin/x", "-v"], "uses": ["db"], "tags": ["uk"]}]}`))
	require.NoError(t, err)
	a, b := p.Task("a"), p.Task("b")
	require.Same(t, &a.Run[0], &b.Run[0])
	require.Same(t, &a.Uses[0], &b.Uses[0])
	require.Same(t, &a.Tags[0], &b.Tags[0])
	require.Same(t, a.taskInfo, b.taskInfo)
	grown := append(a.Run, "--more")
	require.Equal(t, []string{"/bin/x", "-v"}, b.Run)
	require.Equal(t, []string{"/bin/x", "-v", "--more"}, grown)
}

// Tasks that differ in what planning compiles of them do not share it: the
// kind, the token, the resources, ignore_downtimes, the tag match and the
// estimate each make a compiled part of its own.
func TestUnlikeTasksDoNotShare(t *testing.T) {
	p, err := ParseProfile([]byte(`{"client": "c", "site": {"timezone": "UTC", "tags": ["uk"]},
	  "sharing": [{"token": "t", "base": "01:00", "duration": "10m", "tasks": [{"name": "s", "run": ["/x"]}]}],
	  "housekeeping": [
	    {"name": "h", "run": ["/x"]},
	    {"name": "h-db", "run": ["/x"], "uses": ["db"]},
	    {"name": "h-db-ignore", "run": ["/x"], "uses": ["db"], "ignore_downtimes": true},
	    {"name": "h-fr", "run": ["/x"], "tags": ["fr"]},
	    {"name": "h-5m", "run": ["/x"], "estimate": "5m"},
	    {"name": "h-again", "run": ["/x"]}],
	  "updates": [{"name": "u", "run": ["/x"]}],
	  "timers": [{"name": "timer", "run": ["/x"], "schedule": "0 3 * * *"}],
	  "resources": [{"name": "db", "downtimes": [{"days": ["sun"]}]}]}`))
	require.NoError(t, err)
	seen := map[*taskInfo]string{}
	for _, name := range []string{"s", "h", "h-db", "h-db-ignore", "h-fr", "h-5m", "u", "timer"} {
		ti := p.Task(name).taskInfo
		other, dup := seen[ti]
		require.False(t, dup, "%s shares with %s", name, other)
		seen[ti] = name
	}
	require.Same(t, p.Task("h").taskInfo, p.Task("h-again").taskInfo)
	require.Equal(t, "t", p.Task("s").Token())
	require.Equal(t, []string{"db"}, p.Task("h-db").down)
	require.Empty(t, p.Task("h-db-ignore").down)
	require.False(t, p.Task("h-fr").MatchesSite())
	require.True(t, p.Task("h").MatchesSite())
}

// Before validation a task has nothing compiled: it matches no site and
// has no token.
func TestTaskBeforeValidation(t *testing.T) {
	task := &Task{Name: "x", Run: []string{"/x"}}
	require.False(t, task.MatchesSite())
	require.Equal(t, "", task.Token())
}

// Validating a copy of a profile leaves the original's lookups alone.
func TestValidateCopyKeepsOriginal(t *testing.T) {
	p, err := ParseProfile([]byte(`{"client": "c", "site": {"timezone": "UTC"}, "housekeeping": [{"name": "a", "run": ["/x"]}, {"name": "b", "run": ["/x"]}]}`))
	require.NoError(t, err)
	cp := *p
	cp.Housekeeping = []*Task{{Name: "z", Run: []string{"/z"}}}
	require.NoError(t, cp.Validate())
	require.NotNil(t, p.Task("a"))
	require.NotNil(t, p.Task("b"))
	require.Nil(t, p.Task("z"))
	require.NotNil(t, cp.Task("z"))
}
