package agentlink

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

// brokenConfig is fleetConfig with a housekeeping task that fails, open
// every weekday, so that Monday night's window ends on Tuesday at 08:00.
const brokenConfig = `{
  "sites": [
    {"name": "leeds", "timezone": "Europe/London", "tags": ["uk", "retail"],
     "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
       "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]}}
  ],
  "sets": [
    {"name": "base", "tags": [],
     "housekeeping": [{"name": "broken", "run": ["/bin/false"], "estimate": "2m"}]}
  ]
}`

// noticeServer is a real server whose Notifier records what it is given,
// delivering (Handler.Run) while the test runs, behind a switch that makes
// it unreachable; it counts the notices posted to it.
type noticeServer struct {
	*fleet
	mu  sync.Mutex
	got []server.Notice
	// posts counts the notices posted while up, refused those posted
	// while down.
	posts, refused atomic.Int64
}

func newNoticeServer(t *testing.T) *noticeServer {
	t.Helper()
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	ns := &noticeServer{}
	h, err := server.New(server.NewMemStore(), server.WithClock(clk),
		server.WithNotifier(server.NotifierFunc(func(_ context.Context, n server.Notice) error {
			ns.mu.Lock()
			defer ns.mu.Unlock()
			ns.got = append(ns.got, n)
			return nil
		})))
	require.NoError(t, err)
	fl := &fleet{t: t, f: h.Fleet()}
	ns.fleet = fl
	require.NoError(t, fl.f.SetConfig([]byte(brokenConfig)))
	codes, err := fl.f.Register(server.Client{ID: "leeds-1", Site: "leeds"})
	require.NoError(t, err)
	fl.code = codes[0]
	fl.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isNotice := strings.HasSuffix(r.URL.Path, "/notices")
		if fl.down.Load() {
			if isNotice {
				ns.refused.Add(1)
			}
			panic(http.ErrAbortHandler)
		}
		if isNotice {
			ns.posts.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(fl.srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ns
}

func (ns *noticeServer) notices() []server.Notice {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return append([]server.Notice(nil), ns.got...)
}

// TestLinkNotices: a failing housekeeping task's window notice waits in
// the outbox while the server is down, survives a restart of the link,
// reaches the server's Notifier once the server is reachable, and is not
// sent again by a later link.
func TestLinkNotices(t *testing.T) {
	ns := newNoticeServer(t)
	creds, err := Enroll(context.Background(), ns.srv.URL, ns.code, nil)
	require.NoError(t, err)
	data, _, err := ns.f.Profile("leeds-1")
	require.NoError(t, err)
	p, err := afterhours.ParseProfile(data)
	require.NoError(t, err)

	store := afterhours.NewMemoryStore()
	n := NewNotifier(store)
	// Monday 23 November 2026, 19:00 in London: in the night's window.
	eclk := clock.NewMock()
	eclk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	exec, err := afterhours.NewExecutor(p, afterhours.WithClock(eclk), afterhours.WithStore(store), afterhours.WithNotifier(n))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { exec.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { eclk.Add(time.Second); return len(exec.Status().Failed) == 1 }, 10*time.Second, 10*time.Millisecond)

	// The server is down when the window ends (Tuesday 08:00 in London).
	ns.down.Store(true)
	l1, err := New(exec, store, creds, WithLogger(quiet()), WithClock(clock.NewMock()), WithNotices(n))
	require.NoError(t, err)
	stop1 := running(t, l1)
	eclk.Set(time.Date(2026, 11, 24, 8, 0, 30, 0, time.UTC))
	require.Eventually(t, func() bool {
		eclk.Add(time.Second)
		pending, err := n.Pending()
		require.NoError(t, err)
		return len(pending) == 1
	}, 10*time.Second, 10*time.Millisecond)
	// Once the server refused the post, the link waits on its clock, which
	// never moves: no post of it is in flight when the link stops.
	require.Eventually(t, func() bool { return ns.refused.Load() > 0 }, 10*time.Second, time.Millisecond)
	require.ErrorIs(t, stop1(), context.Canceled)
	require.Empty(t, ns.notices())

	// The agent restarts: a new Notifier over the same store has the notice.
	n2 := NewNotifier(store)
	pending, err := n2.Pending()
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Regexp(t, `^leeds-1\.2026-11-23\.failures\.window\.[0-9a-f]{8}-1$`, pending[0].ID)
	ns.down.Store(false)
	l2, err := New(exec, store, creds, WithLogger(quiet()), WithClock(clock.NewMock()), WithNotices(n2))
	require.NoError(t, err)
	stop2 := running(t, l2)
	require.Eventually(t, func() bool { return len(ns.notices()) == 1 }, 10*time.Second, time.Millisecond)
	got := ns.notices()[0]
	require.Equal(t, server.NoticeFailures, got.Kind)
	require.Equal(t, "leeds-1", got.Client)
	require.Equal(t, "leeds", got.Site)
	require.Equal(t, "2026-11-23", got.Day)
	require.False(t, got.CycleEnd)
	require.Len(t, got.Failed, 1)
	require.Equal(t, "broken", got.Failed[0].Task)
	require.Equal(t, 1, got.Failed[0].ExitCode)
	require.Eventually(t, func() bool {
		pending, err := n2.Pending()
		require.NoError(t, err)
		return len(pending) == 0
	}, 10*time.Second, time.Millisecond, "the outbox is emptied once the server took the notice")
	require.ErrorIs(t, stop2(), context.Canceled)

	// A later link sends nothing twice: the next notice, a kill, is the
	// next the server gets, and the second post it had.
	l3, err := New(exec, store, creds, WithLogger(quiet()), WithClock(clock.NewMock()), WithNotices(n))
	require.NoError(t, err)
	running(t, l3)
	exec.Kill("incident")
	require.Eventually(t, func() bool { return len(ns.notices()) == 2 }, 10*time.Second, time.Millisecond)
	got = ns.notices()[1]
	require.Equal(t, server.NoticeKilled, got.Kind)
	require.Equal(t, "incident", got.Reason)
	require.Equal(t, int64(2), ns.posts.Load())
	stored, err := ns.f.Notices()
	require.NoError(t, err)
	require.Len(t, stored, 2)
}

// TestNotifierIDs: each notice has an ID of its own, kept across a new
// Notifier over the same store.
func TestNotifierIDs(t *testing.T) {
	store := afterhours.NewMemoryStore()
	n := NewNotifier(store)
	at := time.Date(2026, 11, 24, 8, 0, 0, 0, time.FixedZone("BST", 3600))
	failed := []afterhours.Record{{Task: "backup", Kind: afterhours.Housekeeping, State: afterhours.StateFailed, Error: "exit status 2", ExitCode: 2}}
	require.NoError(t, n.Notify(context.Background(), afterhours.Notice{Kind: afterhours.NoticeFailures, Client: "leeds-1", Day: "2026-11-23", At: at, Failed: failed}))
	require.NoError(t, n.Notify(context.Background(), afterhours.Notice{Kind: afterhours.NoticeFailures, Client: "leeds-1", Day: "2026-11-23", At: at, Failed: failed, CycleEnd: true}))
	n2 := NewNotifier(store)
	require.NoError(t, n2.Notify(context.Background(), afterhours.Notice{Kind: afterhours.NoticeKilled, Client: "leeds-1", Day: "2026-11-23", At: at, Reason: "incident"}))
	pending, err := n2.Pending()
	require.NoError(t, err)
	var ids []string
	for _, p := range pending {
		ids = append(ids, p.ID)
	}
	require.Regexp(t, `^leeds-1\.2026-11-23\.failures\.window\.[0-9a-f]{8}-1$`, ids[0])
	epoch := ids[0][len(ids[0])-10 : len(ids[0])-2]
	require.Equal(t, []string{"leeds-1.2026-11-23.failures.window." + epoch + "-1", "leeds-1.2026-11-23.failures.cycle-end." + epoch + "-2",
		"leeds-1.2026-11-23.killed.now." + epoch + "-3"}, ids, "the epoch is kept with the outbox")
	other := NewNotifier(afterhours.NewMemoryStore())
	require.NoError(t, other.Notify(context.Background(), afterhours.Notice{Kind: afterhours.NoticeFailures, Client: "leeds-1", Day: "2026-11-23", At: at, Failed: failed}))
	reinstalled, err := other.Pending()
	require.NoError(t, err)
	require.NotEqual(t, ids[0], reinstalled[0].ID, "a new outbox (an agent installed again) has an epoch of its own")
	require.Equal(t, time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC), pending[0].At)
	require.Equal(t, []server.FailedRun{{Task: "backup", Kind: afterhours.Housekeeping, Error: "exit status 2", ExitCode: 2}}, pending[0].Failed)
	require.True(t, pending[1].CycleEnd)

	// Each is a notice the server accepts.
	for _, p := range pending {
		data, err := json.Marshal(p)
		require.NoError(t, err)
		_, err = server.ParseNotice(data)
		require.NoError(t, err, "%s", data)
	}
}

// TestLinkNoticeRefused: a notice the server refuses (400) is dropped
// from the outbox, and the next one goes out; the outbox is kept in a
// FileStore across a new Notifier.
func TestLinkNoticeRefused(t *testing.T) {
	ns := newNoticeServer(t)
	creds, err := Enroll(context.Background(), ns.srv.URL, ns.code, nil)
	require.NoError(t, err)
	store, err := afterhours.OpenFileStore(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	// A failures notice without failed runs, which the server refuses,
	// then a good one.
	require.NoError(t, store.Save(NoticesKey, []byte(`{"seq": 2, "pending": [
	  {"id": "leeds-1.2026-11-23.failures.window.1", "kind": "failures", "day": "2026-11-23"},
	  {"id": "leeds-1.2026-11-23.killed.now.2", "kind": "killed", "day": "2026-11-23", "reason": "incident"}]}`)))
	n := NewNotifier(store)
	l, err := New(newExecutor(t, []byte(localProfile)), store, creds, WithLogger(quiet()), WithClock(clock.NewMock()), WithNotices(n))
	require.NoError(t, err)
	running(t, l)
	require.Eventually(t, func() bool { return len(ns.notices()) == 1 }, 10*time.Second, time.Millisecond)
	require.Equal(t, "leeds-1.2026-11-23.killed.now.2", ns.notices()[0].ID)
	require.Eventually(t, func() bool {
		pending, err := NewNotifier(store).Pending()
		require.NoError(t, err)
		return len(pending) == 0
	}, 10*time.Second, time.Millisecond)
	require.Equal(t, int64(2), ns.posts.Load())
}
