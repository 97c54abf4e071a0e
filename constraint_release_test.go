package afterhours_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// recorder is a Releaser that records its checks and releases.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Check(_ context.Context, c afterhours.Check) afterhours.Verdict {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, "check "+c.Task.Name)
	return afterhours.Allowed()
}
func (r *recorder) Release(_ context.Context, c afterhours.Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, "release "+c.Task.Name)
}
func (r *recorder) entries() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

// A Releaser's allowance is released at once when a constraint after it
// asks to wait, and once more after the run it finally allowed ends: every
// Check that allowed has one Release.
func TestReleaserReleasedWhenALaterConstraintWaits(t *testing.T) {
	var p afterhours.Profile
	require.NoError(t, json.Unmarshal([]byte(`{"client": "c", "site": {"timezone": "UTC"},
	  "housekeeping": [{"name": "vacuum", "estimate": "10m"}]}`), &p))
	ran := make(chan struct{})
	p.Housekeeping[0].Action = afterhours.ActionFunc(func(context.Context) error { close(ran); return nil })
	require.NoError(t, p.Validate())
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	rec := &recorder{}
	var mu sync.Mutex
	busy := true
	disk := afterhours.ConstraintFunc("disk", func(context.Context, afterhours.Check) afterhours.Verdict {
		mu.Lock()
		defer mu.Unlock()
		if busy {
			return afterhours.WaitFor("disk busy")
		}
		return afterhours.Allowed()
	})
	e, err := afterhours.NewExecutor(&p, afterhours.WithClock(clk), afterhours.WithConstraints(rec, disk))
	require.NoError(t, err)
	events, unsubscribe := e.Subscribe()
	defer unsubscribe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	for ev := range events {
		if ev.Kind == afterhours.EventHeld && ev.Task == "vacuum" {
			break
		}
	}
	require.Eventually(t, func() bool { return len(rec.entries()) == 2 }, 10*time.Second, time.Millisecond)
	require.Equal(t, []string{"check vacuum", "release vacuum"}, rec.entries())
	mu.Lock()
	busy = false
	mu.Unlock()
	clk.Add(30 * time.Second)
	<-ran
	for ev := range events {
		if ev.Kind == afterhours.EventFinished && ev.Task == "vacuum" {
			break
		}
	}
	require.Eventually(t, func() bool { return len(rec.entries()) == 4 }, 10*time.Second, time.Millisecond)
	require.Equal(t, []string{"check vacuum", "release vacuum", "check vacuum", "release vacuum"}, rec.entries())
	cancel()
	require.NoError(t, <-done)
}

// A run the killswitch stops has its allowance released when it ends;
// the step after it, which the kill defers, is never checked.
func TestReleaserReleasedOnKill(t *testing.T) {
	var p afterhours.Profile
	require.NoError(t, json.Unmarshal([]byte(`{"client": "c", "site": {"timezone": "UTC"},
	  "housekeeping": [{"name": "first", "estimate": "10m"}, {"name": "second", "estimate": "10m"}]}`), &p))
	started, stop := make(chan struct{}), make(chan struct{})
	p.Housekeeping[0].Action = afterhours.ActionFunc(func(ctx context.Context) error {
		close(started)
		select {
		case <-stop:
		case <-ctx.Done():
		}
		return ctx.Err()
	})
	p.Housekeeping[1].Action = afterhours.ActionFunc(func(context.Context) error { return nil })
	require.NoError(t, p.Validate())
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC))
	rec := &recorder{}
	e, err := afterhours.NewExecutor(&p, afterhours.WithClock(clk), afterhours.WithConstraints(rec))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	<-started
	e.Kill("freeze")
	close(stop)
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, []string{"check first", "release first"}, rec.entries(), "the killed run's allowance released when it ended")
}
