package agentlink

import (
	"context"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// lastReport returns the server's last report of leeds-1, or nil.
func (fl *fleet) lastReport() *afterhoursReport {
	st, err := fl.f.Status()
	require.NoError(fl.t, err)
	for _, s := range st {
		if s.Client == "leeds-1" && s.Last != nil {
			return &afterhoursReport{Cycle: s.Last.Cycle, Seq: s.Last.Seq, Killed: s.Last.Killed}
		}
	}
	return nil
}

// afterhoursReport is what the tests check of a stored report.
type afterhoursReport struct {
	Cycle  string
	Seq    int64
	Killed bool
}

func TestLinkReportsKill(t *testing.T) {
	fl, creds, exec := runningAgent(t)

	store := afterhours.NewMemoryStore()
	l, err := New(exec, store, creds, WithLogger(quiet()), WithClock(clock.NewMock()))
	require.NoError(t, err)
	running(t, l)
	exec.Kill("incident")
	require.Eventually(t, func() bool { r := fl.lastReport(); return r != nil && r.Killed }, 10*time.Second, 5*time.Millisecond)
	r := fl.lastReport()
	require.Equal(t, "2026-11-23", r.Cycle)
	require.Equal(t, int64(1), r.Seq)

	exec.Resume()
	require.Eventually(t, func() bool { r := fl.lastReport(); return r != nil && !r.Killed }, 10*time.Second, 5*time.Millisecond)
	require.Greater(t, fl.lastReport().Seq, int64(1), "seq increases per cycle")
}

func TestLinkReportsFailure(t *testing.T) {
	fl := newFleet(t)
	creds, err := Enroll(context.Background(), fl.srv.URL, fl.code, nil)
	require.NoError(t, err)
	p, err := afterhours.ParseProfile([]byte(`{"client": "leeds-1",
	  "site": {"timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"]}},
	  "housekeeping": [{"name": "broken", "run": ["/bin/false"], "estimate": "2m"}]}`))
	require.NoError(t, err)
	eclk := clock.NewMock()
	eclk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	exec, err := afterhours.NewExecutor(p, afterhours.WithClock(eclk))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { exec.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	// The run fails before the link starts (else the server's profile,
	// which lacks "broken", could replace the local one first).
	require.Eventually(t, func() bool { eclk.Add(time.Second); return len(exec.Status().Failed) == 1 }, 10*time.Second, 10*time.Millisecond)
	l, err := New(exec, afterhours.NewMemoryStore(), creds, WithLogger(quiet()), WithClock(clock.NewMock()))
	require.NoError(t, err)
	running(t, l)

	failed := func() bool {
		st, err := fl.f.Status()
		require.NoError(t, err)
		if len(st) != 1 || st[0].Last == nil {
			return false
		}
		for _, f := range st[0].Last.Failed {
			if f.Task == "broken" && f.ExitCode == 1 {
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool { eclk.Add(time.Second); return failed() }, 10*time.Second, 10*time.Millisecond)
}

// runningAgent is a fleet with its client enrolled and an executor on the
// local profile running in the night's window (Monday 23 November 2026,
// 19:00 in London), so that it has a cycle to report; it stops with t.
func runningAgent(t *testing.T) (*fleet, Credentials, *afterhours.Executor) {
	t.Helper()
	fl := newFleet(t)
	creds, err := Enroll(context.Background(), fl.srv.URL, fl.code, nil)
	require.NoError(t, err)
	p, err := afterhours.ParseProfile([]byte(localProfile))
	require.NoError(t, err)
	eclk := clock.NewMock()
	eclk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	exec, err := afterhours.NewExecutor(p, afterhours.WithClock(eclk))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { exec.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return len(exec.Journal()) > 0 }, 10*time.Second, 5*time.Millisecond, "a cycle starts")
	return fl, creds, exec
}
