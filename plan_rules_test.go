package afterhours

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// The planning rules of contention, anticipate, the self-update, failures
// and ended downtimes, each with the numbers of its reproduction.

// londonShop is a London shop open 08:00-18:00 on weekdays with a grace of
// 30 minutes (windows from 18:30), with the given sharing, housekeeping,
// updates, self-update and resources (JSON fragments, "" for none) and
// parallel lanes.
func londonShop(t *testing.T, sharing, housekeeping, updates, selfUpdate, resources string, parallel int) *Profile {
	t.Helper()
	doc := fmt.Sprintf(`{"client":"c","site":{"timezone":"Europe/London","grace":"30m","tags":["uk"],
	  "business_hours":{"mon":["08:00-18:00"],"tue":["08:00-18:00"],"wed":["08:00-18:00"],"thu":["08:00-18:00"],"fri":["08:00-18:00"]}},
	  "sharing":[%s],"housekeeping":[%s],"updates":[%s],"resources":[%s],"parallel":%d`,
		sharing, housekeeping, updates, resources, parallel)
	if selfUpdate != "" {
		doc += `,"self_update":` + selfUpdate
	}
	p, err := ParseProfile([]byte(doc + "}"))
	require.NoError(t, err)
	return p
}

// A token declares only what its uses lists: without uses it declares
// nothing, and every step keeps out of its hold, whatever the step uses.
func TestTokenWithoutUsesContendsWithEverything(t *testing.T) {
	hk := `{"name":"rotate-logs","run":["/x"],"estimate":"7m","uses":["disk"]},
	  {"name":"vacuum","run":["/x"],"estimate":"40m","uses":["disk","db"]},
	  {"name":"misc","run":["/x"],"estimate":"10m"}`
	now := time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC) // Monday, GMT
	tests := []struct {
		name, uses string
		want       []string
	}{
		// The hold is 20:45-21:30: vacuum (20:07-20:47 from rotate-logs's
		// end) would run into it, and waits for its end, as misc does.
		{"no uses", ``, []string{"rotate-logs 20:00-20:07", "vacuum 21:30-22:10", "misc 22:10-22:20"}},
		// A token that lists network does not contend with disk and db,
		// nor with a step that uses a resource named like the token.
		{"uses network", `,"uses":["network"]`, []string{"rotate-logs 20:00-20:07", "vacuum 20:07-20:47", "misc 21:30-21:40"}},
		{"uses db", `,"uses":["db"]`, []string{"rotate-logs 20:00-20:07", "vacuum 21:30-22:10", "misc 22:10-22:20"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sharing := `{"token":"lan","base":"21:00","zone":"site","duration":"30m","buffer":"15m"` + tt.uses +
				`,"tasks":[{"name":"sync","run":["/x"]}]}`
			p := londonShop(t, sharing, hk, ``, ``, ``, 2)
			plan, err := PlanAt(p, now)
			require.NoError(t, err)
			require.Equal(t, tt.want, summary(plan))
			checkPlan(t, p, now, nil, plan)
		})
	}

	// A step using a resource named like the token contends only when the
	// token lists it.
	sharing := `{"token":"lan","base":"21:00","zone":"site","duration":"30m","buffer":"15m","uses":["network"],
	  "tasks":[{"name":"sync","run":["/x"]}]}`
	p := londonShop(t, sharing, `{"name":"copy","run":["/x"],"estimate":"1h","uses":["lan"]}`, ``, ``, ``, 1)
	plan, err := PlanAt(p, now)
	require.NoError(t, err)
	require.Equal(t, []string{"copy 20:00-21:00"}, summary(plan))
	checkPlan(t, p, now, nil, plan)
}

// Anticipate moves a step ahead within its phase: before as few of the
// steps declared before it as lets it finish before the downtime; those
// follow it, in their order.
func TestAnticipateMovesAheadWithinPhase(t *testing.T) {
	monday := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	db := func(from, to string) string {
		return fmt.Sprintf(`{"name":"db","downtimes":[{"dates":["2026-11-23"],"from":%q,"to":%q,"action":"anticipate"}]}`, from, to)
	}
	tests := []struct {
		name, hk, resources string
		want                []string
	}{
		{"ahead of b, which follows", `{"name":"b","run":["/x"],"estimate":"20m","uses":["disk"]},
		  {"name":"a","run":["/x"],"estimate":"30m","uses":["db"]}`, db("19:00", "21:00"),
			[]string{"a 18:30-19:00", "b 19:00-19:20"}},
		{"ahead of as few as it must; the rest keep their order", `{"name":"x","run":["/x"],"estimate":"10m","uses":["disk"]},
		  {"name":"y","run":["/x"],"estimate":"10m","uses":["disk"]},
		  {"name":"a","run":["/x"],"estimate":"30m","uses":["db"]},
		  {"name":"z","run":["/x"],"estimate":"10m","uses":["disk"]}`, db("19:10", "21:00"),
			[]string{"x 18:30-18:40", "a 18:40-19:10", "y 19:10-19:20", "z 19:20-19:30"}},
		{"in declared order when it fits there", `{"name":"b","run":["/x"],"estimate":"20m","uses":["disk"]},
		  {"name":"a","run":["/x"],"estimate":"30m","uses":["db"]}`, db("19:30", "21:00"),
			[]string{"b 18:30-18:50", "a 18:50-19:20"}},
		{"not when a step it would move ahead of no longer fits", `{"name":"b","run":["/x"],"estimate":"20m","uses":["disk"]},
		  {"name":"a","run":["/x"],"estimate":"30m","uses":["db"]}`,
			db("19:00", "21:00") + `,{"name":"disk","downtimes":[{"dates":["2026-11-23"],"from":"19:00","to":"19:30","action":"skip"}]}`,
			[]string{"b 18:30-18:50", "a downtime:db"}},
		{"not when it cannot finish in time even first", `{"name":"b","run":["/x"],"estimate":"20m","uses":["disk"]},
		  {"name":"a","run":["/x"],"estimate":"30m","uses":["db"]}`, db("18:50", "21:00"),
			[]string{"b 18:30-18:50", "a downtime:db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := londonShop(t, ``, tt.hk, ``, ``, tt.resources, 1)
			plan, err := PlanAt(p, monday)
			require.NoError(t, err)
			require.Equal(t, tt.want, summary(plan))
			checkPlan(t, p, monday, nil, plan)
		})
	}
}

// The self-update runs only when every update that is enabled and matches
// the site's tags is completed or placed before it in the same plan;
// otherwise it is deferred as updates-pending.
func TestSelfUpdateWaitsForEveryUpdate(t *testing.T) {
	monday := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	const su = `{"name":"agent","run":["/x"],"estimate":"3m"}`
	hk := `{"name":"rotate","run":["/x"],"estimate":"10m","uses":["disk"]}`
	tests := []struct {
		name, updates string
		history       *testHistory
		want          []string
	}{
		{"an update that does not fit", `{"name":"big","run":["/x"],"estimate":"20h"}`, nil,
			[]string{"rotate 18:30-18:40", "big window-full", "agent updates-pending"}},
		{"an update that failed in the cycle", `{"name":"openssl","run":["/x"],"estimate":"5m"}`,
			&testHistory{settled: map[string][]string{"openssl": {"2026-11-23"}}, failed: map[string][]string{"openssl": {"2026-11-23"}}},
			[]string{"rotate 18:30-18:40", "openssl failed", "agent updates-pending"}},
		{"an update kept off by a downtime", `{"name":"openssl","run":["/x"],"estimate":"5m","uses":["db"]}`, nil,
			[]string{"rotate 18:30-18:40", "openssl downtime:db", "agent updates-pending"}},
		{"an update that failed in an earlier cycle runs again, and the self-update after it",
			`{"name":"openssl","run":["/x"],"estimate":"5m"}`,
			&testHistory{failed: map[string][]string{"openssl": {"2026-11-20"}}},
			[]string{"rotate 18:30-18:40", "openssl 18:40-18:45", "agent 18:45-18:48"}},
		{"an update completed before", `{"name":"openssl","run":["/x"],"estimate":"5m"}`,
			&testHistory{settled: map[string][]string{"openssl": {"*"}}},
			[]string{"rotate 18:30-18:40", "agent 18:40-18:43", "openssl done"}},
		{"disabled and other sites' updates do not count", `{"name":"off","run":["/x"],"estimate":"20h","enabled":false},
		  {"name":"us","run":["/x"],"estimate":"20h","tags":["us"]}`, nil,
			[]string{"rotate 18:30-18:40", "agent 18:40-18:43", "off disabled", "us tag-mismatch"}},
	}
	db := `{"name":"db","downtimes":[{"dates":["2026-11-23"],"from":"20:00","to":"21:00"}]}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := londonShop(t, ``, hk, tt.updates, su, db, 1)
			var h History
			if tt.history != nil {
				h = tt.history
			}
			plan, err := PlanAt(p, monday, WithHistory(h))
			require.NoError(t, err)
			require.Equal(t, tt.want, summary(plan))
			checkPlan(t, p, monday, h, plan)
		})
	}

	// A forecast assumes planned work completes: the self-update follows an
	// update placed in the same cycle; while an update never fits, it waits
	// in every cycle.
	p := londonShop(t, ``, hk, `{"name":"openssl","run":["/x"],"estimate":"5m"}`, su, ``, 1)
	plans, err := Forecast(p, propClock(monday), 2)
	require.NoError(t, err)
	require.Equal(t, []string{"rotate 18:30-18:40", "openssl 18:40-18:45", "agent 18:45-18:48"}, summary(plans[0]))
	require.Equal(t, []string{"rotate 18:30-18:40", "openssl done", "agent done"}, summary(plans[1]))
	p = londonShop(t, ``, hk, `{"name":"big","run":["/x"],"estimate":"20h"}`, su, ``, 1)
	plans, err = Forecast(p, propClock(monday), 3)
	require.NoError(t, err)
	for _, plan := range plans {
		require.Contains(t, summary(plan), "agent updates-pending", plan.Day)
	}
}

// A settled task that failed in the cycle is deferred as failed, not done.
func TestSettledFailureIsFailed(t *testing.T) {
	monday := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	p := londonShop(t, ``, `{"name":"rotate","run":["/x"],"estimate":"10m","uses":["disk"]},
	  {"name":"vacuum","run":["/x"],"estimate":"10m","uses":["db"]}`,
		`{"name":"openssl","run":["/x"],"estimate":"5m"},{"name":"zlib","run":["/x"],"estimate":"5m"}`, ``, ``, 1)
	h := &testHistory{
		settled: map[string][]string{"rotate": {"2026-11-23"}, "vacuum": {"2026-11-23"}, "openssl": {"2026-11-23"}, "zlib": {"*"}},
		failed:  map[string][]string{"rotate": {"2026-11-23"}, "openssl": {"2026-11-23"}},
	}
	plan, err := PlanAt(p, monday, WithHistory(h))
	require.NoError(t, err)
	require.Equal(t, []string{"rotate failed", "vacuum done", "openssl failed", "zlib done"}, summary(plan))
	for _, d := range plan.Deferred {
		if d.Reason == ReasonFailed {
			require.Equal(t, "failed in the cycle of 2026-11-23", d.Detail)
		}
	}
	checkPlan(t, p, monday, h, plan)
}

// An update that fails at run time keeps the self-update from running; a
// re-plan (Update) says the update failed, as the failed list does.
func TestExecutorFailedUpdate(t *testing.T) {
	for _, replan := range []bool{false, true} {
		t.Run(fmt.Sprintf("replan=%v", replan), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := profileWith(t, smallShop, nil, map[string]bool{"openssl": true}, nil)
				e, err := NewExecutor(p, WithClock(newSimClock(monNoon)))
				require.NoError(t, err)
				var last *Plan
				ch, unsub := e.Subscribe()
				wait := onEvent(ch, func(ev Event) {
					switch {
					case replan && ev.Kind == EventFailed && ev.Task == "openssl":
						if err := e.Update(p); err != nil {
							t.Error(err)
						}
					case ev.Kind == EventPlanned:
						last = ev.Plan
					}
				})
				require.NoError(t, runFor(t, e, 12*time.Hour))
				unsub()
				wait()
				js := e.Journal()
				js = js[len(js)-1:] // Monday's cycle (Sunday's was backfilled)
				one(t, js, "openssl", StateFailed)
				require.Empty(t, records(js, "agent", StateCompleted), "the self-update ran after a failed update")
				agent := one(t, js, "agent", StateDeferred)
				require.Equal(t, ReasonUpdatesPending, agent.Reason, agent.Detail)
				if !replan {
					return
				}
				deferred := one(t, js, "openssl", StateDeferred)
				require.Equal(t, ReasonFailed, deferred.Reason, deferred.Detail)
				require.Contains(t, summary(last), "openssl failed")
				require.Contains(t, summary(last), "agent updates-pending")
			})
		})
	}
}

// ended ends the occurrence that contains it, whatever its action: work it
// suppressed or stopped is planned again for the rest of the window.
func TestEndedBringsWorkBack(t *testing.T) {
	db := func(action, ended string) string {
		return fmt.Sprintf(`{"name":"db","downtimes":[{"dates":["2026-11-24"],"from":"18:00","to":"23:00","action":%q,"ended":%q}]}`, action, ended)
	}
	at1905 := time.Date(2026, 11, 24, 19, 5, 0, 0, time.UTC)
	tests := []struct {
		name, resources string
		now             time.Time
		want            []string
	}{
		{"suppress, ended before now", db("suppress", "2026-11-24T19:00:00Z"), at1905,
			[]string{"a 19:05-19:35", "b 19:35-20:35", "c 20:35-21:05", "u 21:05-21:25", "s 21:25-21:30"}},
		{"stop, ended before now", db("stop", "2026-11-24T19:00:00Z"), at1905,
			[]string{"a 19:05-19:35", "b 19:35-20:35", "c 20:35-21:05", "u 21:05-21:25", "s 21:25-21:30"}},
		{"suppress, not ended", db("suppress", ""), at1905,
			[]string{"a 19:05-19:35", "c 19:35-20:05", "b downtime:db", "u downtime:db", "s updates-pending"}},
		// Planned before it ended: the work waits for the end, and does not
		// hold back the steps after it.
		{"suppress, ending later", db("suppress", "2026-11-24T19:00:00Z"), time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC),
			[]string{"a 18:30-19:00", "b 19:00-20:00", "c 20:00-20:30", "u 20:30-20:50", "s 20:50-20:55"}},
		{"anticipate, ended before now", db("anticipate", "2026-11-24T19:02:00Z"), at1905,
			[]string{"a 19:05-19:35", "b 19:35-20:35", "c 20:35-21:05", "u 21:05-21:25", "s 21:25-21:30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := downtimeProfile(t, tt.resources, ``, 1)
			plan, err := PlanAt(p, tt.now)
			require.NoError(t, err)
			require.Equal(t, tt.want, summary(plan))
			checkPlan(t, p, tt.now, nil, plan)
		})
	}

	// The invariant checker knows the rule on its own: a step that uses db
	// placed before the end, or at all while db is suppressed, is wrong.
	p := downtimeProfile(t, db("suppress", "2026-11-24T19:00:00Z"), ``, 1)
	now := time.Date(2026, 11, 24, 18, 0, 0, 0, time.UTC)
	plan, err := PlanAt(p, now)
	require.NoError(t, err)
	require.Equal(t, "b 19:00-20:00", summary(plan)[1])
	plan.Steps[1].Start, plan.Steps[1].End = plan.Steps[1].Start.Add(-time.Minute), plan.Steps[1].End.Add(-time.Minute)
	rec := &invRecorder{TB: t}
	checkPlan(rec, p, now, nil, plan)
	require.Contains(t, strings.Join(rec.errors, "\n"), "keeps it out until it ended")
	p = downtimeProfile(t, db("stop", ""), ``, 1)
	plan, err = PlanAt(p, now)
	require.NoError(t, err)
	plan.Steps = append(plan.Steps, Step{Task: p.Task("b"), Interval: Interval{plan.Window.End.Add(-time.Hour), plan.Window.End}})
	rec = &invRecorder{TB: t}
	checkPlan(rec, p, now, nil, plan)
	require.Contains(t, strings.Join(rec.errors, "\n"), "suppresses it in the cycle")

	// A slot task that uses the resource is back in the slots after the end.
	network := `{"name":"network","downtimes":[{"dates":["2026-11-24"],"from":"18:00","to":"23:00","ended":"2026-11-24T19:00:00Z"}]}`
	p = downtimeProfile(t, network, ``, 1)
	plan, err = PlanAt(p, at1905)
	require.NoError(t, err)
	require.Len(t, plan.Slots, 1)
	require.Len(t, plan.Slots[0].Tasks, 1, "fetch runs in its 01:40 slot: %v", summary(plan))
	checkPlan(t, p, at1905, nil, plan)
}

// TestPlanRandomDowntimes plans random profiles with random downtimes of
// every action (once and ended among them) at random instants, and checks
// every invariant of each plan.
func TestPlanRandomDowntimes(t *testing.T) {
	profiles, instants := 300, 20
	if testing.Short() {
		profiles, instants = 40, 10
	}
	r := rand.New(rand.NewPCG(2026, 12))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	actions := append([]string{""}, downtimeActions...)
	for i := range profiles {
		p := propRandomProfile(r, 2026)
		for _, name := range []string{"disk", "db", "lan", "network", "nas"} {
			res := &Resource{Name: name}
			for j := r.IntN(3); j > 0; j-- {
				d := &DowntimeSchedule{Action: actions[r.IntN(len(actions))]}
				if r.IntN(2) == 0 {
					d.Days = []string{weekdayKeys[r.IntN(7)], weekdayKeys[r.IntN(7)]}
				} else {
					for k := 1 + r.IntN(20); k > 0; k-- {
						d.Dates = append(d.Dates, Date{2026, time.Month(1 + r.IntN(12)), 1 + r.IntN(28)}.String())
					}
					d.Once = r.IntN(4) == 0
				}
				if r.IntN(4) > 0 {
					from := r.IntN(48) * 30
					to := (from + 30*(1+r.IntN(40))) % 1440
					d.From, d.To = fmt.Sprintf("%02d:%02d", from/60, from%60), fmt.Sprintf("%02d:%02d", to/60, to%60)
				}
				if len(d.Dates) > 0 && r.IntN(3) == 0 {
					day, _ := ParseDate(d.Dates[0])
					at := time.Date(day.Year, day.Month, day.Day, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(36*60)) * time.Minute)
					d.Ended = at.Format(time.RFC3339)
				}
				res.Downtimes = append(res.Downtimes, d)
			}
			if len(res.Downtimes) > 0 {
				p.Resources = append(p.Resources, res)
			}
		}
		for _, task := range allTasks(p) {
			task.IgnoreDowntimes = r.IntN(10) == 0
		}
		data, err := json.Marshal(p)
		require.NoError(t, err)
		parsed, err := ParseProfile(data)
		require.NoError(t, err, "%s", data)
		h := History(hashHistory{strconv.Itoa(i)})
		if i%3 == 0 {
			h = nil
		}
		for range instants {
			now := start.Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour))))
			plan, err := PlanAt(parsed, now, WithHistory(h))
			if errors.Is(err, ErrNoWindow) {
				continue
			}
			require.NoError(t, err)
			checkPlan(t, parsed, now, h, plan)
			if t.Failed() {
				t.Fatalf("profile %d at %s (history %v):\n%s", i, now.UTC().Format(time.RFC3339), h, data)
			}
		}
	}
}
