package server

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/afterhours-go/afterhours"
	"github.com/stretchr/testify/require"
)

// testConfig is a fleet of two sites, two tokens and three sets.
const testConfig = `{
  "sites": [
    {"name": "leeds", "timezone": "Europe/London", "tags": ["uk", "retail"],
     "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
       "thu": ["08:00-18:00"], "fri": ["08:00-18:00"], "sat": ["09:00-13:00"]},
     "closed": ["2026-12-25"], "grace": "30m"},
    {"name": "austin", "timezone": "America/Chicago", "tags": ["us", "kiosk"],
     "business_hours": {"mon": ["07:00-22:00"], "tue": ["07:00-22:00"], "wed": ["07:00-22:00"],
       "thu": ["07:00-22:00"], "fri": ["07:00-22:00"], "sat": ["07:00-22:00"], "sun": ["07:00-22:00"]}}
  ],
  "sharing": [
    {"token": "pkg-repo", "zone": "UTC", "duration": "20m", "buffer": "10m", "uses": ["network"],
     "capacity": 2, "lan_capacity": 1,
     "tasks": [{"name": "fetch-packages", "run": ["/usr/lib/agent/fetch"]}]},
    {"token": "lan", "zone": "site", "duration": "15m", "uses": ["lan"], "capacity": 1}
  ],
  "sets": [
    {"name": "base", "tags": [],
     "housekeeping": [{"name": "rotate-logs", "run": ["/usr/sbin/logrotate"], "estimate": "2m"},
       {"name": "vacuum-db", "run": ["/usr/lib/agent/vacuum"], "estimate": "20m", "uses": ["db"]}],
     "constraints": {"max_load": 1.5}, "parallel": 1},
    {"name": "retail", "tags": ["retail"],
     "housekeeping": [{"name": "vacuum-db", "run": ["/usr/lib/agent/vacuum", "--full"], "estimate": "30m", "uses": ["db"]},
       {"name": "till-report", "run": ["/usr/lib/agent/till"]}],
     "updates": [{"name": "openssl-3.0.15", "run": ["/usr/lib/agent/apply", "openssl"], "estimate": "5m"}],
     "self_update": {"name": "agent-2.4.1", "run": ["/usr/lib/agent/selfupdate"], "estimate": "3m"},
     "parallel": 2},
    {"name": "kiosk", "tags": ["kiosk", "!retail"],
     "timers": [{"name": "inventory", "repeat": "quarter-hourly", "start": "2026-11-01T00:05:00Z", "run": ["/usr/lib/agent/inventory"]}],
     "resources": [{"name": "db", "downtimes": [{"dates": ["2026-11-24"], "from": "01:00", "to": "03:00", "action": "postpone"}]}]}
  ],
  "fleetlock": {"default": 1, "db.cluster-1": 2}
}`

func mustConfig(t testing.TB, src string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(src))
	require.NoError(t, err)
	return c
}

func problemPaths(t *testing.T, err error) []string {
	t.Helper()
	var ve *afterhours.ValidationError
	require.True(t, errors.As(err, &ve), "error %v is no ValidationError", err)
	var paths []string
	for _, p := range ve.Problems {
		paths = append(paths, p.Path)
	}
	return paths
}

func TestParseConfig(t *testing.T) {
	c := mustConfig(t, testConfig)
	require.Equal(t, []string{"leeds", "austin"}, c.Sites())
	require.Equal(t, "America/Chicago", c.Site("austin").Location().String())
	require.Nil(t, c.Site("paris"))
	res := c.Resources()
	require.Len(t, res, 2)
	require.Equal(t, "pkg-repo", res[0].Token)
	require.Equal(t, 2, res[0].Capacity)
	require.Equal(t, 1, res[0].LANCapacity)
	require.Equal(t, "site", res[1].Zone)
	require.Equal(t, map[string]int{"default": 1, "db.cluster-1": 2}, c.FleetLock())
	// MarshalJSON gives the config back, and it parses to the same.
	data, err := json.Marshal(c)
	require.NoError(t, err)
	again := mustConfig(t, string(data))
	data2, err := json.Marshal(again)
	require.NoError(t, err)
	require.Equal(t, string(data), string(data2))
}

// Each problem is reported once, at its path in the config, all at once:
// the config's own rules and those of the profiles composed from it.
func TestParseConfigProblems(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(string) string
		paths []string
	}{
		{"three problems, three paths", func(s string) string {
			s = strings.Replace(s, `"grace": "30m"`, `"grace": "30 minutes"`, 1)           // sites[0].grace
			s = strings.Replace(s, `"capacity": 2,`, `"capacity": -2,`, 1)                 // sharing[0].capacity
			s = strings.Replace(s, `"run": ["/usr/lib/agent/till"]`, `"run": ["till"]`, 1) // sets[1].housekeeping[1].run[0]
			return s
		}, []string{"sharing[0].capacity", "sites[0].grace", "sets[1].housekeeping[1].run[0]"}},
		{"a set's task problem at the set's path", func(s string) string {
			return strings.Replace(s, `"estimate": "30m", "uses": ["db"]}`, `"estimate": "30m", "schedule": "0 3 * *", "uses": ["db"]}`, 1)
		}, []string{"sets[1].housekeeping[0].schedule"}},
		{"a set no site selects is checked too", func(s string) string {
			return strings.Replace(s, `"tags": ["kiosk", "!retail"],`, `"tags": ["mars"], "updates": [{"name": "u", "run": ["/x"], "estimate": "-1m"}],`, 1)
		}, []string{"sets[2].updates[0].estimate"}},
		{"unknown fields at every level", func(s string) string {
			s = strings.Replace(s, `"fleetlock"`, `"colour": 1, "fleetlock"`, 1)
			s = strings.Replace(s, `{"name": "base",`, `{"name": "base", "priority": 1,`, 1)
			s = strings.Replace(s, `"closed": ["2026-12-25"]`, `"closed": ["2026-12-25"], "open": true`, 1)
			s = strings.Replace(s, `"estimate": "2m"}`, `"estimate": "2m", "nice": 5}`, 1)
			return s
		}, []string{"colour", "sets[0].priority", "sites[0].open", "sets[0].housekeeping[0].nice"}},
		{"keys repeated, at the config's levels and inside its parts", func(s string) string {
			s = strings.Replace(s, `"fleetlock": {"default": 1,`, `"fleetlock": {"default": 1, "default": 2,`, 1)
			s = strings.Replace(s, `{"name": "retail", "tags": ["retail"],`, `{"name": "retail", "tags": ["retail"], "tags": ["uk"],`, 1)
			s = strings.Replace(s, `"run": ["/usr/sbin/logrotate"],`, `"run": ["/usr/sbin/logrotate"], "run": ["/x"],`, 1)
			return s
		}, []string{"sets[1].tags", "fleetlock.default", "sets[0].housekeeping[0].run"}},
		{"names repeated and missing", func(s string) string {
			s = strings.Replace(s, `{"name": "austin",`, `{"name": "leeds",`, 1)
			s = strings.Replace(s, `{"name": "kiosk",`, `{"name": "base",`, 1)
			s = strings.Replace(s, `{"name": "retail",`, `{`, 1)
			return s
		}, []string{"sites[1].name", "sets[1].name", "sets[2].name"}},
		{"base and unplaced are the server's", func(s string) string {
			return strings.Replace(s, `"capacity": 1}`, `"capacity": 1, "base": "01:00", "unplaced": "x"}`, 1)
		}, []string{"sharing[1].base", "sharing[1].unplaced"}},
		{"wrong types", func(s string) string {
			s = strings.Replace(s, `"parallel": 2`, `"parallel": "two"`, 1)
			s = strings.Replace(s, `"lan_capacity": 1`, `"lan_capacity": "one"`, 1)
			s = strings.Replace(s, `"tags": ["kiosk", "!retail"]`, `"tags": "kiosk"`, 1)
			return s
		}, []string{"sharing[0].lan_capacity", "sets[2].tags", "sets[1].parallel"}},
		{"bad selector and fleetlock group", func(s string) string {
			s = strings.Replace(s, `"tags": ["kiosk", "!retail"]`, `"tags": ["kiosk", "!kiosk"]`, 1)
			s = strings.Replace(s, `"db.cluster-1": 2`, `"db cluster": 0`, 1)
			return s
		}, []string{"sets[2].tags", "fleetlock.db cluster", "fleetlock.db cluster"}},
		{"names repeated across sets' sections, at the later part", func(s string) string {
			return strings.Replace(s, `"updates": [{"name": "openssl-3.0.15"`, `"updates": [{"name": "rotate-logs"`, 1)
		}, []string{"sets[1].updates[0].name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.edit(testConfig)))
			require.Error(t, err)
			require.Equal(t, tt.paths, problemPaths(t, err), "%v", err)
		})
	}
}

// A repeated name's message names the first use by its config path.
func TestParseConfigRepeatedNameMessage(t *testing.T) {
	_, err := ParseConfig([]byte(strings.Replace(testConfig, `"updates": [{"name": "openssl-3.0.15"`, `"updates": [{"name": "rotate-logs"`, 1)))
	var ve *afterhours.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, `sets[1].updates[0].name: name "rotate-logs" already used at sets[0].housekeeping[0]: task names are unique across the profile`, ve.Problems[0].String())
}

func TestParseConfigNotJSON(t *testing.T) {
	for _, src := range []string{``, `{`, `[]`, `{"sites": {}}`, `{} {}`} {
		_, err := ParseConfig([]byte(src))
		require.Error(t, err, src)
		require.Len(t, problemPaths(t, err), 1, src)
	}
	c := mustConfig(t, `{}`)
	require.Empty(t, c.Sites())
}
