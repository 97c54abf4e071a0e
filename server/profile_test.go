package server

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/stretchr/testify/require"
)

func names(tasks []*afterhours.Task) []string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.Name)
	}
	return out
}

func TestProfileMerge(t *testing.T) {
	c := mustConfig(t, testConfig)
	tests := []struct {
		name         string
		client       Client
		placements   map[string]Placement
		housekeeping []string
		updates      []string
		timers       []string
		selfUpdate   string
		parallel     int
		vacuum       []string // the run of vacuum-db, when it is there
		sharing      []string // base or unplaced of each token
	}{
		{"retail: base then retail, retail's vacuum in base's place", Client{ID: "shop-1", Site: "leeds", LAN: "l1"},
			map[string]Placement{"pkg-repo": {Base: "21:40"}, "lan": {Unplaced: "capacity: every base is at capacity"}},
			[]string{"rotate-logs", "vacuum-db", "till-report"}, []string{"openssl-3.0.15"}, nil, "agent-2.4.1", 2,
			[]string{"/usr/lib/agent/vacuum", "--full"}, []string{"21:40", "unplaced: capacity: every base is at capacity"}},
		{"kiosk: base then kiosk", Client{ID: "kiosk-9", Site: "austin"},
			map[string]Placement{"pkg-repo": {Base: "05:10"}},
			[]string{"rotate-logs", "vacuum-db"}, nil, []string{"inventory"}, "", 1,
			[]string{"/usr/lib/agent/vacuum"}, []string{"05:10", "unplaced: " + notAllocated}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := c.Profile(tt.client, tt.placements)
			require.NoError(t, err)
			p, err := afterhours.ParseProfile(data)
			require.NoError(t, err, "%s", data)
			require.Equal(t, tt.client.ID, p.Client)
			require.Equal(t, tt.client.Site, p.Site.Name)
			require.Equal(t, tt.housekeeping, names(p.Housekeeping))
			require.Equal(t, tt.updates, names(p.Updates))
			require.Equal(t, tt.timers, names(p.Timers))
			if tt.selfUpdate == "" {
				require.Nil(t, p.SelfUpdate)
			} else {
				require.Equal(t, tt.selfUpdate, p.SelfUpdate.Name)
			}
			require.Equal(t, tt.parallel, p.Parallel)
			require.Equal(t, 1.5, p.Constraints.MaxLoad)
			require.Equal(t, tt.vacuum, p.Task("vacuum-db").Run)
			var got []string
			for _, tok := range p.Sharing {
				if tok.Base != "" {
					got = append(got, tok.Base)
				} else {
					got = append(got, "unplaced: "+tok.Unplaced)
				}
			}
			require.Equal(t, tt.sharing, got)
			// The same inputs give the same bytes.
			again, err := c.Profile(tt.client, tt.placements)
			require.NoError(t, err)
			require.Equal(t, string(data), string(again))
			// And a plan: the unplaced token's task is deferred as no-slot.
			plan, err := afterhours.PlanAt(p, time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
			require.NoError(t, err)
			for _, d := range plan.Deferred {
				if d.Task.Token() != "" && p.Sharing[0].Unplaced != "" {
					require.Equal(t, afterhours.ReasonNoSlot, d.Reason)
				}
			}
		})
	}
	_, err := c.Profile(Client{ID: "x", Site: "paris"}, nil)
	require.ErrorIs(t, err, ErrBadClient)
}

// The profile has no member the config's sharing entries carry for the
// server only.
func TestProfileLeavesOutCapacity(t *testing.T) {
	c := mustConfig(t, testConfig)
	data, err := c.Profile(Client{ID: "shop-1", Site: "leeds"}, nil)
	require.NoError(t, err)
	var p struct {
		Sharing []map[string]any `json:"sharing"`
	}
	require.NoError(t, json.Unmarshal(data, &p))
	for _, tok := range p.Sharing {
		require.NotContains(t, tok, "capacity")
		require.NotContains(t, tok, "lan_capacity")
	}
}

func TestWithSetAndSite(t *testing.T) {
	c := mustConfig(t, testConfig)
	// Replace a set: the kiosk set gets an update.
	c2, err := c.WithSet("kiosk", []byte(`{"tags": ["kiosk"], "updates": [{"name": "k-1", "run": ["/x"]}]}`))
	require.NoError(t, err)
	data, err := c2.Profile(Client{ID: "k", Site: "austin"}, nil)
	require.NoError(t, err)
	p, err := afterhours.ParseProfile(data)
	require.NoError(t, err)
	require.Equal(t, []string{"k-1"}, names(p.Updates))
	require.Nil(t, p.Timers)
	// Add a set; the original is unchanged.
	c3, err := c.WithSet("night", []byte(`{"name": "night", "updates": [{"name": "n-1", "run": ["/x"]}]}`))
	require.NoError(t, err)
	require.Len(t, c3.sets, 4)
	require.Len(t, c.sets, 3)
	// A bad patch: problems at the new config's paths, nothing changed.
	_, err = c.WithSet("retail", []byte(`{"housekeeping": [{"name": "x", "run": ["rel"]}], "colour": 1}`))
	require.Equal(t, []string{"sets[1].colour", "sets[1].housekeeping[0].run[0]"}, problemPaths(t, err))
	_, err = c.WithSet("retail", []byte(`{"name": "kiosk"}`))
	require.Equal(t, []string{"name"}, problemPaths(t, err))
	// Replace a site: Leeds opens on Sundays.
	c4, err := c.WithSite("leeds", []byte(`{"timezone": "Europe/London", "tags": ["uk"], "business_hours": {"sun": ["10:00-16:00"]}}`))
	require.NoError(t, err)
	require.Equal(t, []string{"leeds", "austin"}, c4.Sites())
	require.False(t, c4.Site("leeds").InBusiness(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)))
	_, err = c.WithSite("paris", []byte(`{"timezone": "Europe/Pariss"}`))
	require.Equal(t, []string{"sites[2].timezone"}, problemPaths(t, err))
}
