package etcd

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/afterhours-go/afterhours/fleet"
)

// The keys of one rollout, under the coordinator's prefix P:
//
//	P plan             the rollout's limits, written by the first Join
//	P kill             the killswitch: present when the rollout was killed
//	P critical         present after a critical failure: its reason
//	P failures         its version counts the failures (one put each)
//	P rec/<target>     the target's record (no lease): running, then final
//	P claim/<target>   the claim of a running target (on its controller's lease)
//	P slot/<i>         concurrency slot i, 0 <= i < concurrency (on the lease)
//	P group/<g>/<j>    place j of group g, 0 <= j < group limit (on the lease)
//
// Target IDs and group names are path-escaped, so that a "/" in them does
// not reach into another key.
const (
	keyPlan     = "plan"
	keyKill     = "kill"
	keyCritical = "critical"
	keyFailures = "failures"
	dirRec      = "rec/"
	dirClaim    = "claim/"
	dirSlot     = "slot/"
	dirGroup    = "group/"
)

// keys builds the keys of one rollout.
type keys struct{ p string }

func (k keys) plan() string     { return k.p + keyPlan }
func (k keys) kill() string     { return k.p + keyKill }
func (k keys) failures() string { return k.p + keyFailures }
func (k keys) critical() string { return k.p + keyCritical }
func (k keys) recs() string     { return k.p + dirRec }
func (k keys) claims() string   { return k.p + dirClaim }
func (k keys) slots() string    { return k.p + dirSlot }

func (k keys) rec(id string) string   { return k.p + dirRec + url.PathEscape(id) }
func (k keys) claim(id string) string { return k.p + dirClaim + url.PathEscape(id) }
func (k keys) slot(i int) string      { return k.p + dirSlot + strconv.Itoa(i) }
func (k keys) group(g string) string  { return k.p + dirGroup + url.PathEscape(g) + "/" }
func (k keys) groupSlot(g string, j int) string {
	return k.group(g) + strconv.Itoa(j)
}

// targetOf returns the target ID of a rec/ or claim/ key under dir.
func (k keys) targetOf(key, dir string) (string, bool) {
	rest, ok := strings.CutPrefix(key, k.p+dir)
	if !ok {
		return "", false
	}
	id, err := url.PathUnescape(rest)
	return id, err == nil
}

// stored is the value of a rec/ key: the target's record and the
// controller that ran it.
type stored struct {
	Controller string `json:"controller"`
	fleet.Record
}

func encodeRec(controller string, rec fleet.Record) string {
	b, _ := json.Marshal(stored{Controller: controller, Record: rec}) // a Record always encodes
	return string(b)
}

func decodeRec(key string, v []byte) (stored, error) {
	var s stored
	if err := json.Unmarshal(v, &s); err != nil {
		return stored{}, fmt.Errorf("etcd: coordinator: record %s: %w", key, err)
	}
	return s, nil
}

// planValue is the value of the plan key: the plan of the first Join,
// which every controller of the rollout must match.
type planValue struct {
	Concurrency int            `json:"concurrency"`
	Budget      int            `json:"budget"`
	Failures    int            `json:"failures,omitempty"`
	GroupLimits map[string]int `json:"group_limits,omitempty"`
}

func planOf(p fleet.CoordPlan) planValue {
	return planValue{Concurrency: p.Concurrency, Budget: p.Budget, Failures: p.Failures, GroupLimits: p.GroupLimits}
}

func (v planValue) coordPlan() fleet.CoordPlan {
	return fleet.CoordPlan{Concurrency: v.Concurrency, Budget: v.Budget, Failures: v.Failures, GroupLimits: v.GroupLimits}
}

// groupLimit returns the limit of group g, or 0 when it is not limited.
func (v planValue) groupLimit(g string) int {
	if g == "" {
		return 0
	}
	return v.GroupLimits[g]
}

// budgetLeft is the number of writes of the failures key that still let
// targets start: the failures counted stay within the budget while the
// key's version is below it.
func (v planValue) budgetLeft() int64 { return int64(v.Budget-v.Failures) + 1 }
