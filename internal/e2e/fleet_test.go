package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/agentlink"
	"github.com/afterhours-go/afterhours/server"
	"github.com/stretchr/testify/require"
)

const adminToken = "e2e-admin-token-0123456789"

// fleetServer is the server process of the simulation: a server.Handler
// on a BoltStore, served on a loopback listener. It can be stopped and
// started again on the same file and address.
type fleetServer struct {
	t    *testing.T
	path string
	addr string
	clk  afterhours.Clock
	rq   *requests

	store    *server.BoltStore
	h        *server.Handler
	srv      *http.Server
	handlers atomic.Int64 // handlers running

	// notified records what the server's Notifier was given, across
	// restarts; stopRun ends the handler's delivery loop.
	notified *noticeRecorder
	stopRun  func()
}

// noticeRecorder is the server's Notifier in the test: it keeps every
// notice it is given.
type noticeRecorder struct {
	mu      sync.Mutex
	notices []server.Notice
}

func (r *noticeRecorder) Notify(_ context.Context, n server.Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, n)
	return nil
}

func (r *noticeRecorder) all() []server.Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]server.Notice(nil), r.notices...)
}

func startServer(t *testing.T, path, addr string, clk afterhours.Clock, rq *requests) *fleetServer {
	t.Helper()
	s := &fleetServer{t: t, path: path, addr: addr, clk: clk, rq: rq, notified: &noticeRecorder{}}
	s.start()
	t.Cleanup(func() {
		if s.srv != nil {
			s.stop(nil)
		}
	})
	return s
}

func (s *fleetServer) start() {
	t := s.t
	t.Helper()
	store, err := server.OpenBoltStore(s.path)
	require.NoError(t, err)
	h, err := server.New(store, server.WithClock(s.clk), server.WithAdminToken(adminToken, server.RoleAdmin),
		server.WithNotifier(s.notified))
	require.NoError(t, err)
	// The handler delivers the agents' notices to the Notifier while it
	// runs, as afterhours serve does.
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		h.Run(ctx)
	}()
	s.stopRun = func() { cancel(); <-ran }
	ln, err := net.Listen("tcp", s.addr)
	require.NoError(t, err)
	s.addr = ln.Addr().String()
	s.store, s.h = store, h
	inner := s.rq.handler(h)
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.handlers.Add(1)
			defer s.handlers.Add(-1)
			inner.ServeHTTP(w, r)
		}),
		// The restart cuts connections: their errors are expected.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go s.srv.Serve(ln)
}

// stop closes the listener and every connection (the agents' long-polls
// break), waits for the handlers to return, calls last (when not nil)
// while the store is still open and nothing can change it, and closes the
// store.
func (s *fleetServer) stop(last func()) {
	t := s.t
	t.Helper()
	require.NoError(t, s.srv.Close())
	require.NoError(t, waitQuiet(10*time.Second, func() (bool, string) {
		n := s.handlers.Load()
		return n == 0, fmt.Sprintf("%d handlers running", n)
	}))
	if last != nil {
		last()
	}
	s.stopRun()
	require.NoError(t, s.store.Close())
	s.srv, s.h, s.store = nil, nil, nil
	adminClient.CloseIdleConnections()
}

func (s *fleetServer) url() string { return "http://" + s.addr }

// admin sends an admin request and decodes the answer into out (when not
// nil); it fails the test on an answer other than 200.
func (s *fleetServer) admin(method, path string, in, out any) {
	t := s.t
	t.Helper()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		require.NoError(t, err)
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.url()+path, body)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := adminClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %s", method, path, data)
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out), "%s %s: %s", method, path, data)
	}
}

// adminClient is the operator's HTTP client; its connections are closed
// when the server stops.
var adminClient = &http.Client{Transport: &http.Transport{}}

// agent is one client machine: an executor on a memory store and the
// link that joins it to the server, both on the shared clock.
type agent struct {
	id, site string
	exec     *afterhours.Executor
	store    *afterhours.MemoryStore
	link     *agentlink.Link
	done     chan struct{}
	runErr   error
	linkErr  error
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// enrolAgent registers the client through the admin API, enrols it through
// the agent API and starts its executor and link.
func enrolAgent(ctx context.Context, t *testing.T, s *fleetServer, clk *simClock, hc *http.Client, id, site, lan, zone string) *agent {
	t.Helper()
	var reg struct {
		Code string `json:"code"`
	}
	s.admin(http.MethodPut, "/v1/clients/"+id, map[string]string{"site": site, "lan": lan}, &reg)
	creds, err := agentlink.Enroll(ctx, s.url(), reg.Code, hc)
	require.NoError(t, err)
	a := &agent{id: id, site: site, store: afterhours.NewMemoryStore(), done: make(chan struct{})}
	require.NoError(t, agentlink.SaveCredentials(a.store, creds))
	// The agent starts from the server's profile, fetched once; the link
	// then long-polls for the next.
	p, err := afterhours.ParseProfile(fetchProfile(t, hc, creds))
	require.NoError(t, err)
	require.Equal(t, zone, p.Site.Location().String())
	// The executor's notices go through the link's outbox to the server.
	notices := agentlink.NewNotifier(a.store)
	a.exec, err = afterhours.NewExecutor(p, afterhours.WithClock(clk.view(precise)),
		afterhours.WithStore(a.store), afterhours.WithLogger(quietLog()), afterhours.WithNotifier(notices))
	require.NoError(t, err)
	a.link, err = agentlink.New(a.exec, a.store, creds, agentlink.WithHTTPClient(hc),
		agentlink.WithClock(clk.view(loose)), agentlink.WithLogger(quietLog()), agentlink.WithNotices(notices))
	require.NoError(t, err)
	return a
}

// start runs the executor and the link until ctx ends.
func (a *agent) start(ctx context.Context) {
	linkDone := make(chan struct{})
	go func() {
		defer close(linkDone)
		a.linkErr = a.link.Run(ctx)
	}()
	go func() {
		defer close(a.done)
		a.runErr = a.exec.Run(ctx)
		<-linkDone
	}()
}

// fetchProfile gets the client's profile with its token.
func fetchProfile(t *testing.T, hc *http.Client, creds agentlink.Credentials) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, creds.Server+"/v1/agent/clients/"+creds.Client+"/profile", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+creds.Token)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", data)
	return data
}
