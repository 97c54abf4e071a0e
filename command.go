package afterhours

import (
	"errors"
	"fmt"
	"path"
	"reflect"
	"strings"
	"time"
)

// DefaultCommandTimeout is the timeout of a command that gives none.
const DefaultCommandTimeout = time.Hour

// Command is ad-hoc work an operator sends, usually to fix something: run
// now, before the next step of the sequence.
//
// A command is saved in the executor's store before [Executor.Submit]
// returns, and runs once: its id is remembered for the journal's retention,
// and a command that was running when the executor stopped or crashed is
// reported as interrupted, never run again on its own. A command with a Go
// Action cannot be saved as code: if the executor restarts before it
// starts, it is recorded as failed, not run.
type Command struct {
	// ID identifies the command; required.
	ID string `json:"id"`
	// Name is what the journal and events call it; the ID when empty.
	Name string `json:"name,omitempty"`
	// Run is the command line: an absolute path and its arguments, run
	// without a shell.
	Run []string `json:"run,omitempty"`
	// User runs the command as that user, when the agent may.
	User string `json:"user,omitempty"`
	// Tags selects the sites the command is for, as a task's tags do.
	Tags []string `json:"tags,omitempty"`
	// Timeout ends a run that takes longer; 0 means
	// [DefaultCommandTimeout].
	Timeout Duration `json:"timeout,omitempty"`
	// Action, when set, is run instead of Run.
	Action Action `json:"-"`
	// Accepted is when the executor accepted the command; set by Submit.
	Accepted time.Time `json:"accepted,omitzero"`
	// Lost is set for a command with an Action loaded back from the store:
	// its code did not survive the restart.
	Lost bool `json:"lost,omitempty"`
}

// validate reports what makes c unfit to run: a missing id or command
// line, a relative path, a negative timeout, an empty tag, and a NUL byte in
// any of its strings (as in a profile: a NUL byte ends a string for the
// system calls that take it, so the run would do something else than the
// operator sent, or fail every time).
func (c *Command) validate() error {
	var nul problems
	checkNUL(&nul, "", reflect.ValueOf(c).Elem())
	var problems []string
	for _, p := range nul.list {
		problems = append(problems, p.Path+": "+p.Message)
	}
	if c.ID == "" {
		problems = append(problems, "id: required")
	} else if len(c.ID) > 200 {
		problems = append(problems, "id: longer than 200 bytes")
	}
	switch {
	case len(c.Run) == 0 && c.Action == nil:
		problems = append(problems, "run: required: an absolute path and its arguments, or an Action")
	case len(c.Run) > 0 && !path.IsAbs(c.Run[0]):
		problems = append(problems, fmt.Sprintf("run[0]: %q is not an absolute path", c.Run[0]))
	}
	if c.Timeout < 0 {
		problems = append(problems, "timeout: must not be negative")
	}
	for _, tag := range c.Tags {
		if tag == "" || tag == "!" {
			problems = append(problems, "tags: empty tag")
		}
	}
	if len(problems) > 0 {
		return errors.New("afterhours: invalid command: " + strings.Join(problems, "; "))
	}
	return nil
}

func (c *Command) name() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// task returns the Task the command runs as: kind Command, no resources
// (commands bypass holds and resource constraints anyway).
func (c *Command) task() *Task {
	t := &Task{Name: c.name(), Run: c.Run, User: c.User, Timeout: c.Timeout, Action: c.Action, kind: CommandKind}
	t.taskInfo = &taskInfo{res: resources{any: true}, matches: true, estimate: t.ownEstimate()}
	return t
}
