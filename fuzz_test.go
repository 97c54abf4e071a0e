package afterhours

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fuzzBroken are profiles with one thing wrong each, to start the fuzzer
// near the edges of validation.
var fuzzBroken = []string{
	// unknown field
	`{"client": "c", "site": {"timezone": "Europe/London", "foo": 1}}`,
	// bad base
	`{"client": "c", "site": {"timezone": "Europe/London"},
	  "sharing": [{"token": "t", "base": "25:00", "duration": "20m", "tasks": [{"name": "s", "run": ["/s"]}]}]}`,
	// overlapping business intervals
	`{"client": "c", "site": {"timezone": "Europe/London", "business_hours": {"mon": ["08:00-12:00", "11:00-18:00"]}}}`,
	// relative argv
	`{"client": "c", "site": {"timezone": "UTC"}, "housekeeping": [{"name": "a", "run": ["bin/a"]}]}`,
	// grace over 12h
	`{"client": "c", "site": {"timezone": "UTC", "grace": "13h"}}`,
	// x and !x
	`{"client": "c", "site": {"timezone": "UTC", "tags": ["x"]}, "housekeeping": [{"name": "a", "run": ["/a"], "tags": ["x", "!x"]}]}`,
	// duplicated names
	`{"client": "c", "site": {"timezone": "UTC"}, "housekeeping": [{"name": "a", "run": ["/a"]}], "updates": [{"name": "a", "run": ["/a"]}]}`,
	// a timer and a schedule
	`{"client": "c", "site": {"timezone": "UTC"}, "timers": [], "housekeeping": [{"name": "a", "run": ["/a"], "schedule": "0 3 * * *"}]}`,
	// open all week: no window ever
	`{"client": "c", "site": {"timezone": "UTC", "business_hours": {"mon": ["00:00-24:00"], "tue": ["00:00-24:00"],
	  "wed": ["00:00-24:00"], "thu": ["00:00-24:00"], "fri": ["00:00-24:00"], "sat": ["00:00-24:00"], "sun": ["00:00-24:00"]}}}`,
	// a key twice
	`{"client": "c", "site": {"timezone": "UTC", "timezone": "Asia/Tokyo"}}`,
	// a NUL byte in an argv
	`{"client": "c", "site": {"timezone": "UTC"}, "housekeeping": [{"name": "a", "run": ["/bin/tr\u0000ue"]}]}`,
	// the grace takes every day's after hours
	`{"client": "c", "site": {"timezone": "UTC", "grace": "15m", "business_hours": {"mon": ["00:00-23:45"], "tue": ["00:00-23:45"],
	  "wed": ["00:00-23:45"], "thu": ["00:00-23:45"], "fri": ["00:00-23:45"], "sat": ["00:00-23:45"], "sun": ["00:00-23:45"]}}}`,
	// a valid one with a schema and a one-minute window a day
	`{"$schema": "https://afterhours.example/profile.schema.json", "client": "c", "site": {"timezone": "Europe/London", "grace": "14m",
	  "business_hours": {"mon": ["00:00-23:45"], "tue": ["00:00-23:45"], "wed": ["00:00-23:45"], "thu": ["00:00-23:45"],
	  "fri": ["00:00-23:45"], "sat": ["00:00-23:45"], "sun": ["00:00-23:45"]}}, "housekeeping": [{"name": "a", "run": ["/a"], "estimate": "1m"}]}`,
	// deep nesting
	`{"client": "c", "x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	// a valid one in few bytes
	`{"client":"c","site":{"timezone":"Asia/Kathmandu","business_hours":{"fri":["10:00-24:00"]}},"sharing":[{"token":"t","base":"02:15","zone":"site","duration":"20m","buffer":"10m","tasks":[{"name":"s","run":["/s"]}]}],"housekeeping":[{"name":"a","run":["/a"],"uses":["t"]}],"self_update":{"name":"u","run":["/u"]},"parallel":2}`,
	`not json`,
	`[]`,
	``,
}

// fuzzInstant maps any number of minutes to an instant from 2000 to 2100,
// wrapping around so that every input lands somewhere in the range.
func fuzzInstant(unixMinute int64) time.Time {
	lo := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 60
	hi := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 60
	m := unixMinute % (hi - lo)
	if m < 0 {
		m += hi - lo
	}
	return time.Unix((lo+m)*60, 0).UTC()
}

// FuzzParsePlan decodes any bytes as a profile and plans what decodes at an
// instant from 2000 to 2100: ParseProfile and PlanAt never panic, every
// failure to parse is a *ValidationError, the only failure to plan is
// ErrNoWindow, and every plan keeps every invariant.
func FuzzParsePlan(f *testing.F) {
	var files []string
	for _, pattern := range []string{"*.profile.json", "forecast/*.profile.json", "report/*.profile.json"} {
		more, err := filepath.Glob(filepath.Join("testdata", pattern))
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, more...)
	}
	for i, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		// Instants around the transitions of 2026 and a plain day.
		f.Add(data, time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC).Unix()/60+int64(i)*97)
		f.Add(data, time.Date(2026, 10, 25, 1, 15, 0, 0, time.UTC).Unix()/60-int64(i)*61)
	}
	for _, s := range fuzzBroken {
		f.Add([]byte(s), time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC).Unix()/60)
	}
	for _, pp := range propProfiles {
		f.Add([]byte(pp.json), time.Date(2026, 4, 4, 15, 10, 0, 0, time.UTC).Unix()/60)
	}
	f.Fuzz(func(t *testing.T, data []byte, unixMinute int64) {
		p, err := ParseProfile(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("ParseProfile failed with %T %v, want a *ValidationError with problems", err, err)
			}
			return
		}
		now := fuzzInstant(unixMinute)
		plan, err := PlanAt(p, now)
		if err != nil {
			t.Fatalf("PlanAt(%s) failed with %v, want a plan", now.Format(time.RFC3339), err)
		}
		checkPlan(t, p, now, nil, plan)
	})
}

// TestValidationErrors checks that each bad profile is rejected with one
// *ValidationError that lists every problem at its path, JSON-form problems
// first (sorted by path), then the others in the order of the sections.
func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name    string
		profile string
		want    []string // "path: part of the message"
	}{
		{
			name: "every problem at once",
			profile: `{"client": "c", "site": {"timezone": "Europe/London", "foo": 1, "grace": "13h",
			  "business_hours": {"mon": ["08:00-12:00", "25:00-26:00"]}},
			  "timers": [], "sharing": [{"token": "t", "base": "25:00", "duration": "20m"}],
			  "housekeeping": [{"name": "a", "run": ["bin/a"], "schedule": "0 3 * *"}]}`,
			want: []string{
				"site.foo: unknown field",
				"site.business_hours.mon[1]: invalid time \"25:00\"",
				"site.grace: out of range",
				"sharing[0].base: invalid time \"25:00\"",
				"housekeeping[0].run[0]: not an absolute path",
				"housekeeping[0].schedule: expected 5 fields",
			},
		},
		{
			name: "overlapping business intervals; touching ones merge",
			profile: `{"client": "c", "site": {"timezone": "Europe/London", "business_hours": {
			  "mon": ["08:00-12:00", "11:00-18:00"], "tue": ["08:00-12:00", "12:00-18:00", "17:00-19:00"]}}}`,
			want: []string{
				"site.business_hours.mon: overlap",
				"site.business_hours.tue: overlap",
			},
		},
		{
			name: "bad site",
			profile: `{"site": {"timezone": "Mars/Olympus", "closed": ["2026-02-30", "2026-12-25", "2026-12-25"],
			  "business_hours": {"monday": ["08:00-18:00"], "tue": ["18:00-08:00"]}}}`,
			want: []string{
				"client: required",
				"site.timezone: unknown time zone",
				"site.business_hours.monday: unknown weekday",
				"site.business_hours.tue[0]: ends before it starts",
				"site.closed[0]: invalid date",
				"site.closed[2]: repeated",
			},
		},
		{
			name:    "local zone and negated site tag",
			profile: `{"client": "c", "site": {"timezone": "Local", "tags": ["!kiosk", "uk", "uk", ""]}}`,
			want: []string{
				"site.timezone: \"Local\" depends on the machine",
				"site.tags[0]: cannot start with '!'",
				"site.tags[2]: repeated",
				"site.tags[3]: empty tag",
			},
		},
		{
			name: "tag selectors with x and !x, names used twice",
			profile: `{"client": "c", "site": {"timezone": "UTC"},
			  "sharing": [{"token": "t", "base": "01:00", "duration": "1m"},
			              {"token": "t", "base": "01:00", "duration": "1m", "tasks": [{"name": "a", "run": ["/a"]}]}],
			  "housekeeping": [{"name": "a", "run": ["/a"], "tags": ["x", "!x"]}, {"name": "b", "run": ["/b"], "tags": ["!", "!y", "y"]}],
			  "updates": [{"name": "a", "run": ["/a"]}], "self_update": {"name": "b", "run": ["/b"]}}`,
			want: []string{
				"sharing[1].token: repeated",
				"housekeeping[0].name: already used at sharing[1].tasks[0]",
				"housekeeping[0].tags[1]: can never match",
				"housekeeping[1].tags[0]: empty tag after '!'",
				"housekeeping[1].tags[1]: can never match",
				"updates[0].name: already used at sharing[1].tasks[0]",
				"self_update.name: already used at housekeeping[1]",
			},
		},
		{
			name: "unknown fields, and recurrence outside housekeeping and timers",
			profile: `{"client": "c", "site": {"timezone": "UTC"}, "constraints": {}, "timers": [],
			  "sharing": [{"token": "t", "base": "01:00", "duration": "1m", "tasks": [{"name": "s", "run": ["/s"], "foo": 1, "schedule": "@daily"}]}],
			  "updates": [{"name": "u", "run": ["/u"], "repeat": "daily", "start": "2026-01-01T00:00:00Z", "ignore_downtimes": true}]}`,
			want: []string{
				"sharing[0].tasks[0].foo: unknown field",
				"sharing[0].tasks[0].schedule: only housekeeping and timers recur",
				"updates[0].repeat: only housekeeping and timers recur",
				"updates[0].start: only housekeeping and timers have a start",
			},
		},
		{
			name: "tokens and tasks",
			profile: `{"client": "c", "site": {"timezone": "UTC"}, "parallel": -1,
			  "sharing": [{"token": "", "base": "1:00", "zone": "Europe/London", "duration": "0s", "buffer": "-1m", "uses": ["a", "a", ""]},
			              {"token": "big", "base": "01:00", "duration": "20h", "buffer": "5h"}],
			  "housekeeping": [{"name": "", "run": [], "estimate": "2h", "timeout": "1h", "on_failure": "retry", "uses": ["db", "db"]}, null],
			  "updates": [{"name": "u", "run": ["/u"], "estimate": "-5m", "timeout": "-1m"}]}`,
			want: []string{
				"parallel: must not be negative",
				"sharing[0].token: required",
				"sharing[0].base: invalid time \"1:00\"",
				"sharing[0].zone: unknown zone",
				"sharing[0].duration: required",
				"sharing[0].buffer: must not be negative",
				"sharing[0].uses[1]: repeated",
				"sharing[0].uses[2]: empty resource",
				"sharing[1]: exceed 24h",
				"housekeeping[0].name: required",
				"housekeeping[0].run: required",
				"housekeeping[0].estimate: exceeds the timeout",
				"housekeeping[0].uses[1]: repeated",
				"housekeeping[0].on_failure: unknown value",
				"housekeeping[1]: null task",
				"updates[0].estimate: must not be negative",
				"updates[0].timeout: must not be negative",
			},
		},
		{
			name: "values of the wrong JSON type",
			profile: `{"client": 7, "parallel": "2", "site": {"timezone": "UTC", "tags": "uk", "business_hours": ["mon"]},
			  "housekeeping": [{"name": "a", "run": "/a", "enabled": "yes", "uses": [1]}], "updates": {}}`,
			want: []string{
				"client: want a string",
				"housekeeping[0].enabled: want true or false",
				"housekeeping[0].run: want an array",
				"housekeeping[0].uses[0]: want a string",
				"parallel: want a number",
				"site.business_hours: want an object",
				"site.tags: want an array",
				"updates: want an array",
				"client: required",
				"housekeeping[0].run: required",
				"housekeeping[0].uses[0]: empty resource",
			},
		},
		{
			name: "constraints",
			profile: `{"client": "c", "site": {"timezone": "UTC"}, "constraints": {"max_load": "high", "min_free_memory": "lots",
			  "min_free_disk": {"var": "1GiB", "/tmp": 5}, "max_disk_busy": 120, "probe": "ftp://x", "probe_timeout": "-1s", "colour": 1}}`,
			want: []string{
				"constraints.colour: unknown field",
				"constraints.max_load: want a number",
				"constraints.min_free_memory: invalid size \"lots\"",
				"constraints.min_free_disk.var: not an absolute path",
				"constraints.max_disk_busy: out of range",
				"constraints.probe: not an http or https URL",
				"constraints.probe_timeout: must not be negative",
			},
		},
		{
			name:    "bad duration strings",
			profile: `{"client": "c", "site": {"timezone": "UTC", "grace": "half an hour"}, "housekeeping": [{"name": "a", "run": ["/a"], "estimate": "20 minutes"}]}`,
			want: []string{
				"housekeeping[0].estimate: invalid duration \"20 minutes\"",
				"site.grace: invalid duration \"half an hour\"",
			},
		},
		{
			// A duration given as a number (or as JSON null) is a value of the
			// wrong type like any other: one problem at its path, beside the
			// others.
			name: "durations of the wrong JSON type",
			profile: `{"client": "c", "site": {"timezone": "UTC", "grace": 5},
			  "sharing": [{"token": "t", "base": "01:00", "duration": "1m", "buffer": true}],
			  "housekeeping": [{"name": "a", "run": ["bin/a"], "timeout": 60}]}`,
			want: []string{
				"housekeeping[0].timeout: want a duration string",
				"sharing[0].buffer: want a duration string",
				"site.grace: want a duration string",
				"housekeeping[0].run[0]: not an absolute path",
			},
		},
		{
			name:    "not JSON",
			profile: `{"client": "c"`,
			want:    []string{": invalid JSON"},
		},
		{
			name:    "data after the profile",
			profile: `{"client": "c", "site": {"timezone": "UTC"}} {}`,
			want:    []string{": data after the profile"},
		},
		{
			name:    "not an object",
			profile: `["client"]`,
			want:    []string{": a profile is a JSON object"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(tt.profile))
			require.Nil(t, p, "a profile that fails validation is not returned")
			var ve *ValidationError
			require.ErrorAs(t, err, &ve, "ParseProfile returned %T: %v", err, err)
			var got []string
			for _, pr := range ve.Problems {
				got = append(got, pr.Path+": "+pr.Message)
			}
			ok := len(got) == len(tt.want)
			for i := 0; ok && i < len(got); i++ {
				path, part, _ := strings.Cut(tt.want[i], ": ")
				ok = ve.Problems[i].Path == path && strings.Contains(ve.Problems[i].Message, part)
			}
			if !ok {
				t.Errorf("problems:\n\t%s\nwant, in this order:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
			// The error's text names every problem.
			for _, pr := range ve.Problems {
				require.Contains(t, err.Error(), pr.String())
			}
		})
	}
}

// TestNullDurationLeavesZero checks that JSON null for a duration leaves
// its zero value, as null does for every other field, rather than failing
// outside the *ValidationError.
func TestNullDurationLeavesZero(t *testing.T) {
	for _, profile := range []string{
		`{"client": "c", "site": {"timezone": "UTC", "grace": null}}`,
		`{"client": "c", "site": {"timezone": "UTC"}, "housekeeping": [{"name": "a", "run": ["/a"], "estimate": null, "timeout": null}]}`,
		`{"client": "c", "site": {"timezone": "UTC"}, "housekeeping": [{"name": "a", "run": ["/a"], "enabled": null, "uses": null}]}`,
	} {
		_, err := ParseProfile([]byte(profile))
		require.NoError(t, err, "%s", profile)
	}
}

// TestValidateBuiltProfile checks Validate on a profile built in Go: the
// same paths as from JSON, and no planning before it succeeds.
func TestValidateBuiltProfile(t *testing.T) {
	p := &Profile{
		Site:         Site{Timezone: "Europe/London", BusinessHours: map[string][]string{"mon": {"08:00-18:00", "17:00-19:00"}}},
		Housekeeping: []*Task{{Name: "a", Run: []string{"a"}}},
		Sharing:      []*Token{{Token: "t", Base: "24:00", Duration: Duration(time.Minute)}},
	}
	_, err := PlanAt(p, time.Date(2026, 6, 15, 20, 0, 0, 0, time.UTC))
	require.ErrorIs(t, err, ErrNotValidated)
	err = p.Validate()
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	var paths []string
	for _, pr := range ve.Problems {
		paths = append(paths, pr.Path)
	}
	require.Equal(t, []string{"client", "site.business_hours.mon", "sharing[0].base", "housekeeping[0].run[0]"}, paths)
	_, err = PlanAt(p, time.Date(2026, 6, 15, 20, 0, 0, 0, time.UTC))
	require.ErrorIs(t, err, ErrNotValidated)

	p.Client = "c"
	p.Site.BusinessHours["mon"] = []string{"08:00-18:00"}
	p.Housekeeping[0].Run = []string{"/a"}
	p.Sharing[0].Base = "23:00"
	require.NoError(t, p.Validate())
	plan, err := PlanAt(p, time.Date(2026, 6, 15, 20, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	checkPlan(t, p, time.Date(2026, 6, 15, 20, 0, 0, 0, time.UTC), nil, plan)
}
