package afterhours

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// downtimeProfile is a London shop (window Tue 24 Nov 2026 18:30 to Wed
// 08:00) whose housekeeping and update use disk and db, with the given
// resources, extra housekeeping and parallel lanes.
func downtimeProfile(t *testing.T, resources, extra string, parallel int) *Profile {
	t.Helper()
	doc := fmt.Sprintf(`{"client":"c","site":{"timezone":"Europe/London","grace":"30m",
	  "business_hours":{"mon":["08:00-18:00"],"tue":["08:00-18:00"],"wed":["08:00-18:00"],"thu":["08:00-18:00"],"fri":["08:00-18:00"]}},
	  "sharing":[{"token":"pkg-repo","base":"01:40","duration":"20m","buffer":"10m","uses":["network"],
	    "tasks":[{"name":"fetch","run":["/x"]}]}],
	  "housekeeping":[{"name":"a","run":["/x"],"estimate":"30m","uses":["disk"]},
	    {"name":"b","run":["/x"],"estimate":"60m","uses":["db"]},
	    {"name":"c","run":["/x"],"estimate":"30m","uses":["disk"]}%s],
	  "updates":[{"name":"u","run":["/x"],"estimate":"20m","uses":["db"]}],
	  "self_update":{"name":"s","run":["/x"],"estimate":"5m","uses":["agent"]},
	  "resources":[%s],
	  "parallel":%d}`, extra, resources, parallel)
	p, err := ParseProfile([]byte(doc))
	require.NoError(t, err)
	return p
}

// summary is a plan in short: "name HH:MM-HH:MM" for steps, "name reason"
// for deferrals, "slot token: tasks" for slots.
func summary(plan *Plan) []string {
	var out []string
	for _, s := range plan.Steps {
		out = append(out, s.Task.Name+" "+spanText(s.Interval))
	}
	for _, d := range plan.Deferred {
		out = append(out, d.Task.Name+" "+d.Reason)
	}
	return out
}

func TestDowntimeActions(t *testing.T) {
	tuesday := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	db := func(action, from, to string) string {
		return fmt.Sprintf(`{"name":"db","downtimes":[{"dates":["2026-11-24"],"from":%q,"to":%q,"action":%q}]}`, from, to, action)
	}
	tests := []struct {
		name      string
		resources string
		extra     string
		parallel  int
		want      []string
	}{
		{"no downtime", ``, ``, 1,
			[]string{"a 18:30-19:00", "b 19:00-20:00", "c 20:00-20:30", "u 20:30-20:50", "s 20:50-20:55"}},
		{"suppress: users of db do not run in a cycle whose window it touches", db("suppress", "19:00", "21:00"), ``, 1,
			[]string{"a 18:30-19:00", "c 19:00-19:30", "b downtime:db", "u downtime:db", "s updates-pending"}},
		{"suppress is the default", db("", "06:00", "07:00"), ``, 1, // 06:00 Tuesday: before the window
			[]string{"a 18:30-19:00", "b 19:00-20:00", "c 20:00-20:30", "u 20:30-20:50", "s 20:50-20:55"}},
		{"suppress is the default, and touching the window is enough", db("", "18:00", "18:45"), ``, 1,
			[]string{"a 18:30-19:00", "c 19:00-19:30", "b downtime:db", "u downtime:db", "s updates-pending"}},
		{"stop is planned like suppress", db("stop", "19:00", "21:00"), ``, 1,
			[]string{"a 18:30-19:00", "c 19:00-19:30", "b downtime:db", "u downtime:db", "s updates-pending"}},
		{"skip: a run that would overlap is skipped, the sequence goes on", db("skip", "19:00", "21:00"), ``, 1,
			[]string{"a 18:30-19:00", "c 19:00-19:30", "b downtime:db", "u downtime:db", "s updates-pending"}},
		{"skip: a run clear of the downtime runs", db("skip", "05:00", "06:00"), ``, 1,
			[]string{"a 18:30-19:00", "b 19:00-20:00", "c 20:00-20:30", "u 20:30-20:50", "s 20:50-20:55"}},
		{"postpone: after the downtime, not holding back the steps after it", db("postpone", "19:00", "21:00"), ``, 1,
			[]string{"a 18:30-19:00", "c 19:00-19:30", "b 21:00-22:00", "u 22:00-22:20", "s 22:20-22:25"}},
		{"postpone that no longer fits is carried to the next cycle", db("postpone", "19:00", "07:30"), ``, 1,
			[]string{"a 18:30-19:00", "c 19:00-19:30", "u 07:30-07:50", "s 07:50-07:55", "b downtime:db"}},
		{"anticipate: finish before, moving ahead within the phase", db("anticipate", "20:00", "21:00"), ``, 2,
			[]string{"a 18:30-19:00", "b 18:30-19:30", "c 19:00-19:30", "u 19:30-19:50", "s 19:50-19:55"}},
		{"anticipate that cannot finish before is deferred", db("anticipate", "19:00", "21:00"), ``, 2,
			[]string{"a 18:30-19:00", "c 19:00-19:30", "b downtime:db", "u downtime:db", "s updates-pending"}},
		{"hold: the whole sequence waits", db("hold", "19:00", "21:00"), ``, 2,
			[]string{"a 18:30-19:00", "b 21:00-22:00", "c 21:00-21:30", "u 22:00-22:20", "s 22:20-22:25"}},
		{"postpone with two lanes does not make c wait", db("postpone", "19:00", "21:00"), ``, 2,
			[]string{"a 18:30-19:00", "c 19:00-19:30", "b 21:00-22:00", "u 22:00-22:20", "s 22:20-22:25"}},
		{"ended early releases the work", `{"name":"db","downtimes":[{"dates":["2026-11-24"],"from":"19:00","to":"21:00","action":"postpone","ended":"2026-11-24T19:30:00Z"}]}`, ``, 1,
			[]string{"a 18:30-19:00", "c 19:00-19:30", "b 19:30-20:30", "u 20:30-20:50", "s 20:50-20:55"}},
		{"ignore_downtimes runs regardless", db("suppress", "19:00", "21:00"), `,{"name":"d","run":["/x"],"estimate":"10m","uses":["db"],"ignore_downtimes":true}`, 1,
			[]string{"a 18:30-19:00", "c 19:00-19:30", "d 19:30-19:40", "b downtime:db", "u downtime:db", "s updates-pending"}},
		{"a resource no task uses changes nothing", `{"name":"printer","downtimes":[{"days":["tue","wed"]}]}`, ``, 1,
			[]string{"a 18:30-19:00", "b 19:00-20:00", "c 20:00-20:30", "u 20:30-20:50", "s 20:50-20:55"}},
		{"the self-update uses a resource too", `{"name":"agent","downtimes":[{"dates":["2026-11-24"],"from":"20:00","to":"23:00","action":"postpone"}]}`, ``, 1,
			[]string{"a 18:30-19:00", "b 19:00-20:00", "c 20:00-20:30", "u 20:30-20:50", "s 23:00-23:05"}},
		{"a slot overlapping a downtime of its token's resource goes without its task", `{"name":"network","downtimes":[{"dates":["2026-11-25"],"from":"01:00","to":"03:00","action":"skip"}]}`, ``, 1,
			[]string{"a 18:30-19:00", "b 19:00-20:00", "c 20:00-20:30", "u 20:30-20:50", "s 20:50-20:55", "fetch downtime:network"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := downtimeProfile(t, tt.resources, tt.extra, tt.parallel)
			plan, err := PlanAt(p, tuesday)
			require.NoError(t, err)
			require.Equal(t, "2026-11-24", plan.Day)
			require.Equal(t, tt.want, summary(plan))
			checkPlan(t, p, tuesday, nil, plan)
		})
	}
}

func TestDowntimeOnceAgainstPermanent(t *testing.T) {
	res := `{"name":"db","downtimes":[{"dates":["2026-11-25","2026-11-24"],"from":"19:00","to":"21:00","action":"postpone","once":true}]}`
	p := downtimeProfile(t, res, ``, 1)
	tue, err := PlanAt(p, time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, ActionPostpone, tue.Downtimes[0].Action, "the first occurrence takes the action")
	require.Contains(t, summary(tue), "b 21:00-22:00")
	wed, err := PlanAt(p, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, ActionSuppress, wed.Downtimes[0].Action, "later ones get suppress")
	require.Contains(t, summary(wed), "b downtime:db")

	perm := downtimeProfile(t, strings.Replace(res, `,"once":true`, ``, 1), ``, 1)
	wed, err = PlanAt(perm, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Equal(t, ActionPostpone, wed.Downtimes[0].Action, "a permanent action applies to every occurrence")
	require.Contains(t, summary(wed), "b 21:00-22:00")
}

func TestDowntimeAnticipateAcrossCycles(t *testing.T) {
	// A weekly job due Thursday 03:00, in Wednesday's cycle; db is down for
	// the whole of Wednesday's window: it runs on Tuesday instead.
	res := `{"name":"db","downtimes":[{"dates":["2026-11-25"],"from":"18:00","to":"09:00","action":"anticipate"}]}`
	weekly := `,{"name":"weekly","run":["/x"],"schedule":"0 3 * * 4","estimate":"15m","uses":["db"]}`
	p := downtimeProfile(t, res, weekly, 1)
	tue, err := PlanAt(p, time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Contains(t, summary(tue), "weekly 20:30-20:45")
	wed, err := PlanAt(p, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Contains(t, summary(wed), "weekly downtime:db")

	// Without the downtime it is not due on Tuesday.
	p = downtimeProfile(t, ``, weekly, 1)
	tue, err = PlanAt(p, time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Contains(t, summary(tue), "weekly not-due")
}

func TestDowntimePostponeCarriesRecurringWork(t *testing.T) {
	// Due Wednesday 03:00 (Tuesday's cycle); db is down all Tuesday night
	// with postpone: it cannot run, and Wednesday's cycle carries it when
	// the history says it did not run.
	res := `{"name":"db","downtimes":[{"dates":["2026-11-24"],"from":"18:00","to":"08:00","action":"postpone"}]}`
	weekly := `,{"name":"weekly","run":["/x"],"schedule":"0 3 * * 3","estimate":"15m","uses":["db"]}`
	p := downtimeProfile(t, res, weekly, 1)
	tue, err := PlanAt(p, time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Contains(t, summary(tue), "weekly downtime:db")
	wed, err := PlanAt(p, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), WithHistory(oneOffsDone{}))
	require.NoError(t, err)
	require.Contains(t, summary(wed), "weekly 20:30-20:45")
	ran := oneOffsDone{"weekly": true}
	wed, err = PlanAt(p, time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), WithHistory(ran))
	require.NoError(t, err)
	require.Contains(t, summary(wed), "weekly not-due", "it ran: nothing to carry")
}

func TestDowntimeValidation(t *testing.T) {
	_, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"UTC"},
	  "housekeeping":[{"name":"a","run":["/x"],"uses":["undeclared"]}],
	  "resources":[{"name":"db","downtimes":[
	    {"dates":["2026-11-24"],"action":"pause"},
	    {"dates":["2026-11-24"],"from":"03:00","to":"03:00"},
	    {"days":["tuesday"]},
	    {"dates":["2026-02-30"]},
	    {"days":["mon"],"once":true},
	    {"dates":["2026-11-24"],"from":"03:00"},
	    {"dates":["2026-11-24"],"ended":"yesterday"},
	    {}]},
	   {"name":"db"}]}`))
	var verr *ValidationError
	require.True(t, errors.As(err, &verr), "%v", err)
	var paths []string
	for _, p := range verr.Problems {
		paths = append(paths, p.Path)
	}
	require.Equal(t, []string{
		"resources[0].downtimes[0].action",
		"resources[0].downtimes[1].to",
		"resources[0].downtimes[2].days[0]",
		"resources[0].downtimes[3].dates[0]",
		"resources[0].downtimes[4].once",
		"resources[0].downtimes[5]",
		"resources[0].downtimes[6].ended",
		"resources[0].downtimes[7]",
		"resources[1].name",
	}, paths)
}
