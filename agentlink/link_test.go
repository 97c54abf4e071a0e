package agentlink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/server"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

const fleetConfig = `{
  "sites": [
    {"name": "leeds", "timezone": "Europe/London", "tags": ["uk", "retail"],
     "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
       "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]}}
  ],
  "sets": [
    {"name": "base", "tags": [],
     "housekeeping": [{"name": "rotate-logs", "run": ["/usr/sbin/logrotate"], "estimate": "2m"}]}
  ]
}`

// localProfile is the profile the agent starts with, before the server's:
// a site without tags.
const localProfile = `{"client": "leeds-1",
  "site": {"timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"]}}}`

// fleet is a real server over a memory store, behind a switch that makes
// it unreachable (connections aborted) while down.
type fleet struct {
	t       *testing.T
	f       *server.Fleet
	srv     *httptest.Server
	down    atomic.Bool
	aborted atomic.Int64
	code    string
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	clk := clock.NewMock() // the server's clock never moves: long-polls wait for a change
	clk.Set(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	h, err := server.New(server.NewMemStore(), server.WithClock(clk))
	require.NoError(t, err)
	fl := &fleet{t: t, f: h.Fleet()}
	require.NoError(t, fl.f.SetConfig([]byte(fleetConfig)))
	codes, err := fl.f.Register(server.Client{ID: "leeds-1", Site: "leeds"})
	require.NoError(t, err)
	fl.code = codes[0]
	fl.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fl.down.Load() {
			fl.aborted.Add(1)
			panic(http.ErrAbortHandler) // the connection drops: a network error
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(fl.srv.Close)
	return fl
}

// state returns the server's record of the client's command id.
func (fl *fleet) state(id string) server.QueuedCommand {
	cmds, err := fl.f.Commands("leeds-1", false)
	require.NoError(fl.t, err)
	for _, c := range cmds {
		if c.ID == id {
			return c
		}
	}
	return server.QueuedCommand{}
}

func newExecutor(t *testing.T, profile []byte) *afterhours.Executor {
	t.Helper()
	p, err := afterhours.ParseProfile(profile)
	require.NoError(t, err)
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	e, err := afterhours.NewExecutor(p, afterhours.WithClock(clk))
	require.NoError(t, err)
	return e
}

// running starts l.Run and stops it at the test's end.
func running(t *testing.T, l *Link) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		once sync.Once
		err  error
	)
	done := make(chan struct{})
	go func() { err = l.Run(ctx); close(done) }()
	stop = func() error {
		once.Do(func() { cancel(); <-done })
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// probes numbers the probe commands of accepts.
var probes atomic.Int64

// accepts reports whether exec takes a command for tags now (a probe with
// a fresh id, which it queues when it does).
func accepts(exec *afterhours.Executor, tags ...string) bool {
	id := fmt.Sprintf("probe-%d", probes.Add(1))
	err := exec.Submit(afterhours.Command{ID: id, Run: []string{"/bin/true"}, Tags: tags})
	return err == nil
}

func TestEnrollAndCredentials(t *testing.T) {
	fl := newFleet(t)
	creds, err := Enroll(context.Background(), fl.srv.URL+"/", fl.code, nil)
	require.NoError(t, err)
	require.Equal(t, "leeds-1", creds.Client)
	require.Equal(t, fl.srv.URL, creds.Server)
	require.NotEmpty(t, creds.Token)

	_, err = Enroll(context.Background(), fl.srv.URL, fl.code, nil)
	require.ErrorContains(t, err, "401", "a code is used once")

	store := afterhours.NewMemoryStore()
	_, err = LoadCredentials(store)
	require.ErrorIs(t, err, ErrNoCredentials)
	require.NoError(t, SaveCredentials(store, creds))
	got, err := LoadCredentials(store)
	require.NoError(t, err)
	require.Equal(t, creds, got)
}

func TestLinkProfilesAndCommands(t *testing.T) {
	fl := newFleet(t)
	creds, err := Enroll(context.Background(), fl.srv.URL, fl.code, nil)
	require.NoError(t, err)
	exec := newExecutor(t, []byte(localProfile))
	require.False(t, accepts(exec, "retail"), "the local profile's site has no tags")

	store := afterhours.NewMemoryStore()
	l, err := New(exec, store, creds, WithLogger(quiet()), WithClock(clock.NewMock()))
	require.NoError(t, err)
	running(t, l)

	// The server's profile is applied: its site is tagged retail.
	require.Eventually(t, func() bool { return accepts(exec, "retail") }, 10*time.Second, 5*time.Millisecond)
	// Saved right after it is applied.
	var p *afterhours.Profile
	require.Eventually(t, func() bool { p, err = LastProfile(store); return err == nil }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, []string{"uk", "retail"}, p.Site.Tags)

	// A new profile arrives through the long-poll.
	require.NoError(t, fl.f.SetConfig([]byte(strings.Replace(fleetConfig, `"retail"]`, `"retail", "north"]`, 1))))
	require.Eventually(t, func() bool { return accepts(exec, "north") }, 10*time.Second, 5*time.Millisecond)

	// A queued command is submitted once and acked accepted.
	_, _, err = fl.f.Queue(server.NewCommand{ID: "fix-1", Run: []string{"/bin/true"}, Clients: []string{"leeds-1"}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return fl.state("fix-1").State == server.CommandAccepted }, 10*time.Second, 5*time.Millisecond)
	n := 0
	for _, c := range exec.Status().Queued {
		if c.ID == "fix-1" {
			n++
		}
	}
	require.Equal(t, 1, n)

	// While killed, a command is refused "killed".
	exec.Kill("incident")
	_, _, err = fl.f.Queue(server.NewCommand{ID: "fix-2", Run: []string{"/bin/true"}, Clients: []string{"leeds-1"}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return fl.state("fix-2").State == server.CommandRefused }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, "killed", fl.state("fix-2").Reason)
}

func TestLinkDuplicateCommandAcceptedAgain(t *testing.T) {
	// A crash after Submit and before the ack re-delivers the command: the
	// executor refuses it as a duplicate, and the link acks it accepted.
	fl := newFleet(t)
	creds, err := Enroll(context.Background(), fl.srv.URL, fl.code, nil)
	require.NoError(t, err)
	exec := newExecutor(t, []byte(localProfile))
	require.NoError(t, exec.Submit(afterhours.Command{ID: "fix-1", Run: []string{"/bin/true"}}))
	_, _, err = fl.f.Queue(server.NewCommand{ID: "fix-1", Run: []string{"/bin/true"}, Clients: []string{"leeds-1"}})
	require.NoError(t, err)
	l, err := New(exec, afterhours.NewMemoryStore(), creds, WithLogger(quiet()), WithClock(clock.NewMock()))
	require.NoError(t, err)
	running(t, l)
	require.Eventually(t, func() bool { return fl.state("fix-1").State == server.CommandAccepted }, 10*time.Second, 5*time.Millisecond)
	require.Len(t, exec.Status().Queued, 1)
}

func TestLinkServerDownThenBack(t *testing.T) {
	fl := newFleet(t)
	creds, err := Enroll(context.Background(), fl.srv.URL, fl.code, nil)
	require.NoError(t, err)
	exec := newExecutor(t, []byte(localProfile))
	store := afterhours.NewMemoryStore()
	clk := clock.NewMock()
	l, err := New(exec, store, creds, WithLogger(quiet()), WithClock(clk), withRand(rand.New(rand.NewPCG(1, 2))))
	require.NoError(t, err)

	fl.down.Store(true)
	running(t, l)
	// Both loops fail, wait their backoff on the link's clock, and retry.
	require.Eventually(t, func() bool { clk.Add(time.Second); return fl.aborted.Load() >= 6 }, 10*time.Second, 5*time.Millisecond)
	require.False(t, accepts(exec, "retail"), "the executor keeps its profile while the server is down")

	fl.down.Store(false)
	require.Eventually(t, func() bool { clk.Add(time.Minute); return accepts(exec, "retail") }, 10*time.Second, 5*time.Millisecond)
}

func TestLinkRestartsOfflineFromStoredProfile(t *testing.T) {
	fl := newFleet(t)
	creds, err := Enroll(context.Background(), fl.srv.URL, fl.code, nil)
	require.NoError(t, err)
	store := afterhours.NewMemoryStore()
	_, err = LastProfile(store)
	require.True(t, errors.Is(err, errNotExist()), "no profile before the first")

	exec := newExecutor(t, []byte(localProfile))
	l, err := New(exec, store, creds, WithLogger(quiet()), WithClock(clock.NewMock()))
	require.NoError(t, err)
	stop := running(t, l)
	require.Eventually(t, func() bool { _, err := LastProfile(store); return err == nil }, 10*time.Second, 5*time.Millisecond)
	require.ErrorIs(t, stop(), context.Canceled)

	// The agent restarts with the server unreachable: it runs from the
	// stored profile, and its link keeps retrying without harm.
	fl.down.Store(true)
	p, err := LastProfile(store)
	require.NoError(t, err)
	exec2, err := afterhours.NewExecutor(p)
	require.NoError(t, err)
	require.True(t, accepts(exec2, "retail"))
	clk := clock.NewMock()
	l2, err := New(exec2, store, creds, WithLogger(quiet()), WithClock(clk))
	require.NoError(t, err)
	running(t, l2)
	require.Eventually(t, func() bool { clk.Add(time.Minute); return fl.aborted.Load() >= 2 }, 10*time.Second, 5*time.Millisecond)
	require.True(t, slices.Equal([]string{"uk", "retail"}, p.Site.Tags))
}

func TestLinkBadTokenStopsLoopsNotExecutor(t *testing.T) {
	fl := newFleet(t)
	creds, err := Enroll(context.Background(), fl.srv.URL, fl.code, nil)
	require.NoError(t, err)
	creds.Token = "wrong"
	exec := newExecutor(t, []byte(localProfile))
	l, err := New(exec, afterhours.NewMemoryStore(), creds, WithLogger(quiet()), WithClock(clock.NewMock()))
	require.NoError(t, err)
	err = l.Run(context.Background())
	require.ErrorIs(t, err, ErrUnauthorized)
	require.True(t, accepts(exec), "the executor still takes commands")
}

func errNotExist() error { return fs.ErrNotExist }
