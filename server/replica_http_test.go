package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// election is a leadership the test switches: which replica leads, and
// the URL each advertises.
type election struct {
	mu     sync.Mutex
	leader int // -1: none known
	urls   map[int]string
	subs   []chan struct{}
}

func newElection() *election { return &election{leader: -1, urls: map[int]string{}} }

// replica returns replica i's view of the election.
func (e *election) replica(i int) Leadership {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch := make(chan struct{}, 1)
	e.subs = append(e.subs, ch)
	return &electionView{e: e, i: i, ch: ch}
}

// elect makes replica i the leader (-1: none), advertising url.
func (e *election) elect(i int, url string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.leader = i
	e.urls[i] = url
	for _, ch := range e.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

type electionView struct {
	e  *election
	i  int
	ch chan struct{}
}

func (v *electionView) Leader() (bool, string) {
	v.e.mu.Lock()
	defer v.e.mu.Unlock()
	if v.e.leader < 0 {
		return false, ""
	}
	return v.e.leader == v.i, v.e.urls[v.e.leader]
}

func (v *electionView) Changed() <-chan struct{} { return v.ch }

// seenRequest is a request as the leader's server saw it.
type seenRequest struct {
	method, path, forwarded, auth string
}

// A follower forwards the admin requests that allocate to the leader, with
// their token and body, and serves the others itself; without a leader, or
// for a request forwarded already, it answers 503 with Retry-After; for a
// leader it cannot reach, 502. Its fleet's changes that allocate fail with
// ErrNotLeader; the others work.
func TestFollowerForwardsToTheLeader(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	store := NewMemStore()
	defer store.Close()
	e := newElection()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	opts := func(i int) []Option {
		return []Option{WithClock(fixedClock()), WithAdminToken(adminTok, RoleAdmin), WithAdminToken(operateToken, RoleOperate),
			WithLeadership(e.replica(i)), WithForwardTransport(tr)}
	}
	ha, err := New(store, opts(0)...)
	require.NoError(t, err)
	defer ha.Close()
	hb, err := New(store, opts(1)...)
	require.NoError(t, err)
	defer hb.Close()
	var (
		mu   sync.Mutex
		seen []seenRequest
	)
	srvA := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.URL.Path, r.Header.Get(forwardedHeader), r.Header.Get("Authorization")})
		mu.Unlock()
		ha.ServeHTTP(w, r)
	}))
	defer srvA.Close()
	srvB := httptest.NewServer(hb)
	defer srvB.Close()
	atA := func() []seenRequest {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}
	e.elect(0, srvA.URL)

	// Allocating requests to b go to a, with the token and the body.
	r := call(t, srvB, "PUT", "/v1/config", adminTok, strings.NewReader(testConfig))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, []seenRequest{{"PUT", "/v1/config", "1", "Bearer " + adminTok}}, atA())
	require.Equal(t, []string{"leeds", "austin"}, ha.Fleet().Config().Sites())
	r = call(t, srvB, "PUT", "/v1/clients/shop-1", adminTok, strings.NewReader(`{"site": "leeds", "lan": "l1"}`))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var reg registered
	require.NoError(t, json.Unmarshal(r.body, &reg))
	require.NotEmpty(t, reg.Code)
	require.NotEmpty(t, reg.Placements["pkg-repo"].Base)
	for _, req := range []struct{ method, path, body string }{
		{"PUT", "/v1/sets/extra", `{"tags": ["uk"], "housekeeping": [{"name": "x", "run": ["/x"]}]}`},
		{"PUT", "/v1/sites/austin", `{"timezone": "America/Chicago", "tags": ["us", "kiosk"]}`},
		{"PUT", "/v1/clients/shop-2", `{"site": "leeds"}`},
		{"DELETE", "/v1/clients/shop-2", ``},
		{"POST", "/v1/resources/db/downtimes/0/end?set=kiosk", ``},
	} {
		r := call(t, srvB, req.method, req.path, adminTok, strings.NewReader(req.body))
		require.NotEqual(t, http.StatusServiceUnavailable, r.status, "%s %s: %s", req.method, req.path, r.body)
		require.Less(t, r.status, 500, "%s %s: %s", req.method, req.path, r.body)
	}
	var paths []string
	for _, s := range atA() {
		require.Equal(t, "1", s.forwarded)
		paths = append(paths, s.method+" "+s.path)
	}
	require.Equal(t, []string{"PUT /v1/clients/shop-1", "PUT /v1/sets/extra", "PUT /v1/sites/austin", "PUT /v1/clients/shop-2",
		"DELETE /v1/clients/shop-2", "POST /v1/resources/db/downtimes/0/end"}, paths)

	// b serves what does not allocate, and authorizes before it forwards.
	caughtUp(t, hb.Fleet())
	r = call(t, srvB, "POST", "/v1/agent/enroll", "", strings.NewReader(`{"code": "`+reg.Code+`"}`))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = call(t, srvB, "PUT", "/v1/killswitch", operateToken, strings.NewReader(`{"reason": "audit"}`))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = call(t, srvB, "GET", "/v1/clients/shop-1", adminTok, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = call(t, srvB, "PUT", "/v1/config", "", strings.NewReader(testConfig))
	require.Equal(t, http.StatusUnauthorized, r.status)
	r = call(t, srvB, "PUT", "/v1/config", operateToken, strings.NewReader(testConfig))
	require.Equal(t, http.StatusForbidden, r.status)
	require.Empty(t, atA())

	// The fleet of a follower refuses what allocates, and does the rest.
	fb := hb.Fleet()
	_, err = fb.Register(Client{ID: "x", Site: "leeds"})
	require.ErrorIs(t, err, ErrNotLeader)
	require.ErrorContains(t, err, srvA.URL)
	require.ErrorIs(t, fb.SetConfig([]byte(testConfig)), ErrNotLeader)
	require.ErrorIs(t, fb.PutSet("base", []byte(`{}`)), ErrNotLeader)
	require.ErrorIs(t, fb.PutSite("leeds", []byte(`{}`)), ErrNotLeader)
	require.ErrorIs(t, fb.Remove("shop-1"), ErrNotLeader)
	_, err = fb.EndDowntime("db", "kiosk", 0)
	require.ErrorIs(t, err, ErrNotLeader)
	_, _, err = fb.Queue(NewCommand{Name: "check", Run: []string{"/bin/true"}, Clients: []string{"shop-1"}})
	require.NoError(t, err)
	_, err = fb.PutReport("shop-1", Report{Cycle: "2026-11-02", Seq: 1})
	require.NoError(t, err)
	require.NoError(t, fb.ResumeFleet())

	// A request forwarded already is not forwarded again.
	r = call(t, srvB, "PUT", "/v1/config", adminTok, strings.NewReader(testConfig), forwardedHeader, "1")
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.Empty(t, atA())

	// No leader known: 503, and the fleet says so.
	e.elect(-1, "")
	r = call(t, srvB, "PUT", "/v1/clients/shop-3", adminTok, strings.NewReader(`{"site": "leeds"}`))
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	r.errorBody(t)
	_, err = ha.Fleet().Register(Client{ID: "x", Site: "leeds"})
	require.ErrorIs(t, err, ErrNotLeader)

	// A leader that cannot be reached: 502.
	e.elect(0, "http://127.0.0.1:1")
	r = call(t, srvB, "PUT", "/v1/clients/shop-3", adminTok, strings.NewReader(`{"site": "leeds"}`))
	require.Equal(t, http.StatusBadGateway, r.status, "%s", r.body)

	// b leads: it serves, a forwards to it.
	e.elect(1, srvB.URL)
	r = call(t, srvB, "PUT", "/v1/clients/shop-3", adminTok, strings.NewReader(`{"site": "leeds"}`))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Empty(t, atA())
	r = call(t, srvA, "PUT", "/v1/clients/shop-4", adminTok, strings.NewReader(`{"site": "leeds"}`))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	caughtUp(t, ha.Fleet())
	_, err = ha.Fleet().Client("shop-4")
	require.NoError(t, err)
}

// Of two replicas, only the leader delivers the notices, each once; a new
// leader delivers what the store still has undelivered, and the old one
// stops.
func TestNoticesOnceAcrossReplicas(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	store := NewMemStore()
	defer store.Close()
	e := newElection()
	recs := []*recorder{{}, {}}
	var hs []*Handler
	for i := range 2 {
		h, err := New(store, WithClock(fixedClock()), WithLeadership(e.replica(i)), WithNotifier(recs[i]))
		require.NoError(t, err)
		defer h.Close()
		hs = append(hs, h)
	}
	e.elect(0, "http://a")
	require.NoError(t, hs[0].Fleet().SetConfig([]byte(testConfig)))
	_, err := hs[0].Fleet().Register(Client{ID: "leeds-1", Site: "leeds"}, Client{ID: "leeds-2", Site: "leeds"})
	require.NoError(t, err)
	for _, h := range hs {
		caughtUp(t, h.Fleet())
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 2)
	for _, h := range hs {
		go func() { ran <- h.Run(ctx) }()
	}
	defer func() {
		cancel()
		for range hs {
			require.ErrorIs(t, <-ran, context.Canceled)
		}
	}()
	put := func(f *Fleet, client string, ids ...string) {
		for _, id := range ids {
			stored, err := f.PutNotice(client, windowNotice(id))
			require.NoError(t, err)
			require.True(t, stored)
		}
	}
	allDelivered := func() {
		t.Helper()
		require.Eventually(t, func() bool {
			ns, err := hs[0].Fleet().Notices()
			require.NoError(t, err)
			for _, n := range ns {
				if n.Delivered.IsZero() {
					return false
				}
			}
			return true
		}, replicaDeadline, time.Millisecond)
	}
	ids := func(r *recorder) []string {
		var out []string
		for _, n := range r.taken() {
			out = append(out, n.Client+"/"+n.ID)
		}
		slices.Sort(out)
		return out
	}

	// Posted to either replica, delivered by the leader.
	put(hs[1].Fleet(), "leeds-1", "n1", "n2")
	put(hs[0].Fleet(), "leeds-2", "n3")
	allDelivered()
	require.Equal(t, []string{"leeds-1/n1", "leeds-1/n2", "leeds-2/n3"}, ids(recs[0]))
	require.Empty(t, ids(recs[1]))

	// No leader: the notices wait in the store; b, elected, delivers them.
	e.elect(-1, "")
	put(hs[0].Fleet(), "leeds-1", "n4")
	put(hs[1].Fleet(), "leeds-2", "n5")
	e.elect(1, "http://b")
	allDelivered()
	put(hs[0].Fleet(), "leeds-1", "n6")
	allDelivered()
	require.Equal(t, []string{"leeds-1/n1", "leeds-1/n2", "leeds-2/n3"}, ids(recs[0]), "the old leader stopped")
	require.Equal(t, []string{"leeds-1/n4", "leeds-1/n6", "leeds-2/n5"}, ids(recs[1]))
}
