package afterhours

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Kind says what sort of work a task is and so how it is planned.
type Kind int

// The kinds of task. A task's kind comes from the section of the profile it
// is declared in.
const (
	// Housekeeping is recurring work, run in every cycle it is due.
	Housekeeping Kind = iota + 1
	// Update is one-off work, run after the housekeeping of its cycle.
	Update
	// SelfUpdate is the one-off update of the agent itself: last, and alone.
	SelfUpdate
	// Shared is work that runs inside a sharing token's slot.
	Shared
	// CommandKind is ad-hoc work an operator sends, run at the next
	// opportunity (see [Command]; the kind is CommandKind, not Command,
	// because Command is the type [Executor.Submit] takes). It prints as
	// "command".
	CommandKind
	// Timer is work run at exact times, like cron.
	Timer
)

var kindNames = [...]string{
	Housekeeping: "housekeeping",
	Update:       "update",
	SelfUpdate:   "self-update",
	Shared:       "shared",
	CommandKind:  "command",
	Timer:        "timer",
}

// String returns the kind's name as plans and journals print it:
// housekeeping, update, self-update, shared, command or timer.
func (k Kind) String() string {
	if k >= Housekeeping && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText encodes the kind as its name.
func (k Kind) MarshalText() ([]byte, error) {
	if k < Housekeeping || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("afterhours: invalid kind %d", int(k))
	}
	return []byte(kindNames[k]), nil
}

// Action is work given as Go code rather than as a command line. Run must
// return when ctx is done.
type Action interface {
	Run(ctx context.Context) error
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string such as "90s", "20m" or "1h30m".
type Duration time.Duration

// MarshalJSON encodes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON decodes a duration string such as "20m"; null leaves d
// unchanged, as for other types.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"20m\"")
	}
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a Go duration such as \"20m\" or \"1h30m\"", s)
	}
	return v, nil
}

// Task is one unit of work. Its name is unique across the whole profile and
// is how plans, journals and history refer to it.
//
// A Task belongs to a [Profile] and, once the profile is validated, must not
// be mutated.
type Task struct {
	// Name identifies the task across the profile.
	Name string `json:"name"`
	// Run is the command line: an absolute path and its arguments, run
	// without a shell. It may be empty when Action is set.
	Run []string `json:"run,omitempty"`
	// User runs the task as that user, when the agent may.
	User string `json:"user,omitempty"`
	// Estimate is how long a run is expected to take, for planning. Once
	// the history has successful runs of the task, the longest of the three
	// most recent replaces it; without Estimate, Timeout serves, else
	// [DefaultEstimate].
	Estimate Duration `json:"estimate,omitempty"`
	// Timeout ends a run that takes longer.
	Timeout Duration `json:"timeout,omitempty"`
	// Uses names the resources the task needs. A task that declares none
	// contends with everything.
	Uses []string `json:"uses,omitempty"`
	// Tags selects the sites the task runs on: every plain tag must be among
	// the site's tags and no "!tag" may be. Empty matches every site.
	Tags []string `json:"tags,omitempty"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled,omitempty"`
	// OnFailure is "continue" (the default) or "stop": a failure of a "stop"
	// task stops the rest of its cycle.
	OnFailure string `json:"on_failure,omitempty"`
	// Schedule makes housekeeping recur, or times a timer: a standard
	// 5-field cron spec ("30 2 * * 1-5") or a descriptor ("@weekly"),
	// evaluated in the site's zone under the wall-clock rule.
	Schedule string `json:"schedule,omitempty"`
	// Repeat is the other way to recur, from Start: one of the Repeat
	// constants ("none", "minute", "quarter-hourly", "hourly",
	// "quarter-daily", "daily", "weekly", "monthly").
	Repeat string `json:"repeat,omitempty"`
	// Start is an RFC 3339 instant: required with Repeat, optional with
	// Schedule; no occurrence before it ever counts.
	Start string `json:"start,omitempty"`
	// IgnoreDowntimes runs the task whatever the downtimes of the resources
	// it uses.
	IgnoreDowntimes bool `json:"ignore_downtimes,omitempty"`
	// Action, when set, is run instead of Run.
	Action Action `json:"-"`

	kind  Kind
	recur *recurrence // housekeeping with a schedule or repeat, and timers; shared by equal ones
	// What validation compiled, shared by the tasks of the profile it is
	// the same for (10,000 timers alike but for their names and schedules
	// share one): nil before validation.
	*taskInfo
}

// taskInfo is what validation compiles of a task, apart from its kind and
// recurrence. It is shared between tasks and never changes once its
// profile is validated.
type taskInfo struct {
	token    string // for Shared tasks: the token whose slot it runs in
	res      resources
	matches  bool // the tag selector matches the profile's site
	estimate time.Duration
	down     []string // the resources with downtimes the task uses
}

// Kind returns the task's kind, set when its profile is validated.
func (t *Task) Kind() Kind { return t.kind }

// Token returns the sharing token of a [Shared] task, "" for other kinds
// and before the profile is validated.
func (t *Task) Token() string {
	if t.taskInfo == nil {
		return ""
	}
	return t.token
}

// IsEnabled reports whether the task is enabled (Enabled is nil or true).
func (t *Task) IsEnabled() bool { return t.Enabled == nil || *t.Enabled }

// MatchesSite reports whether the task's tags select its profile's site
// (every plain tag among the site's, no "!tag"), as validation found; a task
// that does not is deferred as tag-mismatch. False before the profile is
// validated.
func (t *Task) MatchesSite() bool { return t.taskInfo != nil && t.matches }

// StopsCycle reports whether a failure of the task stops its cycle.
func (t *Task) StopsCycle() bool { return t.OnFailure == "stop" }

// DefaultEstimate is the estimate of a task that gives neither an estimate
// nor a timeout and has no history.
const DefaultEstimate = 10 * time.Minute

// estimateFrom returns the task's estimate: the longest of the three most
// recent successful runs (newest first in recent), else the task's own
// estimate, else its timeout, else DefaultEstimate. Never zero.
func (t *Task) estimateFrom(recent []time.Duration) time.Duration {
	var longest time.Duration
	for i, d := range recent {
		if i == 3 {
			break
		}
		longest = max(longest, d)
	}
	if longest > 0 {
		return longest
	}
	return t.estimate
}

// ownEstimate is the estimate the task gives: its estimate, else its
// timeout, else DefaultEstimate.
func (t *Task) ownEstimate() time.Duration {
	switch {
	case t.Estimate > 0:
		return time.Duration(t.Estimate)
	case t.Timeout > 0:
		return time.Duration(t.Timeout)
	}
	return DefaultEstimate
}

// selectorMatches reports whether a tag selector matches a site's tags.
// Matching is case-sensitive.
func selectorMatches(sel, siteTags []string) bool {
	for _, s := range sel {
		want := true
		if strings.HasPrefix(s, "!") {
			want, s = false, s[1:]
		}
		found := false
		for _, t := range siteTags {
			if t == s {
				found = true
				break
			}
		}
		if found != want {
			return false
		}
	}
	return true
}

// resources is a compiled `uses` set: sorted ids, or any when the set is
// unknown (the task declares none), which contends with everything.
type resources struct {
	any bool
	ids []int
}

func (a *resources) contends(b resources) bool {
	if a.any || b.any {
		return true
	}
	i, j := 0, 0
	for i < len(a.ids) && j < len(b.ids) {
		switch {
		case a.ids[i] == b.ids[j]:
			return true
		case a.ids[i] < b.ids[j]:
			i++
		default:
			j++
		}
	}
	return false
}
