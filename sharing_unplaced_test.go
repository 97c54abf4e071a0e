package afterhours

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// unplacedProfile is a profile whose first token the server could not
// place: it has no base and the reason.
const unplacedProfile = `{"client": "shop-7",
  "site": {"timezone": "Europe/London", "grace": "30m",
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
      "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]}},
  "sharing": [
    {"token": "pkg-repo", "unplaced": "no base left under capacity 1", "duration": "20m", "buffer": "10m",
     "uses": ["network"], "tasks": [{"name": "fetch", "run": ["/x"]}, {"name": "mirror", "run": ["/x"], "tags": ["nowhere"]}]},
    {"token": "lan", "base": "19:00", "zone": "site", "duration": "30m", "uses": ["lan"],
     "tasks": [{"name": "sync", "run": ["/x"]}]}],
  "housekeeping": [{"name": "rotate", "run": ["/x"], "estimate": "10m", "uses": ["network"]}]}`

func TestParseProfileUnplaced(t *testing.T) {
	p, err := ParseProfile([]byte(unplacedProfile))
	require.NoError(t, err)
	require.Equal(t, "no base left under capacity 1", p.Sharing[0].Unplaced)
	require.Empty(t, p.Sharing[0].Base)
	// An unplaced token has no slot on any date.
	require.Equal(t, Slot{Token: "pkg-repo", Tasks: p.Sharing[0].Tasks, tok: p.Sharing[0]}, p.Sharing[0].SlotOn(Date{2026, 11, 24}))
}

func TestUnplacedValidation(t *testing.T) {
	tests := []struct {
		name    string
		token   string
		problem string // "" when valid
	}{
		{"base and no reason", `"base": "01:00"`, ""},
		{"reason and no base", `"unplaced": "full"`, ""},
		{"reason and an empty base", `"base": "", "unplaced": "full"`, ""},
		{"both", `"base": "01:00", "unplaced": "full"`, "sharing[0].base: must be empty: the token is unplaced (full)"},
		{"neither", `"zone": "UTC"`, `sharing[0].base: required: the slot's start, HH:MM (or "unplaced" with the reason the token has no base)`},
		{"an empty base", `"base": ""`, `sharing[0].base: required: the slot's start, HH:MM (or "unplaced" with the reason the token has no base)`},
		{"reason and a bad base", `"base": "25:00", "unplaced": "full"`, "sharing[0].base: must be empty: the token is unplaced (full)"},
		{"a reason of the wrong type", `"base": "01:00", "unplaced": 3`, "sharing[0].unplaced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := `{"client": "c", "site": {"timezone": "UTC", "business_hours": {"mon": ["08:00-18:00"]}},
			  "sharing": [{"token": "t", "duration": "20m", ` + tt.token + `}]}`
			_, err := ParseProfile([]byte(src))
			if tt.problem == "" {
				require.NoError(t, err)
				return
			}
			var ve *ValidationError
			require.True(t, errors.As(err, &ve), "error %v", err)
			require.Len(t, ve.Problems, 1, "%v", ve)
			require.Contains(t, ve.Problems[0].String(), tt.problem)
		})
	}
}

// The planner lists no slot for an unplaced token and defers each of its
// tasks as no-slot with the reason; other checks come first (a task whose
// tags do not match is a tag-mismatch), and work that contends with the
// token runs without waiting for a hold it does not have.
func TestPlanUnplaced(t *testing.T) {
	p, err := ParseProfile([]byte(unplacedProfile))
	require.NoError(t, err)
	for _, now := range []time.Time{
		time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), // Tuesday
		time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC), // Friday night: the weekend's cycle
		time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC),  // London's spring gap
	} {
		t.Run(now.Format(time.RFC3339), func(t *testing.T) {
			plan, err := PlanAt(p, now)
			require.NoError(t, err)
			for _, sl := range plan.Slots {
				require.Equal(t, "lan", sl.Token)
			}
			require.NotEmpty(t, plan.Slots)
			got := map[string]Deferral{}
			for _, d := range plan.Deferred {
				got[d.Task.Name] = d
			}
			require.Equal(t, ReasonNoSlot, got["fetch"].Reason)
			require.Equal(t, "unplaced: no base left under capacity 1", got["fetch"].Detail)
			require.Equal(t, ReasonTagMismatch, got["mirror"].Reason)
			require.NotContains(t, got, "sync")
			require.NotContains(t, got, "rotate")
			checkPlan(t, p, now, nil, plan)
		})
	}
}

// checkPlan does not take the planner's word for an unplaced token: a slot
// listed for it, or a no-slot deferral without the reason, is caught.
func TestCheckPlanCatchesUnplacedSlots(t *testing.T) {
	p, err := ParseProfile([]byte(unplacedProfile))
	require.NoError(t, err)
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	good, err := PlanAt(p, now)
	require.NoError(t, err)
	tests := []struct {
		name   string
		break_ func(p *Plan)
		want   string
	}{
		{"the detail without the reason", func(pl *Plan) {
			for i := range pl.Deferred {
				if pl.Deferred[i].Reason == ReasonNoSlot {
					pl.Deferred[i].Detail = "token pkg-repo has no slot starting in the cycle"
				}
			}
		}, `want "unplaced: no base left under capacity 1"`},
		{"a slot of the unplaced token", func(pl *Plan) {
			sl := pl.Slots[0]
			sl.Token, sl.tok = "pkg-repo", p.Sharing[0]
			pl.Slots = append(pl.Slots, sl)
		}, "pkg-repo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := *good
			broken.Slots = append([]Slot(nil), good.Slots...)
			broken.Deferred = append([]Deferral(nil), good.Deferred...)
			tt.break_(&broken)
			rec := &invRecorder{TB: t}
			checkPlan(rec, p, now, nil, &broken)
			require.NotEmpty(t, rec.errors)
			found := false
			for _, e := range rec.errors {
				found = found || strings.Contains(e, tt.want)
			}
			require.True(t, found, "errors %v, want one with %q", rec.errors, tt.want)
		})
	}
}
