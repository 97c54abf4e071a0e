package server_test

import (
	"errors"
	"fmt"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/server"
)

// A config is checked as the profiles it makes: each problem is reported
// at its path in the config, all of them at once.
func ExampleParseConfig() {
	_, err := server.ParseConfig([]byte(`{
	  "sites": [{"name": "leeds", "timezone": "Europe/Londres", "business_hours": {"mon": ["08:00-18:00"]}}],
	  "sharing": [{"token": "pkg-repo", "duration": "20m", "capacity": -1}],
	  "sets": [{"name": "all", "housekeeping": [{"name": "rotate", "run": ["logrotate"]}]}]
	}`))
	var ve *afterhours.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p.Path)
		}
	}
	// Output:
	// sharing[0].capacity
	// sites[0].timezone
	// sets[0].housekeeping[0].run[0]
}

// A client's profile: its site, its bases (or why it has none) and the
// sets that select its site, merged.
func ExampleConfig_Profile() {
	cfg, err := server.ParseConfig([]byte(`{
	  "sites": [{"name": "leeds", "timezone": "Europe/London", "tags": ["retail"], "business_hours": {"mon": ["08:00-18:00"]}}],
	  "sharing": [{"token": "pkg-repo", "duration": "20m", "capacity": 100}],
	  "sets": [{"name": "all", "housekeeping": [{"name": "rotate", "run": ["/usr/sbin/logrotate"]}]},
	    {"name": "kiosks", "tags": ["kiosk"], "updates": [{"name": "screen", "run": ["/x"]}]}]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := cfg.Profile(server.Client{ID: "shop-1", Site: "leeds"},
		map[string]server.Placement{"pkg-repo": {Unplaced: "capacity: every base is taken"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(data))
	// Output:
	// {"client":"shop-1","site":{"name":"leeds","timezone":"Europe/London","tags":["retail"],"business_hours":{"mon":["08:00-18:00"]}},"sharing":[{"token":"pkg-repo","duration":"20m","unplaced":"capacity: every base is taken"}],"housekeeping":[{"name":"rotate","run":["/usr/sbin/logrotate"]}]}
}
