package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// resFleet serves resourcesConfig with four enrolled clients: london-1
// and london-2 (Europe/London), kathmandu-1 (Asia/Kathmandu), austin-1
// (America/Chicago), on a fake clock.
type resFleet struct {
	t      *testing.T
	clk    *clock.Mock
	h      *Handler
	srv    *httptest.Server
	tokens map[string]string
}

var resClients = []Client{{ID: "london-1", Site: "london"}, {ID: "london-2", Site: "london"},
	{ID: "kathmandu-1", Site: "kathmandu"}, {ID: "austin-1", Site: "austin"}}

func newResFleet(t *testing.T, now time.Time) *resFleet {
	t.Helper()
	clk := clock.NewMock()
	clk.Set(now)
	h, err := New(NewMemStore(), WithClock(clk),
		WithAdminToken(viewToken, RoleView), WithAdminToken(operateToken, RoleOperate), WithAdminToken(adminTok, RoleAdmin))
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	rf := &resFleet{t: t, clk: clk, h: h, srv: httptest.NewServer(h), tokens: map[string]string{}}
	t.Cleanup(rf.srv.Close)
	require.NoError(t, h.Fleet().SetConfig([]byte(resourcesConfig)))
	codes, err := h.Fleet().Register(resClients...)
	require.NoError(t, err)
	for i, code := range codes {
		_, tok, err := h.Fleet().Enroll(code)
		require.NoError(t, err)
		rf.tokens[resClients[i].ID] = tok
	}
	return rf
}

func (rf *resFleet) call(method, path, token string) response {
	return call(rf.t, rf.srv, method, path, token, nil)
}

// profile fetches a client's profile as its agent does, and parses it.
func (rf *resFleet) profile(id string) (etag string, p *afterhours.Profile) {
	t := rf.t
	r := rf.call("GET", "/v1/agent/clients/"+id+"/profile", rf.tokens[id])
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	p, err := afterhours.ParseProfile(r.body)
	require.NoError(t, err)
	return r.header.Get("ETag"), p
}

func (rf *resFleet) resources(days string) resourcesBody {
	t := rf.t
	r := rf.call("GET", "/v1/resources?days="+days, viewToken)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var body resourcesBody
	require.NoError(t, json.Unmarshal(r.body, &body))
	return body
}

// vacuumIn reports whether the plan has "vacuum" as a step, and otherwise
// its deferral's reason.
func vacuumIn(t *testing.T, p *afterhours.Profile, now time.Time) (step *afterhours.Step, reason string) {
	t.Helper()
	plan, err := afterhours.PlanAt(p, now)
	require.NoError(t, err)
	for i, s := range plan.Steps {
		if s.Task.Name == "vacuum" {
			return &plan.Steps[i], ""
		}
	}
	for _, d := range plan.Deferred {
		if d.Task.Name == "vacuum" {
			return nil, d.Reason
		}
	}
	t.Fatalf("vacuum neither a step nor deferred in the plan of %s", p.Client)
	return nil, ""
}

// TestHTTPEndDowntime ends, mid-occurrence, the retail set's nightly db
// downtime, which runs at 21:00 UTC both in London (20:00-04:00 GMT) and
// in Kathmandu (02:45 local, 20:00-04:00 at +05:45).
func TestHTTPEndDowntime(t *testing.T) {
	now := time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC)
	rf := newResFleet(t, now)

	before := map[string]string{}
	for _, c := range resClients {
		etag, p := rf.profile(c.ID)
		before[c.ID] = etag
		if c.Site != "austin" {
			step, reason := vacuumIn(t, p, now)
			require.Nil(t, step, "%s: the downtime suppresses vacuum", c.ID)
			require.Equal(t, afterhours.ReasonDowntime("db"), reason, c.ID)
		}
	}
	placed := rf.h.Fleet().Clients()

	list := rf.resources("7")
	require.True(t, list.Now.Equal(now))
	require.Equal(t, 7, list.Days)
	require.Len(t, list.Resources, 2)
	d := list.Resources[1].Downtimes[0]
	require.Equal(t, "retail", list.Resources[1].Set)
	require.True(t, d.Running)
	require.Equal(t, []string{"kathmandu-1", "london-1", "london-2"}, d.Clients)
	var running []string
	for _, o := range d.Occurrences {
		if o.Running {
			running = append(running, o.Site+" "+o.Start.Format(time.RFC3339))
		}
	}
	require.Equal(t, []string{"kathmandu 2026-11-24T20:00:00+05:45", "london 2026-11-24T20:00:00Z"}, running)

	// The agent of london-1 long-polls for its next profile.
	polled := make(chan response, 1)
	go func() {
		r, err := do(rf.srv, "GET", "/v1/agent/clients/london-1/profile?wait=5m", rf.tokens["london-1"], nil, "If-None-Match", before["london-1"])
		if err != nil {
			r.status, r.body = -1, []byte(err.Error())
		}
		polled <- r
	}()

	r := rf.call("POST", "/v1/resources/db/downtimes/0/end?set=retail", operateToken)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var got ResourceInfo
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, "db", got.Name)
	require.Equal(t, "retail", got.Set)
	d = got.Downtimes[0]
	require.Equal(t, "2026-11-24T21:00:00Z", d.Ended)
	require.False(t, d.Running)
	for _, o := range d.Occurrences {
		require.False(t, o.Running, "%+v", o)
		require.True(t, o.Start.After(now), "the ended occurrences are gone: %+v", o)
	}
	require.Empty(t, got.Downtimes[1].Ended, "the other downtime is untouched")

	select {
	case pr := <-polled:
		require.Equal(t, http.StatusOK, pr.status, "%s", pr.body)
		require.NotEqual(t, before["london-1"], pr.header.Get("ETag"))
		require.Contains(t, string(pr.body), `"ended":"2026-11-24T21:00:00Z"`)
	case <-time.After(10 * time.Second):
		t.Fatal("the long-poll did not answer the change")
	}

	for _, c := range resClients {
		etag, p := rf.profile(c.ID)
		if c.Site == "austin" {
			require.Equal(t, before[c.ID], etag, "austin takes the base set's db: its profile is unchanged")
			continue
		}
		require.NotEqual(t, before[c.ID], etag, c.ID)
		require.Equal(t, "db", p.Resources[0].Name)
		require.Equal(t, "2026-11-24T21:00:00Z", p.Resources[0].Downtimes[0].Ended, c.ID)
		step, reason := vacuumIn(t, p, now)
		require.NotNil(t, step, "%s: vacuum deferred as %q after the downtime ended", c.ID, reason)
		require.False(t, step.Start.Before(now), c.ID)
		// The next night's occurrence still holds.
		next := now.Add(24 * time.Hour)
		step, reason = vacuumIn(t, p, next)
		require.Nil(t, step, c.ID)
		require.Equal(t, afterhours.ReasonDowntime("db"), reason, c.ID)
	}
	require.Equal(t, placed, rf.h.Fleet().Clients(), "no allocation moves")

	// The config stored is the new one, as GET /v1/config shows.
	cfg := rf.call("GET", "/v1/config", viewToken)
	require.Contains(t, string(cfg.body), `"ended":"2026-11-24T21:00:00Z"`)

	// Nothing runs now any more.
	r = rf.call("POST", "/v1/resources/db/downtimes/0/end?set=retail", operateToken)
	require.Equal(t, http.StatusConflict, r.status, "%s", r.body)
	msg := r.errorBody(t).Error
	require.Contains(t, msg, "no occurrence running")
	require.Contains(t, msg, `the next starts at 2026-11-25T20:00:00+05:45 at site "kathmandu"`)
}

func TestHTTPEndDowntimeRefused(t *testing.T) {
	rf := newResFleet(t, time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC))
	tests := []struct {
		name, path, token string
		status            int
		says              string
	}{
		{"view may not end", "/v1/resources/db/downtimes/0/end?set=retail", viewToken, http.StatusForbidden, "needs operate"},
		{"no token", "/v1/resources/db/downtimes/0/end?set=retail", "", http.StatusUnauthorized, "bearer"},
		{"two sets declare db", "/v1/resources/db/downtimes/0/end", operateToken, http.StatusConflict, `declared by sets "base", "retail"`},
		{"unknown resource", "/v1/resources/disk/downtimes/0/end", operateToken, http.StatusNotFound, `no set declares resource "disk"`},
		{"unknown set", "/v1/resources/db/downtimes/0/end?set=kiosk", operateToken, http.StatusNotFound, `set "kiosk" does not declare`},
		{"unknown index", "/v1/resources/db/downtimes/2/end?set=retail", operateToken, http.StatusNotFound, "has no downtime 2 (it has 2)"},
		{"negative index", "/v1/resources/db/downtimes/-1/end?set=retail", operateToken, http.StatusNotFound, "no downtime"},
		{"not an index", "/v1/resources/db/downtimes/first/end?set=retail", operateToken, http.StatusNotFound, "no downtime"},
		{"not running", "/v1/resources/db/downtimes/1/end?set=retail", operateToken, http.StatusConflict, "no occurrence running at 2026-11-24T21:00:00Z"},
		{"not running at austin", "/v1/resources/db/downtimes/0/end?set=base", operateToken, http.StatusConflict, `the next starts at 2026-11-29T00:00:00-06:00 at site "austin"`},
		{"a GET", "/v1/resources/db/downtimes/0/end?set=retail", operateToken, http.StatusNotFound, ""},
	}
	cfg := rf.call("GET", "/v1/config", viewToken)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := "POST"
			if strings.HasPrefix(tt.name, "a GET") {
				method = "GET"
			}
			r := call(t, rf.srv, method, tt.path, tt.token, nil)
			require.Equal(t, tt.status, r.status, "%s", r.body)
			require.Contains(t, r.errorBody(t).Error, tt.says)
		})
	}
	require.Equal(t, string(cfg.body), string(rf.call("GET", "/v1/config", viewToken).body), "nothing changed")

	for _, days := range []string{"0", "61", "a week"} {
		r := rf.call("GET", "/v1/resources?days="+strings.ReplaceAll(days, " ", "%20"), viewToken)
		require.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
		require.Equal(t, "days", r.errorBody(t).Problems[0].Path)
	}
	require.Equal(t, http.StatusUnauthorized, rf.call("GET", "/v1/resources", "").status)
}

// TestHTTPResourcesShape checks the JSON names the web page codes against.
func TestHTTPResourcesShape(t *testing.T) {
	rf := newResFleet(t, time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC))
	r := rf.call("GET", "/v1/resources?days=1", viewToken)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var body struct {
		Now       string `json:"now"`
		Days      int    `json:"days"`
		Resources []struct {
			Name      string           `json:"name"`
			Set       string           `json:"set"`
			Downtimes []map[string]any `json:"downtimes"`
		} `json:"resources"`
	}
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&body))
	require.Equal(t, "2026-11-24T21:00:00Z", body.Now)
	require.Equal(t, 1, body.Days)
	require.Equal(t, "db", body.Resources[1].Name)
	d := body.Resources[1].Downtimes[0]
	for _, k := range []string{"index", "action", "from", "to", "dates", "days", "once", "ended", "running", "occurrences", "clients", "tasks", "sites"} {
		require.Contains(t, d, k)
	}
	require.Equal(t, []any{}, d["dates"])
	require.Equal(t, "", d["ended"])
	require.Equal(t, map[string]any{"site": "kathmandu", "start": "2026-11-24T20:00:00+05:45",
		"end": "2026-11-25T04:00:00+05:45", "action": "suppress", "running": true, "ended": false}, d["occurrences"].([]any)[0])
	require.Equal(t, []any{map[string]any{"name": "vacuum", "kind": "housekeeping"}, map[string]any{"name": "fetch", "kind": "shared"}}, d["tasks"])
	require.Equal(t, map[string]any{"site": "london", "timezone": "Europe/London", "clients": 2.0,
		"tasks": d["tasks"]}, d["sites"].([]any)[0])
	require.Equal(t, []any{"kathmandu-1", "london-1", "london-2"}, d["clients"])
	require.Equal(t, 0.0, d["index"])
}

// TestHTTPEndDowntimeTwice ends the nightly downtime in Kathmandu (15:00
// UTC, 20:45 there, business hours in London), then in London at 21:00
// UTC: the second "ended" replaces the first, and Kathmandu's occurrence,
// which the first cut short, contains the second instant too, so it stays
// ended.
func TestHTTPEndDowntimeTwice(t *testing.T) {
	first := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)
	rf := newResFleet(t, first)
	r := rf.call("POST", "/v1/resources/db/downtimes/0/end?set=retail", operateToken)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	_, p := rf.profile("london-1")
	_, reason := vacuumIn(t, p, first.Add(6*time.Hour))
	require.Equal(t, afterhours.ReasonDowntime("db"), reason, "London's occurrence of the night is not ended")
	_, p = rf.profile("kathmandu-1")
	step, reason := vacuumIn(t, p, first)
	require.NotNil(t, step, "Kathmandu's occurrence ended: %s", reason)

	second := first.Add(6 * time.Hour)
	rf.clk.Set(second)
	r = rf.call("POST", "/v1/resources/db/downtimes/0/end?set=retail", operateToken)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	for _, id := range []string{"london-1", "kathmandu-1"} {
		_, p := rf.profile(id)
		require.Equal(t, "2026-11-24T21:00:00Z", p.Resources[0].Downtimes[0].Ended)
		step, reason := vacuumIn(t, p, second)
		require.NotNil(t, step, "%s: %s", id, reason)
	}
}

// TestHTTPResourcesEmpty: a fleet whose sets declare no resource answers an
// empty list, not null.
func TestHTTPResourcesEmpty(t *testing.T) {
	srv := testServer(t)
	r := call(t, srv, "GET", "/v1/resources", viewToken, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"now": "2026-11-02T12:00:00Z", "days": 7, "resources": []}`, string(r.body))
	r = call(t, srv, "POST", "/v1/resources/db/downtimes/0/end", operateToken, nil)
	require.Equal(t, http.StatusNotFound, r.status, "%s", r.body)
}
