package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// TestOccurrencesMatchPlanner checks the occurrences the resources view
// computes against the downtimes the planner lists: for each cycle of a
// forecast, the occurrences intersecting its window are the plan's, in
// zones with DST changes (London, Lord Howe's 30-minute one), without
// (Kathmandu's +05:45), with once, ended, crossing midnight and whole days.
func TestOccurrencesMatchPlanner(t *testing.T) {
	sites := map[string]string{
		"london":    `{"name": "london", "timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"], "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]}, "grace": "30m"}`,
		"kathmandu": `{"name": "kathmandu", "timezone": "Asia/Kathmandu", "business_hours": {"sun": ["10:00-17:00"], "mon": ["10:00-17:00"], "tue": ["10:00-17:00"], "wed": ["10:00-17:00"], "thu": ["10:00-17:00"]}}`,
		"lordhowe":  `{"name": "lordhowe", "timezone": "Australia/Lord_Howe", "business_hours": {"sat": ["09:00-12:00"]}}`,
		"kiosk":     `{"name": "kiosk", "timezone": "America/Chicago"}`,
	}
	downtimes := []string{
		`{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "01:00", "to": "03:00", "action": "postpone"}`,
		`{"days": ["sun", "wed"], "from": "22:30", "to": "02:15", "action": "hold"}`,
		`{"dates": ["2027-03-30", "2027-03-27", "2027-04-04"], "action": "skip", "once": true}`,
		`{"days": ["sat", "sun"], "from": "01:30", "to": "24:00", "ended": "2027-04-04T00:00:00Z"}`,
		`{"dates": ["2027-03-28", "2027-04-04"], "from": "00:15", "to": "05:00", "action": "anticipate", "ended": "2027-03-28T02:00:00Z"}`,
	}
	for name, site := range sites {
		for k, dt := range downtimes {
			t.Run(fmt.Sprintf("%s/%d", name, k), func(t *testing.T) {
				profile := fmt.Sprintf(`{"client": "c", "site": %s,
				  "housekeeping": [{"name": "vacuum", "run": ["/v"], "uses": ["db"]}],
				  "resources": [{"name": "db", "downtimes": [%s]}]}`, site, dt)
				p, err := afterhours.ParseProfile([]byte(profile))
				require.NoError(t, err)
				var d afterhours.DowntimeSchedule
				require.NoError(t, json.Unmarshal([]byte(dt), &d))
				clk := clock.NewMock()
				clk.Set(time.Date(2027, 3, 20, 12, 0, 0, 0, time.UTC))
				plans, err := afterhours.Forecast(p, clk, 21)
				require.NoError(t, err)
				seen := 0
				for _, plan := range plans {
					if plan.Window.Empty() {
						continue
					}
					got := occurrences("db", &d, p.Site.Location(), plan.Window.Start, plan.Window.End)
					require.Len(t, got, len(plan.Downtimes), "cycle %s", plan.Day)
					for i, want := range plan.Downtimes {
						require.Equal(t, want.Resource, got[i].Resource)
						require.True(t, want.Start.Equal(got[i].Start), "cycle %s: start %v, want %v", plan.Day, got[i].Start, want.Start)
						require.True(t, want.End.Equal(got[i].End), "cycle %s: end %v, want %v", plan.Day, got[i].End, want.End)
						require.Equal(t, want.Action, got[i].Action, "cycle %s", plan.Day)
						require.Equal(t, want.Ended, got[i].Ended, "cycle %s", plan.Day)
					}
					seen += len(got)
				}
				require.NotZero(t, seen, "no occurrence in three weeks: the case tests nothing")
			})
		}
	}
}

// resourcesConfig has three sites: london and kathmandu (retail) take the
// retail set's "db", a downtime every night from 20:00 to 04:00 local;
// austin (kiosk) takes the base set's "db", down on Sundays. The slot
// task "fetch" uses db at every site; "vacuum" only at retail sites, and
// "report" uses db but ignores downtimes.
const resourcesConfig = `{
  "sites": [
    {"name": "london", "timezone": "Europe/London", "tags": ["retail"], "business_hours": {
      "mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"], "thu": ["08:00-18:00"],
      "fri": ["08:00-18:00"], "sat": ["08:00-18:00"], "sun": ["08:00-18:00"]}},
    {"name": "kathmandu", "timezone": "Asia/Kathmandu", "tags": ["retail"], "business_hours": {
      "mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"], "thu": ["08:00-18:00"],
      "fri": ["08:00-18:00"], "sat": ["08:00-18:00"], "sun": ["08:00-18:00"]}},
    {"name": "austin", "timezone": "America/Chicago", "tags": ["kiosk"], "business_hours": {
      "mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"], "thu": ["08:00-18:00"],
      "fri": ["08:00-18:00"], "sat": ["08:00-18:00"], "sun": ["08:00-18:00"]}}
  ],
  "sharing": [{"token": "pkg-repo", "zone": "site", "duration": "20m", "uses": ["network"], "capacity": 10,
    "tasks": [{"name": "fetch", "run": ["/usr/lib/agent/fetch"], "uses": ["db"]}]}],
  "sets": [
    {"name": "base",
     "housekeeping": [{"name": "rotate", "run": ["/usr/sbin/logrotate"], "estimate": "2m"},
       {"name": "report", "run": ["/usr/lib/agent/report"], "uses": ["db"], "ignore_downtimes": true}],
     "resources": [{"name": "db", "downtimes": [{"days": ["sun"]}]}]},
    {"name": "retail", "tags": ["retail"],
     "housekeeping": [{"name": "vacuum", "run": ["/usr/lib/agent/vacuum"], "estimate": "20m", "uses": ["db"]},
       {"name": "till", "run": ["/usr/lib/agent/till"], "uses": ["db"], "enabled": false}],
     "resources": [{"name": "db", "downtimes": [
       {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "20:00", "to": "04:00"},
       {"dates": ["2026-12-01"], "from": "01:00", "to": "02:00", "action": "postpone"}]}]}
  ]
}`

func TestResourceInfos(t *testing.T) {
	cfg := mustConfig(t, resourcesConfig)
	now := time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC) // a Tuesday
	bySite := newRoster(slices.Clone(resClients))
	infos := cfg.resourceInfos(now, 2, bySite, "", "")
	require.Len(t, infos, 2)

	base := infos[0]
	require.Equal(t, "db", base.Name)
	require.Equal(t, "base", base.Set)
	require.Len(t, base.Downtimes, 1)
	d := base.Downtimes[0]
	require.Equal(t, afterhours.ActionSuppress, d.Action, "the declared action, suppress when omitted")
	require.Equal(t, []string{"austin-1"}, d.Clients, "the retail sites take the retail set's db")
	require.Equal(t, []TaskRef{{"fetch", "shared"}}, d.Tasks, "report ignores downtimes")
	require.False(t, d.Running)
	require.Empty(t, d.Occurrences, "no Sunday within two days of a Tuesday")

	retail := infos[1]
	require.Equal(t, "retail", retail.Set)
	require.Len(t, retail.Downtimes, 2)
	d = retail.Downtimes[0]
	require.Equal(t, []string{"kathmandu-1", "london-1", "london-2"}, d.Clients)
	require.Equal(t, []TaskRef{{"vacuum", "housekeeping"}, {"fetch", "shared"}}, d.Tasks, "till is disabled")
	require.Equal(t, []SiteEffect{
		{Site: "london", Timezone: "Europe/London", Clients: 2, Tasks: []TaskRef{{"vacuum", "housekeeping"}, {"fetch", "shared"}}},
		{Site: "kathmandu", Timezone: "Asia/Kathmandu", Clients: 1, Tasks: []TaskRef{{"vacuum", "housekeeping"}, {"fetch", "shared"}}},
	}, d.Sites)
	require.True(t, d.Running)
	var starts []string
	for _, o := range d.Occurrences {
		starts = append(starts, fmt.Sprintf("%s %s %s %v", o.Site, o.Start.Format(time.RFC3339), o.End.Format(time.RFC3339), o.Running))
	}
	require.Equal(t, []string{
		"kathmandu 2026-11-24T20:00:00+05:45 2026-11-25T04:00:00+05:45 true",
		"london 2026-11-24T20:00:00Z 2026-11-25T04:00:00Z true",
		"kathmandu 2026-11-25T20:00:00+05:45 2026-11-26T04:00:00+05:45 false",
		"london 2026-11-25T20:00:00Z 2026-11-26T04:00:00Z false",
		"kathmandu 2026-11-26T20:00:00+05:45 2026-11-27T04:00:00+05:45 false",
		"london 2026-11-26T20:00:00Z 2026-11-27T04:00:00Z false",
	}, starts, "those starting before Thursday 21:00 UTC, by start")

	// A horizon is clamped to 1..60 days.
	require.Len(t, cfg.resourceInfos(now, 0, bySite, "retail", "db")[0].Downtimes[0].Occurrences, 4)
	require.Len(t, cfg.resourceInfos(now, 1000, bySite, "retail", "db")[0].Downtimes[0].Occurrences, 2*61)
}

func TestDeclaration(t *testing.T) {
	cfg := mustConfig(t, resourcesConfig)
	si, item, err := cfg.declaration("db", "retail")
	require.NoError(t, err)
	require.Equal(t, [2]int{1, 0}, [2]int{si, item})
	_, _, err = cfg.declaration("db", "")
	require.ErrorIs(t, err, ErrAmbiguousResource)
	require.ErrorContains(t, err, `"base", "retail"`)
	_, _, err = cfg.declaration("disk", "")
	require.ErrorIs(t, err, ErrNoResource)
	_, _, err = cfg.declaration("db", "kiosk")
	require.ErrorIs(t, err, ErrNoResource)
}

func TestWithEnded(t *testing.T) {
	set := json.RawMessage(`{"name":"s","resources":[{"name":"a"},{"name":"db","downtimes":[{"days":["sun"]},{"days":["mon"],"ended":"2020-01-01T00:00:00Z","action":"hold"}]}],"parallel":2}`)
	got, err := withEnded(set, 1, 1, "2026-11-24T21:00:00Z")
	require.NoError(t, err)
	require.Equal(t, `{"name":"s","resources":[{"name":"a"},{"name":"db","downtimes":[{"days":["sun"]},{"days":["mon"],"action":"hold","ended":"2026-11-24T21:00:00Z"}]}],"parallel":2}`, string(got))
	_, err = withEnded(set, 1, 2, "2026-11-24T21:00:00Z")
	require.Error(t, err)
}

// TestResourceInfosSiteWithoutClients: a site the declaration applies to is
// affected even before a client registers there.
func TestResourceInfosSiteWithoutClients(t *testing.T) {
	cfg := mustConfig(t, resourcesConfig)
	now := time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC)
	d := cfg.resourceInfos(now, 1, newRoster([]Client{{ID: "london-1", Site: "london"}}), "retail", "db")[0].Downtimes[0]
	require.Equal(t, []string{"london-1"}, d.Clients)
	require.Len(t, d.Sites, 2)
	require.Equal(t, "kathmandu", d.Sites[1].Site)
	require.Zero(t, d.Sites[1].Clients)
	require.NotEmpty(t, d.Sites[1].Tasks)
}

// TestEndDowntimeWholeSeconds: "ended" is the fleet's now in whole seconds,
// UTC.
func TestEndDowntimeWholeSeconds(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 24, 21, 0, 7, 600_000_000, time.FixedZone("x", 3600)))
	f, err := OpenFleet(NewMemStore(), WithClock(clk))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.NoError(t, f.SetConfig([]byte(resourcesConfig)))
	info, err := f.EndDowntime("db", "retail", 0)
	require.NoError(t, err)
	require.Equal(t, "2026-11-24T20:00:07Z", info.Downtimes[0].Ended)
}

// TestResourcesConcurrent reads the view while downtimes end and sets
// change (run with -race).
func TestResourcesConcurrent(t *testing.T) {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC))
	f, err := OpenFleet(NewMemStore(), WithClock(clk))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.NoError(t, f.SetConfig([]byte(resourcesConfig)))
	_, err = f.Register(resClients...)
	require.NoError(t, err)
	retail := f.Config().sets[1].raw
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			if infos := f.Resources(3); len(infos) != 2 {
				t.Errorf("%d resources", len(infos))
			}
		}
	}()
	for i := range 10 {
		clk.Add(time.Minute)
		_, err := f.EndDowntime("db", "retail", 0)
		require.NoError(t, err, "round %d", i)
		require.NoError(t, f.PutSet("retail", retail), "the downtime runs again")
		require.NoError(t, f.PutSet("extra", []byte(fmt.Sprintf(`{"housekeeping": [{"name": "x%d", "run": ["/x"]}]}`, i))))
	}
	<-done
}

// BenchmarkResources computes the resources view of a fleet of 100,000
// clients at 500 sites in six zones, a resource declared by one set for
// every site with two downtimes, over the default horizon; json-bytes is
// the size of the answer.
func BenchmarkResources(b *testing.B) {
	const nClients, nSites = 100_000, 500
	var cfgJSON map[string]any
	require.NoError(b, json.Unmarshal(benchConfig(nSites, nClients), &cfgJSON))
	cfgJSON["sets"] = append(cfgJSON["sets"].([]any), map[string]any{"name": "db",
		"housekeeping": []any{map[string]any{"name": "vacuum", "run": []string{"/x"}, "uses": []string{"db"}}},
		"resources": []any{map[string]any{"name": "db", "downtimes": []any{
			map[string]any{"days": []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "from": "01:00", "to": "03:00"},
			map[string]any{"dates": []string{"2026-12-01"}, "action": "postpone"}}}}})
	data, err := json.Marshal(cfgJSON)
	require.NoError(b, err)
	cfg := mustConfig(b, string(data))
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC))
	f := &Fleet{cfg: cfg, clk: clk, clients: map[string]*clientRecord{}}
	for i := range nClients {
		id := fmt.Sprintf("client-%06d", i)
		f.clients[id] = &clientRecord{Client: Client{ID: id, Site: fmt.Sprintf("site-%03d", i%nSites)}}
	}
	b.Run(fmt.Sprintf("clients=%d/sites=%d", nClients, nSites), func(b *testing.B) {
		b.ReportAllocs()
		var size int
		for b.Loop() {
			infos := f.Resources(DefaultHorizonDays)
			out, err := json.Marshal(infos)
			if err != nil {
				b.Fatal(err)
			}
			size = len(out)
		}
		b.ReportMetric(float64(size), "json-bytes")
	})
}

// An operator ends the nightly database downtime early, for every client
// whose profile takes it: here a London shop at 21:30, mid-occurrence.
func ExampleFleet_EndDowntime() {
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 24, 21, 30, 0, 0, time.UTC))
	f, err := OpenFleet(NewMemStore(), WithClock(clk))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	err = f.SetConfig([]byte(`{
	  "sites": [{"name": "leeds", "timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"]}}],
	  "sets": [{"name": "shops",
	    "housekeeping": [{"name": "vacuum", "run": ["/usr/lib/agent/vacuum"], "uses": ["db"]}],
	    "resources": [{"name": "db", "downtimes": [{"days": ["tue"], "from": "20:00", "to": "23:00"}]}]}]
	}`))
	if err != nil {
		panic(err)
	}
	if _, err := f.Register(Client{ID: "shop-1", Site: "leeds"}); err != nil {
		panic(err)
	}
	show := func(info ResourceInfo) {
		d := info.Downtimes[0]
		fmt.Printf("%s (set %s) downtime %d: running %v, clients %v, tasks %v, ended %q\n",
			info.Name, info.Set, d.Index, d.Running, d.Clients, d.Tasks, d.Ended)
	}
	show(f.Resources(1)[0])
	_, before, _ := f.Profile("shop-1")
	info, err := f.EndDowntime("db", "", 0)
	if err != nil {
		panic(err)
	}
	show(info)
	_, after, _ := f.Profile("shop-1")
	fmt.Println("new profile:", before != after)
	_, err = f.EndDowntime("db", "", 0)
	fmt.Println(errors.Is(err, ErrNotRunning))
	// Output:
	// db (set shops) downtime 0: running true, clients [shop-1], tasks [{vacuum housekeeping}], ended ""
	// db (set shops) downtime 0: running false, clients [shop-1], tasks [{vacuum housekeeping}], ended "2026-11-24T21:30:00Z"
	// new profile: true
	// true
}
