package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/stretchr/testify/require"
)

// windowNotice is a failures notice of leeds-1 at its window's end.
func windowNotice(id string) Notice {
	return Notice{ID: id, Kind: NoticeFailures, Day: "2026-11-23", At: time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC),
		Failed: []FailedRun{{Task: "backup", Kind: afterhours.Housekeeping, Error: "exit status 2", ExitCode: 2}}}
}

// recorder is a Notifier that fails while fails > 0 (counting down), and
// records the notices it took.
type recorder struct {
	mu    sync.Mutex
	fails int
	calls int
	got   []Notice
}

func (r *recorder) Notify(_ context.Context, n Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fails > 0 {
		r.fails--
		return errors.New("receiver down")
	}
	r.got = append(r.got, n)
	return nil
}

func (r *recorder) taken() []Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notice(nil), r.got...)
}

// delivering runs f.DeliverNotices(n) until the test's end.
func delivering(t *testing.T, f *Fleet, n Notifier) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.DeliverNotices(ctx, n) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.ErrorIs(t, <-done, context.Canceled)
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestPutNoticeOncePerID(t *testing.T) {
	o := newOpsFleet(t)
	f := o.h.Fleet()
	stored, err := f.PutNotice("leeds-1", windowNotice("w1"))
	require.NoError(t, err)
	require.True(t, stored)
	o.clk.Add(time.Minute)
	stored, err = f.PutNotice("leeds-1", windowNotice("w1"))
	require.NoError(t, err)
	require.False(t, stored, "a repeat of an ID is not stored again")
	// The same ID from another client is another notice.
	stored, err = f.PutNotice("leeds-2", windowNotice("w1"))
	require.NoError(t, err)
	require.True(t, stored)
	_, err = f.PutNotice("nobody", windowNotice("w1"))
	require.ErrorIs(t, err, ErrNoClient)

	o.restart()
	f = o.h.Fleet()
	stored, err = f.PutNotice("leeds-1", windowNotice("w1"))
	require.NoError(t, err)
	require.False(t, stored, "the IDs survive a restart")
	ns, err := f.Notices()
	require.NoError(t, err)
	require.Len(t, ns, 2)
	require.Equal(t, "leeds-1", ns[0].Client)
	require.Equal(t, "leeds", ns[0].Site)
	require.Equal(t, time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), ns[0].Received)
	require.Equal(t, "leeds-2", ns[1].Client)
	require.True(t, ns[1].Delivered.IsZero())
}

func TestDeliverNoticesRetries(t *testing.T) {
	o := newOpsFleet(t)
	f := o.h.Fleet()
	for _, id := range []string{"a", "b"} {
		_, err := f.PutNotice("leeds-1", windowNotice(id))
		require.NoError(t, err)
	}
	_, err := f.PutNotice("austin-1", windowNotice("c"))
	require.NoError(t, err)

	rec := &recorder{fails: 2}
	start := o.clk.Now()
	stop := delivering(t, f, rec)
	// First pass: leeds-1's "a" fails (holding "b"), austin-1's "c" fails.
	// The retry waits 0.5-1s on the fleet's clock; the second pass
	// delivers all, leeds-1's in order.
	require.Eventually(t, func() bool {
		o.clk.Add(100 * time.Millisecond)
		return len(rec.taken()) == 3
	}, 10*time.Second, time.Millisecond)
	stop()
	elapsed := o.clk.Now().Sub(start)
	require.GreaterOrEqual(t, elapsed, 500*time.Millisecond, "the backoff's first wait")
	var ids []string
	for _, n := range rec.taken() {
		ids = append(ids, n.Client+"/"+n.ID)
	}
	require.Equal(t, []string{"leeds-1/a", "leeds-1/b", "austin-1/c"}, ids)
	require.Equal(t, 5, rec.calls, "a and c failed once each; b waited for a")

	ns, err := f.Notices()
	require.NoError(t, err)
	for _, n := range ns {
		require.False(t, n.Delivered.IsZero(), n.ID)
		require.Empty(t, n.LastError)
	}
	require.Equal(t, 2, ns[0].Attempts)
	require.Equal(t, 1, ns[1].Attempts)

	// A restart delivers none of them again; a new notice goes out alone.
	o.restart()
	f = o.h.Fleet()
	rec2 := &recorder{}
	delivering(t, f, rec2)
	_, err = f.PutNotice("leeds-2", windowNotice("d"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(rec2.taken()) == 1 }, 10*time.Second, time.Millisecond)
	require.Equal(t, "d", rec2.taken()[0].ID)
}

func TestDeliverNoticesRecordsFailure(t *testing.T) {
	o := newOpsFleet(t)
	f := o.h.Fleet()
	_, err := f.PutNotice("leeds-1", windowNotice("a"))
	require.NoError(t, err)
	rec := &recorder{fails: 1000}
	delivering(t, f, rec)
	require.Eventually(t, func() bool {
		ns, err := f.Notices()
		require.NoError(t, err)
		return ns[0].Attempts >= 1
	}, 10*time.Second, time.Millisecond)
	ns, err := f.Notices()
	require.NoError(t, err)
	require.Equal(t, "receiver down", ns[0].LastError)
	require.True(t, ns[0].Delivered.IsZero())
}

func TestNoticesPruned(t *testing.T) {
	clk := fixedClock()
	f, err := OpenFleet(NewMemStore(), WithClock(clk))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.NoError(t, f.SetConfig([]byte(testConfig)))
	_, err = f.Register(Client{ID: "leeds-1", Site: "leeds"}, Client{ID: "leeds-2", Site: "leeds"})
	require.NoError(t, err)
	_, err = f.PutNotice("leeds-1", windowNotice("old-undelivered"))
	require.NoError(t, err)
	_, err = f.PutNotice("leeds-1", windowNotice("old-delivered"))
	require.NoError(t, err)
	// Mark the second delivered, as a delivery does.
	require.NoError(t, f.store.Update(func(tx Tx) error {
		seq := fmt.Sprintf("%020d", 1)
		if err := tx.Delete(noticesPrefix + seq); err != nil {
			return err
		}
		return tx.Put(deliveredPrefix+seq, []byte(`{"id": "old-delivered", "kind": "failures", "client": "leeds-1",
			"received": "2026-11-02T12:00:00Z", "delivered": "2026-11-02T12:00:01Z"}`))
	}))
	clk.Add(KeepNoticesFor + time.Hour)
	_, err = f.PutNotice("leeds-1", windowNotice("new"))
	require.NoError(t, err)
	ns, err := f.Notices()
	require.NoError(t, err)
	var ids []string
	for _, n := range ns {
		ids = append(ids, n.ID)
	}
	require.Equal(t, []string{"old-undelivered", "new"}, ids, "a delivered notice over 30 days old goes; an undelivered one stays")
	// Its ID was forgotten with it: the agent's repeat is taken as new.
	stored, err := f.PutNotice("leeds-1", windowNotice("old-delivered"))
	require.NoError(t, err)
	require.True(t, stored)

	// Over KeepNotices, the oldest delivered go.
	rec := &recorder{}
	stop := delivering(t, f, rec)
	for i := range KeepNotices {
		_, err := f.PutNotice("leeds-2", windowNotice(fmt.Sprint("bulk-", i)))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(rec.taken()) == KeepNotices+3 }, 30*time.Second, time.Millisecond)
	stop()
	_, err = f.PutNotice("leeds-2", windowNotice("last"))
	require.NoError(t, err)
	ns, err = f.Notices()
	require.NoError(t, err)
	require.Equal(t, KeepNotices+1, len(ns), "the last KeepNotices delivered, and the new one")
	require.True(t, ns[len(ns)-1].Delivered.IsZero())
	require.Equal(t, "bulk-0", ns[0].ID, "the three delivered before the bulk went")
	require.Equal(t, "last", ns[len(ns)-1].ID)
}

func TestNoticeSummary(t *testing.T) {
	n := windowNotice("a")
	n.Client, n.Site = "leeds-1", "leeds"
	require.Equal(t, "leeds-1 (leeds), cycle 2026-11-23: 1 failed at the window's end: backup (exit status 2)", n.Summary())
	n.CycleEnd = true
	require.Equal(t, "leeds-1 (leeds), cycle 2026-11-23: 1 failed at the cycle's end: backup (exit status 2)", n.Summary())
	k := Notice{Kind: NoticeKilled, Client: "leeds-2", Reason: "incident"}
	require.Equal(t, "leeds-2: killswitch on (incident), 0 runs ended", k.Summary())
	s := Notice{Kind: NoticeStopped, Client: "leeds-2", Day: "2026-11-23", Reason: "migrate",
		Failed: []FailedRun{{Task: "migrate"}, {Task: "a"}, {Task: "b"}, {Task: "c"}, {Task: "d"}, {Task: "e"}, {Task: "f"}}}
	require.Equal(t, "leeds-2, cycle 2026-11-23: stopped by the failure of migrate: migrate, a, b, c, d, and 2 more", s.Summary())
}

// BenchmarkPutNotice stores a notice in a fleet that keeps KeepNotices
// delivered ones, which each put prunes.
func BenchmarkPutNotice(b *testing.B) {
	for _, kind := range []string{"mem", "bolt"} {
		b.Run("store="+kind+"/delivered=1000", func(b *testing.B) {
			var store Store = NewMemStore()
			if kind == "bolt" {
				s, err := OpenBoltStore(b.TempDir() + "/fleet.db")
				require.NoError(b, err)
				b.Cleanup(func() { s.Close() })
				store = s
			}
			f := testFleet(b, store, testConfig)
			_, err := f.Register(Client{ID: "leeds-1", Site: "leeds"})
			require.NoError(b, err)
			require.NoError(b, store.Update(func(tx Tx) error {
				for i := range KeepNotices {
					data := fmt.Sprintf(`{"id": "old-%d", "kind": "failures", "client": "leeds-1",
						"received": "2026-11-02T12:00:00Z", "delivered": "2026-11-02T12:00:01Z"}`, i)
					if err := tx.Put(fmt.Sprintf("%s%020d", deliveredPrefix, i), []byte(data)); err != nil {
						return err
					}
				}
				return tx.Put(noticeNextKey, []byte(fmt.Sprint(KeepNotices)))
			}))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := f.PutNotice("leeds-1", windowNotice(fmt.Sprint("n-", i))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
