package server

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
	"github.com/stretchr/testify/require"
)

func (o *opsFleet) load(query string) LoadView {
	o.t.Helper()
	r := o.call("GET", "/v1/load"+query, viewToken, "")
	require.Equal(o.t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(o.t, "application/json", r.header.Get("Content-Type"))
	var v LoadView
	require.NoError(o.t, json.Unmarshal(r.body, &v))
	return v
}

// GET /v1/load gives each token of the config its capacities and the
// fleet's count per minute of the UTC date, the same as fleet.LoadForecast
// over the clients' profiles; none is over capacity.
func TestHTTPLoad(t *testing.T) {
	o := newOpsFleet(t)
	v := o.load("?date=2026-11-24")
	require.Equal(t, "2026-11-24", v.Date)
	require.Equal(t, time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), v.Start)
	require.Equal(t, 1440, v.Minutes)
	require.Len(t, v.Tokens, 2)

	var ps []*afterhours.Profile
	for _, id := range []string{"austin-1", "leeds-1", "leeds-2"} {
		data, _, err := o.h.Fleet().Profile(id)
		require.NoError(t, err)
		p, err := afterhours.ParseProfile(data)
		require.NoError(t, err)
		ps = append(ps, p)
	}
	want, err := fleet.LoadForecast(ps, afterhours.Date{Year: 2026, Month: 11, Day: 24})
	require.NoError(t, err)

	byToken := map[string]TokenView{}
	for _, tv := range v.Tokens {
		byToken[tv.Token] = tv
	}
	pkg, lan := byToken["pkg-repo"], byToken["lan"]
	require.Equal(t, "UTC", pkg.Zone)
	require.Equal(t, 2, pkg.Capacity)
	require.Equal(t, 1, pkg.LANCapacity)
	require.Equal(t, "site", lan.Zone)
	require.Equal(t, 1, lan.Capacity)
	require.Equal(t, 0, lan.LANCapacity)
	for _, tv := range []TokenView{pkg, lan} {
		wt := want.Token(tv.Token)
		require.NotNil(t, wt)
		require.Equal(t, wt.Concurrency, tv.Load, tv.Token)
		require.Len(t, tv.Load, 1440)
		require.Equal(t, 3, tv.Holders)
		require.Equal(t, wt.Peak, tv.Peak)
		require.Positive(t, tv.Peak, "%s: some client is in its slot on the day", tv.Token)
		require.True(t, wt.PeakAt.Equal(tv.PeakAt))
		require.Empty(t, tv.Over, tv.Token)
	}

	// The default date is the fleet clock's UTC date (2026-11-24 12:00Z).
	require.Equal(t, v, o.load(""))
	require.Equal(t, "2026-11-25", o.load("?date=2026-11-25").Date)

	// The JSON is compact: per token an array of counts.
	raw := o.call("GET", "/v1/load?date=2026-11-24", viewToken, "")
	require.Contains(t, string(raw.body), `"load":[0,0,0,`)
	require.Less(t, len(raw.body), 10_000)

	r := o.call("GET", "/v1/load?date=2026-02-30", viewToken, "")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, r.errorBody(t).Error, "date")
	require.Equal(t, http.StatusUnauthorized, o.call("GET", "/v1/load", "", "").status)
	require.Equal(t, http.StatusUnauthorized, o.call("GET", "/v1/load", "not-a-known-token-at-all", "").status)
}

// The load is recomputed when a client joins or leaves (the cache follows
// the profiles), and minutes over a capacity are listed per scope.
func TestHTTPLoadFollowsChangesAndFlagsOver(t *testing.T) {
	o := newOpsFleet(t)
	before := o.load("?date=2026-11-24")
	_, err := o.h.Fleet().Register(Client{ID: "leeds-3", Site: "leeds"})
	require.NoError(t, err)
	after := o.load("?date=2026-11-24")
	require.Equal(t, 3, before.Tokens[0].Holders)
	require.Equal(t, 4, after.Tokens[0].Holders)
	require.NoError(t, o.h.Fleet().Remove("leeds-3"))
	require.Equal(t, before, o.load("?date=2026-11-24"))
	// A config change that touches no profile, only a capacity, shows too.
	require.NoError(t, o.h.Fleet().SetConfig([]byte(strings.Replace(testConfig, `"capacity": 2,`, `"capacity": 3,`, 1))))
	require.Equal(t, 3, o.load("?date=2026-11-24").Tokens[0].Capacity)

	// The stints: a run of counts over the capacity.
	start := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	counts := []int{0, 3, 4, 2, 1, 5, 5}
	require.Equal(t, []OverStint{
		{Scope: "fleet", From: start.Add(time.Minute), To: start.Add(3 * time.Minute), Count: 4, Capacity: 2},
		{Scope: "fleet", From: start.Add(5 * time.Minute), To: start.Add(7 * time.Minute), Count: 5, Capacity: 2},
	}, overStints("fleet", start, counts, 2))
}

// Ten clients at one site on one LAN, with a token of capacity 10 and LAN
// capacity 2 but slots placed by hand at one base: the fleet is within
// capacity, the LAN is not, and the view says when.
func TestLoadViewLANOver(t *testing.T) {
	cfg := mustConfig(t, testConfig)
	res := fleet.Resource{Token: "pkg-repo", Duration: 20 * time.Minute, Capacity: 10, LANCapacity: 2}
	var clients []viewClient
	for i := range 3 {
		tok := res.Entry("02:00")
		tok.Tasks = []*afterhours.Task{{Name: "fetch", Run: []string{"/x"}}}
		p := &afterhours.Profile{Client: fmt.Sprintf("c%d", i), Site: *cfg.Site("leeds"), Sharing: []*afterhours.Token{tok}}
		require.NoError(t, p.Validate())
		clients = append(clients, viewClient{info: ClientInfo{Client: Client{ID: p.Client, Site: "leeds", LAN: "shop-lan"}}, p: p})
	}
	v, err := loadView(clients, cfg, afterhours.Date{Year: 2026, Month: 11, Day: 24})
	require.NoError(t, err)
	var pkg TokenView
	for _, tv := range v.Tokens {
		if tv.Token == "pkg-repo" {
			pkg = tv
		}
	}
	require.Equal(t, 3, pkg.Peak)
	two := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	// The config's capacity of pkg-repo is 2 fleet-wide, 1 per LAN.
	require.Equal(t, []OverStint{
		{Scope: "fleet", From: two, To: two.Add(20 * time.Minute), Count: 3, Capacity: 2},
		{Scope: "lan shop-lan", From: two, To: two.Add(20 * time.Minute), Count: 3, Capacity: 1},
	}, pkg.Over)
}

type svgRoot struct {
	XMLName xml.Name `xml:"svg"`
	Client  string   `xml:"data-client,attr"`
	Day     string   `xml:"data-day,attr"`
}

// GET /v1/clients/{id}/plan is afterhours.PlanAt on the client's profile
// at ?at= (default: the fleet's now), with the failures of its last
// report: as JSON, or as SVG.
func TestHTTPPlan(t *testing.T) {
	o := newOpsFleet(t)
	at := time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)
	data, _, err := o.h.Fleet().Profile("leeds-1")
	require.NoError(t, err)
	p, err := afterhours.ParseProfile(data)
	require.NoError(t, err)
	want, err := afterhours.PlanAt(p, at)
	require.NoError(t, err)
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)

	r := o.call("GET", "/v1/clients/leeds-1/plan?at=2026-11-24T19:00:00Z", viewToken, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.JSONEq(t, string(wantJSON), string(r.body))
	require.True(t, hasStep(want, "vacuum-db"), "vacuum-db is planned before any report")

	// Default instant: the fleet's clock (2026-11-24 12:00Z), whose next
	// window is the same cycle's.
	wantNow, err := afterhours.PlanAt(p, o.clk.Now())
	require.NoError(t, err)
	wantNowJSON, err := json.Marshal(wantNow)
	require.NoError(t, err)
	r = o.call("GET", "/v1/clients/leeds-1/plan", viewToken, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, string(wantNowJSON), string(r.body))

	// SVG: the drawing of the same plan.
	var wantSVG bytes.Buffer
	require.NoError(t, want.WriteSVG(&wantSVG))
	r = o.call("GET", "/v1/clients/leeds-1/plan?at=2026-11-24T19:00:00Z&format=svg", viewToken, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "image/svg+xml", r.header.Get("Content-Type"))
	require.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"))
	require.Equal(t, wantSVG.String(), string(r.body))
	var root svgRoot
	require.NoError(t, xml.Unmarshal(r.body, &root))
	require.Equal(t, "leeds-1", root.Client)
	require.Equal(t, "2026-11-24", root.Day)

	// A failure in the last report of the cycle: the task is deferred as
	// failed, not planned again.
	o.report("leeds-1", fmt.Sprintf(failedReport, 1, false))
	r = o.call("GET", "/v1/clients/leeds-1/plan?at=2026-11-24T19:00:00Z", viewToken, "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var got struct {
		Steps []struct {
			Task string `json:"task"`
		} `json:"steps"`
		Deferred []struct {
			Task   string `json:"task"`
			Reason string `json:"reason"`
		} `json:"deferred"`
	}
	require.NoError(t, json.Unmarshal(r.body, &got), "%s", r.body)
	require.NotEmpty(t, got.Steps)
	for _, s := range got.Steps {
		require.NotEqual(t, "vacuum-db", s.Task)
	}
	reasons := map[string]string{}
	for _, d := range got.Deferred {
		reasons[d.Task] = d.Reason
	}
	require.Equal(t, "failed", reasons["vacuum-db"], "%s", r.body)

	tests := []struct {
		path, token string
		status      int
	}{
		{"/v1/clients/nobody/plan", viewToken, http.StatusNotFound},
		{"/v1/clients/leeds-1/plan?at=tonight", viewToken, http.StatusBadRequest},
		{"/v1/clients/leeds-1/plan?format=png", viewToken, http.StatusBadRequest},
		{"/v1/clients/leeds-1/plan", "", http.StatusUnauthorized},
		{"/v1/clients/leeds-1/plan", o.tokens["leeds-1"], http.StatusUnauthorized}, // an agent's token is no admin token
		{"/v1/clients/leeds-1/plan?at=1500-01-01T00:00:00Z", viewToken, http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		r := o.call("GET", tc.path, tc.token, "")
		require.Equal(t, tc.status, r.status, "%s: %s", tc.path, r.body)
		require.NotEmpty(t, r.errorBody(t).Error)
	}
	require.True(t, strings.HasPrefix(o.call("GET", "/v1/clients/leeds-1/plan", operateToken, "").header.Get("Content-Type"), "application/json"))
}

func hasStep(p *afterhours.Plan, task string) bool {
	for _, s := range p.Steps {
		if s.Task.Name == task {
			return true
		}
	}
	return false
}

// BenchmarkLoadView answers GET /v1/load's work for a fleet of 10,000
// clients at 50 sites in six zones: cold (every profile parsed, then the
// forecast), parsed (profiles cached, the forecast of another date) and
// cached (nothing changed: the digest of the profiles, then the stored
// answer).
func BenchmarkLoadView(b *testing.B) {
	const nClients, nSites = 10_000, 50
	h, err := New(NewMemStore(), WithClock(fixedClock()))
	require.NoError(b, err)
	b.Cleanup(func() { h.Close() })
	require.NoError(b, h.Fleet().SetConfig(benchConfig(nSites, nClients)))
	clients := make([]Client, nClients)
	for i := range clients {
		si := (i * 7919) % nSites
		clients[i] = Client{ID: fmt.Sprintf("client-%07d", i), Site: fmt.Sprintf("site-%03d", si), LAN: fmt.Sprintf("lan-%d-%d", si, (i/nSites)%10)}
	}
	_, err = h.Fleet().Register(clients...)
	require.NoError(b, err)
	days := []afterhours.Date{{Year: 2026, Month: 11, Day: 24}, {Year: 2026, Month: 11, Day: 25}}
	drop := func(profiles bool) {
		h.views.mu.Lock()
		if profiles {
			h.views.parsed = nil
		}
		h.views.mu.Unlock()
		h.views.loadMu.Lock()
		h.views.load = nil
		h.views.loadMu.Unlock()
	}
	for _, tc := range []struct {
		name            string
		dropProfiles    bool
		dropLoad, alter bool
	}{
		{"cache=cold", true, true, false},
		{"cache=parsed", false, false, true},
		{"cache=hit", false, false, false},
	} {
		b.Run(fmt.Sprintf("clients=%d/%s", nClients, tc.name), func(b *testing.B) {
			_, err := h.loadJSON(days[0])
			require.NoError(b, err)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if tc.dropLoad {
					b.StopTimer()
					drop(tc.dropProfiles)
					b.StartTimer()
				}
				day := days[0]
				if tc.alter {
					i++
					day = days[i%2]
				}
				data, err := h.loadJSON(day)
				if err != nil || len(data) < 1440 {
					b.Fatal(err, len(data))
				}
			}
		})
	}
}

// A fleet without clients, or without a config, has a load of zeros, or
// of no token.
func TestHTTPLoadEmpty(t *testing.T) {
	srv := testServer(t)
	r := call(t, srv, "GET", "/v1/load", viewToken, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"date": "2026-11-02", "start": "2026-11-02T00:00:00Z", "minutes": 1440, "tokens": []}`, string(r.body))

	require.Equal(t, http.StatusOK, call(t, srv, "PUT", "/v1/config", adminTok, strings.NewReader(testConfig)).status)
	r = call(t, srv, "GET", "/v1/load", viewToken, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var v LoadView
	require.NoError(t, json.Unmarshal(r.body, &v))
	require.Len(t, v.Tokens, 2)
	for _, tv := range v.Tokens {
		require.Equal(t, make([]int, 1440), tv.Load)
		require.Zero(t, tv.Peak)
		require.Zero(t, tv.Holders)
		require.Empty(t, tv.Over)
	}
}
