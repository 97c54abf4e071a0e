package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

const (
	viewToken    = "view-token-0123456789"
	operateToken = "operate-token-0123456789"
	adminTok     = "admin-token-0123456789"
)

func testServer(t *testing.T) *httptest.Server {
	t.Helper()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	h, err := New(NewMemStore(), WithClock(clk),
		WithAdminToken(viewToken, RoleView), WithAdminToken(operateToken, RoleOperate), WithAdminToken(adminTok, RoleAdmin))
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) errorBody(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	require.NoError(t, json.Unmarshal(r.body, &e), "%s", r.body)
	require.NotEmpty(t, e.Error)
	return e
}

func call(t *testing.T, srv *httptest.Server, method, path, token string, body io.Reader, header ...string) response {
	t.Helper()
	r, err := do(srv, method, path, token, body, header...)
	require.NoError(t, err)
	return r
}

// do makes a request; it is safe in any goroutine.
func do(srv *httptest.Server, method, path, token string, body io.Reader, header ...string) (response, error) {
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		return response{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, data}, err
}

func TestHTTPAdminAuth(t *testing.T) {
	srv := testServer(t)
	tests := []struct {
		name, method, path, token string
		body                      string
		status                    int
	}{
		{"no token", "GET", "/v1/config", "", "", http.StatusUnauthorized},
		{"a wrong admin token", "GET", "/v1/config", "admin-token-0123456788", "", http.StatusUnauthorized},
		{"view reads", "GET", "/v1/config", viewToken, "", http.StatusOK},
		{"view may not change the config", "PUT", "/v1/config", viewToken, testConfig, http.StatusForbidden},
		{"operate may not change the config", "PUT", "/v1/config", operateToken, testConfig, http.StatusForbidden},
		{"operate may not register", "PUT", "/v1/clients/x", operateToken, `{"site": "leeds"}`, http.StatusForbidden},
		{"admin changes the config", "PUT", "/v1/config", adminTok, testConfig, http.StatusOK},
		{"an agent's token is no admin's", "GET", "/v1/clients", "not-an-admin-token-at-all", "", http.StatusUnauthorized},
		{"unknown endpoint", "GET", "/v1/nothing", viewToken, "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, srv, tt.method, tt.path, tt.token, strings.NewReader(tt.body))
			require.Equal(t, tt.status, r.status, "%s", r.body)
			if tt.status >= 400 {
				r.errorBody(t)
			}
		})
	}
}

func TestHTTPConfig(t *testing.T) {
	srv := testServer(t)
	r := call(t, srv, "PUT", "/v1/config", adminTok, strings.NewReader(testConfig))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	got := call(t, srv, "GET", "/v1/config", viewToken, nil)
	require.Equal(t, http.StatusOK, got.status)
	require.JSONEq(t, testConfig, string(got.body))

	// A config with 3 problems lists 3 paths, and nothing changes.
	bad := strings.Replace(testConfig, `"grace": "30m"`, `"grace": "30 minutes"`, 1)
	bad = strings.Replace(bad, `"capacity": 2,`, `"capacity": -2,`, 1)
	bad = strings.Replace(bad, `"run": ["/usr/lib/agent/till"]`, `"run": ["till"]`, 1)
	for _, path := range []string{"/v1/config", "/v1/config/validate"} {
		method := map[string]string{"/v1/config": "PUT", "/v1/config/validate": "POST"}[path]
		r = call(t, srv, method, path, adminTok, strings.NewReader(bad))
		require.Equal(t, http.StatusBadRequest, r.status)
		var paths []string
		for _, p := range r.errorBody(t).Problems {
			paths = append(paths, p.Path)
			require.NotEmpty(t, p.Message)
		}
		require.Equal(t, []string{"sharing[0].capacity", "sites[0].grace", "sets[1].housekeeping[1].run[0]"}, paths)
	}
	require.JSONEq(t, testConfig, string(call(t, srv, "GET", "/v1/config", viewToken, nil).body))
	r = call(t, srv, "POST", "/v1/config/validate", adminTok, strings.NewReader(testConfig))
	require.Equal(t, http.StatusOK, r.status)

	// Patches by name.
	r = call(t, srv, "PUT", "/v1/sets/night", adminTok, strings.NewReader(`{"updates": [{"name": "n", "run": ["/x"]}]}`))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Contains(t, string(r.body), `"name":"night"`)
	r = call(t, srv, "PUT", "/v1/sites/paris", adminTok, strings.NewReader(`{"timezone": "Europe/Paris", "business_hours": {"mon": ["09:00-17:00"]}}`))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = call(t, srv, "PUT", "/v1/sites/rome", adminTok, strings.NewReader(`{"timezone": "Europe/Rome", "colour": 1}`))
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, "sites[3].colour", r.errorBody(t).Problems[0].Path)

	// A 10 MB body is refused.
	big := bytes.Repeat([]byte(" "), 10<<20)
	r = call(t, srv, "PUT", "/v1/config", adminTok, bytes.NewReader(big))
	require.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	r.errorBody(t)
}

func TestHTTPClientsAndAgent(t *testing.T) {
	srv := testServer(t)
	require.Equal(t, http.StatusOK, call(t, srv, "PUT", "/v1/config", adminTok, strings.NewReader(testConfig)).status)

	register := func(id, body string) registered {
		r := call(t, srv, "PUT", "/v1/clients/"+id, adminTok, strings.NewReader(body))
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var reg registered
		require.NoError(t, json.Unmarshal(r.body, &reg))
		return reg
	}
	shop := register("shop-1", `{"site": "leeds", "lan": "l1"}`)
	require.Equal(t, "shop-1", shop.ID)
	require.NotEmpty(t, shop.Code)
	require.NotEmpty(t, shop.Placements["pkg-repo"].Base)
	kiosk := register("kiosk-1", `{"site": "austin"}`)

	// Strict bodies.
	for body, path := range map[string]string{
		`{"site": "leeds", "colour": 1}`:   "colour",
		`{"site": "leeds", "site": "x"}`:   "site",
		`{"site": 3}`:                      "site",
		`[1]`:                              "",
		`{"site": "leeds", "id": "other"}`: "",
	} {
		r := call(t, srv, "PUT", "/v1/clients/c", adminTok, strings.NewReader(body))
		require.Equal(t, http.StatusBadRequest, r.status, body)
		if e := r.errorBody(t); path != "" {
			require.Equal(t, path, e.Problems[0].Path, body)
		}
	}
	r := call(t, srv, "PUT", "/v1/clients/c", adminTok, strings.NewReader(`{"site": "mars"}`))
	require.Equal(t, http.StatusBadRequest, r.status)

	// Enrolment: once per code.
	enroll := func(code string) response {
		return call(t, srv, "POST", "/v1/agent/enroll", "", strings.NewReader(`{"code": "`+code+`"}`))
	}
	r = enroll(shop.Code)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var e enrolled
	require.NoError(t, json.Unmarshal(r.body, &e))
	require.Equal(t, "shop-1", e.Client)
	require.Equal(t, http.StatusUnauthorized, enroll(shop.Code).status)
	r = enroll(kiosk.Code)
	require.Equal(t, http.StatusOK, r.status)
	var ek enrolled
	require.NoError(t, json.Unmarshal(r.body, &ek))

	// The profile, with its ETag.
	r = call(t, srv, "GET", "/v1/agent/clients/shop-1/profile", e.Token, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	etag := r.header.Get("ETag")
	require.NotEmpty(t, etag)
	p, err := afterhours.ParseProfile(r.body)
	require.NoError(t, err)
	require.Equal(t, "shop-1", p.Client)
	r = call(t, srv, "GET", "/v1/agent/clients/shop-1/profile", e.Token, nil, "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, r.status)
	require.Empty(t, r.body)
	// A change of the config makes a new profile.
	require.Equal(t, http.StatusOK, call(t, srv, "PUT", "/v1/sets/retail", adminTok,
		strings.NewReader(`{"tags": ["retail"], "updates": [{"name": "u-2", "run": ["/x"]}]}`)).status)
	r = call(t, srv, "GET", "/v1/agent/clients/shop-1/profile", e.Token, nil, "If-None-Match", etag)
	require.Equal(t, http.StatusOK, r.status)
	require.NotEqual(t, etag, r.header.Get("ETag"))
	require.Contains(t, string(r.body), `"u-2"`)

	// Another client's profile: 403; no token or a wrong one: 401; an
	// admin token is no agent's.
	require.Equal(t, http.StatusForbidden, call(t, srv, "GET", "/v1/agent/clients/kiosk-1/profile", e.Token, nil).status)
	require.Equal(t, http.StatusForbidden, call(t, srv, "GET", "/v1/agent/clients/shop-1/profile", ek.Token, nil).status)
	require.Equal(t, http.StatusUnauthorized, call(t, srv, "GET", "/v1/agent/clients/shop-1/profile", "", nil).status)
	require.Equal(t, http.StatusUnauthorized, call(t, srv, "GET", "/v1/agent/clients/shop-1/profile", adminTok, nil).status)

	// Clients: list, get, delete.
	r = call(t, srv, "GET", "/v1/clients", viewToken, nil)
	require.Equal(t, http.StatusOK, r.status)
	var list []ClientInfo
	require.NoError(t, json.Unmarshal(r.body, &list))
	require.Len(t, list, 2)
	require.Equal(t, "kiosk-1", list[0].ID)
	require.True(t, list[0].Enrolled)
	require.NotContains(t, string(r.body), e.Token)
	require.Equal(t, http.StatusOK, call(t, srv, "GET", "/v1/clients/shop-1", viewToken, nil).status)
	require.Equal(t, http.StatusForbidden, call(t, srv, "DELETE", "/v1/clients/shop-1", viewToken, nil).status)
	require.Equal(t, http.StatusNoContent, call(t, srv, "DELETE", "/v1/clients/shop-1", adminTok, nil).status)
	require.Equal(t, http.StatusNotFound, call(t, srv, "GET", "/v1/clients/shop-1", viewToken, nil).status)
	require.Equal(t, http.StatusNotFound, call(t, srv, "DELETE", "/v1/clients/shop-1", adminTok, nil).status)
	require.Equal(t, http.StatusUnauthorized, call(t, srv, "GET", "/v1/agent/clients/shop-1/profile", e.Token, nil).status)
}

func TestNewRefusesBadOptions(t *testing.T) {
	_, err := New(NewMemStore(), WithAdminToken("short", RoleAdmin))
	require.ErrorIs(t, err, ErrBadAdminToken)
	_, err = New(NewMemStore(), WithAdminToken("long-enough-token-1234", Role(7)))
	require.ErrorIs(t, err, ErrBadAdminToken)
	_, err = New(NewMemStore(), WithClock(nil))
	require.ErrorIs(t, err, afterhours.ErrNilClock)
}
