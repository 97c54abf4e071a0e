package afterhours

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// problemsOf returns the problems of a failed ParseProfile or Validate as
// "path: message" lines.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	require.ErrorAs(t, err, &ve, "want a *ValidationError, got %T: %v", err, err)
	var out []string
	for _, pr := range ve.Problems {
		out = append(out, pr.Path+": "+pr.Message)
	}
	return out
}

// requireProblem fails unless one of the problems is at path and its
// message contains part.
func requireProblem(t *testing.T, got []string, path, part string) {
	t.Helper()
	for _, g := range got {
		p, msg, _ := strings.Cut(g, ": ")
		if p == path && strings.Contains(msg, part) {
			return
		}
	}
	t.Errorf("no problem %q at %q among:\n\t%s", part, path, strings.Join(got, "\n\t"))
}

// TestDuplicateKeys checks that a key repeated in one JSON object is an
// error at its path, at any depth, inside arrays of objects and maps too,
// rather than the last value silently winning (issue 11, item 6: a profile
// with "timezone":"UTC","timezone":"Asia/Tokyo" planned in Tokyo).
func TestDuplicateKeys(t *testing.T) {
	tests := []struct {
		name, profile, path string
	}{
		{"the issue's timezone", `{"client":"c","site":{"timezone":"UTC","timezone":"Asia/Tokyo"}}`, "site.timezone"},
		{"top level", `{"client":"a","site":{"timezone":"UTC"},"client":"b"}`, "client"},
		{"in an array of objects", `{"client":"c","site":{"timezone":"UTC"},
		  "housekeeping":[{"name":"a","run":["/a"]},{"name":"b","run":["/b"],"estimate":"1m","estimate":"2h"}]}`, "housekeeping[1].estimate"},
		{"deep: a slot task", `{"client":"c","site":{"timezone":"UTC"},
		  "sharing":[{"token":"t","base":"01:00","duration":"1m","tasks":[{"name":"s","run":["/s"],"user":"a","user":"root"}]}]}`, "sharing[0].tasks[0].user"},
		{"a map's keys", `{"client":"c","site":{"timezone":"UTC","business_hours":{"mon":["08:00-18:00"],"mon":["00:00-24:00"]}}}`, "site.business_hours.mon"},
		{"a map of paths", `{"client":"c","site":{"timezone":"UTC"},"constraints":{"min_free_disk":{"/var":"1GiB","/var":"1KiB"}}}`, "constraints.min_free_disk./var"},
		{"an unknown field", `{"client":"c","site":{"timezone":"UTC"},"x":{"y":[{"z":1,"z":2}]}}`, "x.y[0].z"},
		{"a downtime", `{"client":"c","site":{"timezone":"UTC"},"resources":[{"name":"db","downtimes":[{"days":["mon"],"action":"skip","action":"hold"}]}]}`, "resources[0].downtimes[0].action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(tt.profile))
			require.Nil(t, p)
			requireProblem(t, problemsOf(t, err), tt.path, "duplicate key")
		})
	}
	// The same key in different objects is no duplicate.
	_, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"UTC"},
	  "housekeeping":[{"name":"a","run":["/a"]},{"name":"b","run":["/b"]}]}`))
	require.NoError(t, err)
}

// TestNULBytes checks that a NUL byte in any string of a profile, however
// deep and whatever the field, is a validation error at the string's path,
// from JSON and from Go alike (issue 11, item 6: run ["/bin/tr\u0000ue"] was
// accepted and failed every run).
func TestNULBytes(t *testing.T) {
	tests := []struct {
		name, profile, path string
	}{
		{"the issue's argv", `{"client":"c","site":{"timezone":"UTC"},"housekeeping":[{"name":"a","run":["/bin/tr\u0000ue"]}]}`, "housekeeping[0].run[0]"},
		{"an argument", `{"client":"c","site":{"timezone":"UTC"},"updates":[{"name":"a","run":["/bin/x","a\u0000b"]}]}`, "updates[0].run[1]"},
		{"the client", `{"client":"c\u0000","site":{"timezone":"UTC"}}`, "client"},
		{"a site name", `{"client":"c","site":{"name":"\u0000","timezone":"UTC"}}`, "site.name"},
		{"a zone", `{"client":"c","site":{"timezone":"UTC\u0000"}}`, "site.timezone"},
		{"a site tag", `{"client":"c","site":{"timezone":"UTC","tags":["uk","r\u0000"]}}`, "site.tags[1]"},
		{"a task name", `{"client":"c","site":{"timezone":"UTC"},"self_update":{"name":"a\u0000","run":["/a"]}}`, "self_update.name"},
		{"a user", `{"client":"c","site":{"timezone":"UTC"},"sharing":[{"token":"t","base":"01:00","duration":"1m",
		  "tasks":[{"name":"s","run":["/s"],"user":"nobody\u0000"}]}]}`, "sharing[0].tasks[0].user"},
		{"a token's uses", `{"client":"c","site":{"timezone":"UTC"},"sharing":[{"token":"t","base":"01:00","duration":"1m","uses":["n\u0000"]}]}`, "sharing[0].uses[0]"},
		{"a selector", `{"client":"c","site":{"timezone":"UTC"},"timers":[{"name":"a","run":["/a"],"schedule":"@daily","tags":["!\u0000"]}]}`, "timers[0].tags[0]"},
		{"a resource", `{"client":"c","site":{"timezone":"UTC"},"resources":[{"name":"d\u0000b","downtimes":[{"days":["mon"]}]}]}`, "resources[0].name"},
		{"a probe", `{"client":"c","site":{"timezone":"UTC"},"constraints":{"probe":"http://127.0.0.1/\u0000"}}`, "constraints.probe"},
		{"a disk path, as a map key", `{"client":"c","site":{"timezone":"UTC"},"constraints":{"min_free_disk":{"/var\u0000":"1GiB"}}}`, "constraints.min_free_disk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseProfile([]byte(tt.profile))
			require.Nil(t, p)
			requireProblem(t, problemsOf(t, err), tt.path, "NUL byte")
		})
	}

	// A profile built in Go is held to the same rule by Validate.
	p := &Profile{Client: "c", Site: Site{Timezone: "UTC"},
		Housekeeping: []*Task{{Name: "a", Run: []string{"/bin/tr\x00ue"}}}}
	requireProblem(t, problemsOf(t, p.Validate()), "housekeeping[0].run[0]", "NUL byte")
	s := &Site{Timezone: "UTC", Tags: []string{"a\x00"}}
	requireProblem(t, problemsOf(t, s.Validate()), "tags[0]", "NUL byte")
}

// TestSchemaKey checks that a top-level "$schema" string, which editors
// use to find a document's JSON Schema, is accepted and ignored, and that
// it is no field anywhere else.
func TestSchemaKey(t *testing.T) {
	p, err := ParseProfile([]byte(`{"$schema":"https://afterhours.example/profile.schema.json","client":"c","site":{"timezone":"UTC"}}`))
	require.NoError(t, err)
	require.Equal(t, "c", p.Client)

	_, err = ParseProfile([]byte(`{"$schema":5,"client":"c","site":{"timezone":"UTC"}}`))
	require.Equal(t, []string{"$schema: want a string: the address of the profile's JSON Schema"}, problemsOf(t, err))

	_, err = ParseProfile([]byte(`{"client":"c","site":{"$schema":"x","timezone":"UTC"}}`))
	require.Equal(t, []string{"site.$schema: unknown field"}, problemsOf(t, err))
}

// TestBusinessHoursLeaveAWindow checks that business hours leaving no
// weekday an after-hours window once the grace is applied are an error at
// site.business_hours (issue 11, item 6: a site open 24/7 was accepted and
// every plan failed with ErrNoWindow), and that a site with the least
// window is accepted and plans.
func TestBusinessHoursLeaveAWindow(t *testing.T) {
	every := func(spans ...string) string {
		var parts []string
		for _, k := range weekdayKeys {
			parts = append(parts, `"`+k+`":["`+strings.Join(spans, `","`)+`"]`)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	weekdays := `{"mon":["00:00-24:00"],"tue":["00:00-24:00"],"wed":["00:00-24:00"],"thu":["00:00-24:00"],"fri":["00:00-24:00"],"sat":["00:00-24:00"]}`
	tests := []struct {
		name, zone, hours, grace, closed string
		ok                               bool
		window                           time.Duration // of the first plan from 2026-03-02T00:00Z, when ok
	}{
		{name: "open 24/7", zone: "UTC", hours: every("00:00-24:00")},
		{name: "24/7 in a DST zone", zone: "Europe/London", hours: every("00:00-24:00")},
		{name: "24/7 but for closed dates, which do not count", zone: "UTC", hours: every("00:00-24:00"), closed: `["2026-03-03","2026-12-25"]`},
		{name: "closing 15 minutes a day, grace 15m: the grace takes it all", zone: "UTC", hours: every("00:00-23:45"), grace: "15m"},
		{name: "closing 15 minutes a day, grace 14m: one minute a day", zone: "UTC", hours: every("00:00-23:45"), grace: "14m", ok: true, window: time.Minute},
		{name: "an hour's lunch break, grace 1h", zone: "UTC", hours: every("00:00-12:00", "13:00-24:00"), grace: "1h"},
		{name: "an hour's lunch break, grace 59m", zone: "Asia/Tokyo", hours: every("00:00-12:00", "13:00-24:00"), grace: "59m", ok: true, window: time.Minute},
		{name: "Sunday free", zone: "UTC", hours: weekdays, ok: true, window: 24 * time.Hour},
		{name: "Sunday free, grace 12h", zone: "Europe/London", hours: weekdays, grace: "12h", ok: true, window: 12 * time.Hour},
		{name: "no business hours: after hours every day", zone: "UTC", hours: `{}`, ok: true, window: 24 * time.Hour},
		{name: "office hours", zone: "Europe/London", hours: every("08:00-18:00"), grace: "30m", ok: true, window: 13*time.Hour + 30*time.Minute},
		// London falls back on 2026-10-25: 01:00-02:00 GMT follows 01:00
		// BST, so that night's gap from 01:00 BST to 02:00 GMT is two hours
		// and a one-hour grace leaves a window of an hour. A window that only
		// a DST night opens is no window: the check is of ordinary weeks.
		{name: "a window only on the fall-back night", zone: "Europe/London", hours: every("00:00-01:00", "02:00-24:00"), grace: "1h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"client":"c","site":{"timezone":"` + tt.zone + `","business_hours":` + tt.hours
			if tt.grace != "" {
				doc += `,"grace":"` + tt.grace + `"`
			}
			if tt.closed != "" {
				doc += `,"closed":` + tt.closed
			}
			doc += `}}`
			p, err := ParseProfile([]byte(doc))
			if !tt.ok {
				require.Nil(t, p)
				got := problemsOf(t, err)
				require.Len(t, got, 1)
				requireProblem(t, got, "site.business_hours", "no after-hours window")
				return
			}
			require.NoError(t, err)
			plan, err := PlanAt(p, time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
			require.NoError(t, err)
			require.Equal(t, tt.window, plan.Window.Duration())
		})
	}

	// The site on its own, as the fleet validates it.
	s := &Site{Timezone: "UTC", BusinessHours: map[string][]string{}}
	for _, k := range weekdayKeys {
		s.BusinessHours[k] = []string{"00:00-24:00"}
	}
	require.Equal(t, []string{"business_hours: no after-hours window on any weekday: business hours cover the whole week"}, problemsOf(t, s.Validate()))

	// A site that fails for other reasons is not also told it has no window.
	_, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"Nowhere/Land","business_hours":` + every("00:00-24:00") + `}}`))
	require.Equal(t, []string{"site.timezone: unknown time zone \"Nowhere/Land\""}, problemsOf(t, err))

}

// isNoWindowProblem reports whether err is a *ValidationError whose one
// problem is business hours that leave no window.
func isNoWindowProblem(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve) && len(ve.Problems) == 1 && strings.HasSuffix(ve.Problems[0].Path, "business_hours") &&
		strings.HasPrefix(ve.Problems[0].Message, "no after-hours window")
}
