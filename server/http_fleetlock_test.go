package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// zincati makes a FleetLock request as Zincati does: a POST with the
// protocol's header and body, no token.
func zincati(t *testing.T, srv interface {
	Client() *http.Client
}, url, op, group, id string) (int, fleetlockError) {
	t.Helper()
	body := fmt.Sprintf(`{"client_params": {"id": %q, "group": %q}}`, id, group)
	req, err := http.NewRequest("POST", url+"/v1/"+op, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("fleet-lock-protocol", "true")
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var e fleetlockError
	if resp.StatusCode != http.StatusOK {
		require.NoError(t, jsonDecode(resp, &e))
		require.NotEmpty(t, e.Kind)
		require.NotEmpty(t, e.Value)
	}
	return resp.StatusCode, e
}

// A group of 2 slots: a client takes one, takes it again (recursive), a
// second takes the other, a third finds the semaphore full until one
// releases; a release of what one does not hold succeeds.
func TestFleetLockProtocol(t *testing.T) {
	srv := testServer(t)
	r := call(t, srv, "PUT", "/v1/config", adminTok, strings.NewReader(testConfig))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	const g = "db.cluster-1"
	lock := func(id string) (int, fleetlockError) { return zincati(t, srv, srv.URL, "pre-reboot", g, id) }
	unlock := func(id string) (int, fleetlockError) { return zincati(t, srv, srv.URL, "steady-state", g, id) }

	code, _ := unlock("node-a") // Zincati's initialization: release whatever it held
	require.Equal(t, http.StatusOK, code)
	code, _ = lock("node-a")
	require.Equal(t, http.StatusOK, code)
	code, _ = lock("node-a")
	require.Equal(t, http.StatusOK, code, "recursive")
	code, _ = lock("node-b")
	require.Equal(t, http.StatusOK, code)
	code, e := lock("node-c")
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, "failed_lock_semaphore_full", e.Kind)
	code, _ = unlock("node-a")
	require.Equal(t, http.StatusOK, code)
	code, _ = lock("node-c")
	require.Equal(t, http.StatusOK, code)

	// The admin view, and an operator releasing a dead machine's slot.
	got := call(t, srv, "GET", "/v1/fleetlock", viewToken, nil)
	require.Equal(t, http.StatusOK, got.status)
	require.Contains(t, string(got.body), `"group":"db.cluster-1","slots":2,"holders":[{"id":"node-b"`)
	require.Equal(t, http.StatusForbidden, call(t, srv, "DELETE", "/v1/fleetlock/"+g+"/holders/node-b", viewToken, nil).status)
	require.Equal(t, http.StatusNoContent, call(t, srv, "DELETE", "/v1/fleetlock/"+g+"/holders/node-b", operateToken, nil).status)
	code, _ = lock("node-d")
	require.Equal(t, http.StatusOK, code)
}

// Twenty machines racing for a group of 2 slots: never 3 holders.
func TestFleetLockRace(t *testing.T) {
	srv := testServer(t)
	require.Equal(t, http.StatusOK, call(t, srv, "PUT", "/v1/config", adminTok, strings.NewReader(testConfig)).status)
	const g = "db.cluster-1"
	var mu sync.Mutex
	holders := map[string]bool{}
	most := 0
	var wg sync.WaitGroup
	for i := range 20 {
		id := fmt.Sprintf("node-%02d", i)
		wg.Go(func() {
			for range 5 {
				code, _ := zincati(t, srv, srv.URL, "pre-reboot", g, id)
				if code != http.StatusOK {
					continue
				}
				mu.Lock()
				holders[id] = true
				most = max(most, len(holders))
				mu.Unlock()
				// While it holds the slot (its reboot), the server lists at
				// most 2 holders.
				groups, err := srvFleet(srv).FleetLock()
				require.NoError(t, err)
				for _, gr := range groups {
					require.LessOrEqual(t, len(gr.Holders), gr.Slots, "group %s", gr.Group)
				}
				mu.Lock()
				delete(holders, id) // before the server frees the slot for another
				mu.Unlock()
				code, _ = zincati(t, srv, srv.URL, "steady-state", g, id)
				require.Equal(t, http.StatusOK, code)
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, most, 2)

	// Ten machines asking at once for a group of 2 no one holds: exactly
	// two get a slot.
	start := make(chan struct{})
	var granted sync.WaitGroup
	var got, full int
	for i := range 10 {
		id := fmt.Sprintf("late-%02d", i)
		granted.Go(func() {
			<-start
			code, e := zincati(t, srv, srv.URL, "pre-reboot", g, id)
			mu.Lock()
			defer mu.Unlock()
			switch code {
			case http.StatusOK:
				got++
			case http.StatusConflict:
				require.Equal(t, "failed_lock_semaphore_full", e.Kind)
				full++
			}
		})
	}
	close(start)
	granted.Wait()
	require.Equal(t, 2, got)
	require.Equal(t, 8, full)
}

// The protocol's errors: no header, a bad body, an unknown group, a body
// of 10 MB, and the routes off when the config has no groups.
func TestFleetLockErrors(t *testing.T) {
	srv := testServer(t)
	post := func(path, body string, header bool) (int, fleetlockError) {
		req, err := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if header {
			req.Header.Set("fleet-lock-protocol", "true")
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var e fleetlockError
		require.NoError(t, jsonDecode(resp, &e))
		return resp.StatusCode, e
	}
	ok := `{"client_params": {"id": "node-a", "group": "default"}}`
	code, e := post("/v1/pre-reboot", ok, true)
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "failed_fleetlock_off", e.Kind)

	require.Equal(t, http.StatusOK, call(t, srv, "PUT", "/v1/config", adminTok, strings.NewReader(testConfig)).status)
	for _, tc := range []struct {
		name, path, body string
		header           bool
		status           int
		kind             string
	}{
		{"no header", "/v1/pre-reboot", ok, false, 400, "failed_missing_header"},
		{"no client_params", "/v1/pre-reboot", `{}`, true, 400, "failed_bad_request"},
		{"unknown field", "/v1/pre-reboot", `{"client_params": {"id": "a", "group": "default", "x": 1}}`, true, 400, "failed_bad_request"},
		{"empty id", "/v1/steady-state", `{"client_params": {"id": "", "group": "default"}}`, true, 400, "failed_bad_request"},
		{"bad group", "/v1/pre-reboot", `{"client_params": {"id": "a", "group": "a b"}}`, true, 400, "failed_bad_request"},
		{"unknown group", "/v1/pre-reboot", `{"client_params": {"id": "a", "group": "workers"}}`, true, 404, "failed_unknown_group"},
		{"10 MB", "/v1/pre-reboot", `{"client_params": {"id": "` + strings.Repeat("a", 10<<20) + `", "group": "default"}}`, true, 413, "failed_bad_request"},
	} {
		code, e := post(tc.path, tc.body, tc.header)
		require.Equal(t, tc.status, code, tc.name)
		require.Equal(t, tc.kind, e.Kind, tc.name)
	}
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

// srvFleet is the fleet a test server serves.
func srvFleet(srv *httptest.Server) *Fleet { return srv.Config.Handler.(*Handler).Fleet() }

// A config that lowers a group's slots takes no slot from its holders; no
// one new gets one until they are fewer than the slots. A group the config
// drops keeps its holders listed, with no slots.
func TestFleetLockConfigChange(t *testing.T) {
	srv := testServer(t)
	require.Equal(t, http.StatusOK, call(t, srv, "PUT", "/v1/config", adminTok, strings.NewReader(testConfig)).status)
	f := srvFleet(srv)
	const g = "db.cluster-1"
	require.NoError(t, f.FleetLockLock(g, "a"))
	require.NoError(t, f.FleetLockLock(g, "b"))
	lower := strings.Replace(testConfig, `"db.cluster-1": 2`, `"db.cluster-1": 1`, 1)
	require.Equal(t, http.StatusOK, call(t, srv, "PUT", "/v1/config", adminTok, strings.NewReader(lower)).status)
	require.NoError(t, f.FleetLockLock(g, "b"), "a holder keeps its slot")
	require.ErrorIs(t, f.FleetLockLock(g, "c"), ErrSemaphoreFull)
	require.NoError(t, f.FleetLockUnlock(g, "a"))
	require.ErrorIs(t, f.FleetLockLock(g, "c"), ErrSemaphoreFull, "b still holds the one slot")
	require.NoError(t, f.FleetLockUnlock(g, "b"))
	require.NoError(t, f.FleetLockLock(g, "c"))

	dropped := strings.Replace(testConfig, `, "db.cluster-1": 2`, ``, 1)
	require.Equal(t, http.StatusOK, call(t, srv, "PUT", "/v1/config", adminTok, strings.NewReader(dropped)).status)
	require.ErrorIs(t, f.FleetLockLock(g, "c"), ErrFleetLockGroup)
	groups, err := f.FleetLock()
	require.NoError(t, err)
	require.Equal(t, []FleetLockGroup{
		{Group: "db.cluster-1", Slots: 0, Holders: []FleetLockHolder{{ID: "c", Since: groups[0].Holders[0].Since}}},
		{Group: "default", Slots: 1, Holders: []FleetLockHolder{}},
	}, groups)
	require.NoError(t, f.FleetLockRelease(g, "c"))
	groups, err = f.FleetLock()
	require.NoError(t, err)
	require.Len(t, groups, 1)
}
