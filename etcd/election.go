package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours/server"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

var _ server.Leadership = (*Election)(nil)

// DefaultElectionTTL is a lease TTL for [NewElection]: a leader that dies
// is replaced within about this long.
const DefaultElectionTTL = 10 * time.Second

// Election elects one leader among the server replicas of a fleet, so that
// the work that must run once per fleet (allocation, the delivery of
// notices) runs on one replica. It implements [server.Leadership].
//
// Each replica campaigns with the base URL it advertises (the URL the
// others forward requests to) as the value, through etcd's
// concurrency.Election on a session whose lease has the election's TTL: the
// candidate whose key has the lowest creation revision leads, and the
// others learn its URL with Observe. The keys live under the fleet's prefix
// (prefix + "leader/"), beside those of the fleet's [Store].
//
// # Never two leaders
//
// A leader stops leading before its lease can have expired on the server,
// so that when another replica is elected (after the lease expired and its
// key went with it) the old one has already stopped, even if it never
// heard from etcd again. The session's Done channel is not enough for
// that: etcd's client closes it a TTL after the last keepalive answer
// arrived, which is later than a TTL after the keepalive was sent, and the
// server counts the TTL from when it renewed the lease, between the two.
// So the election renews the lease itself, a third of the TTL apart, notes
// when it sent each renewal that succeeded, and leads only until that
// instant plus the TTL less a tenth of the TTL (a margin for the rates of
// the two clocks and for scheduling): a leader cut off from etcd, or
// paused, stops leading on its own clock, at the latest 0.9 TTL after its
// last successful renewal was sent, while the server expires the lease a
// TTL after that at the earliest. The times are Go's monotonic readings,
// so a step of the wall clock changes nothing. When the renewals come back
// in time, it leads on; when etcd answers that the lease is gone, or the
// session ends, it campaigns again on a new session. A leader whose key is
// deleted by someone else (etcdctl lease revoke, or del) stops as soon as
// its watch reports it, which may come after another replica was elected:
// do not do that to a running fleet.
//
// Leadership cannot fence a request that was already decided on: a leader
// paused between its check and its write may write after it lost. The
// fleet's writes are transactions conditioned on the revision they read
// (see [Store]), which keeps the data right in that case too; the election
// keeps the work in one place.
//
// Close resigns (the next candidate leads at once) and revokes the lease.
// An Election is safe for concurrent use.
type Election struct {
	cli    *clientv3.Client
	prefix string // prefix + "leader": concurrency.NewElection adds the "/"
	url    string // advertised
	ttl    time.Duration
	log    *slog.Logger

	changed chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}

	mu        sync.Mutex
	closed    bool
	leading   bool      // the campaign of the current term won, and its key stands
	safeUntil time.Time // the lease cannot have expired on the server before then
	lapse     *time.Timer
	ownKey    string // the key of the current (or last) term's candidacy
	seenKey   string // the leader's key, as last observed
	seenURL   string // its value
	told      leaderState
}

// leaderState is what Leader reports.
type leaderState struct {
	self bool
	url  string
}

// NewElection starts campaigning for the leadership of the fleet whose keys
// are under prefix (the prefix of its [Store]; a "/" is added when it
// lacks one) in the cluster cli talks to, with advertiseURL, the base URL
// of this replica's HTTP API as the other replicas reach it (http or
// https, with a host). ttl is the lease's TTL, a whole number of seconds,
// at least 2 s (etcd does not grant less than about 1.5 s with its default
// timings): a leader that dies or is cut off is replaced within about ttl.
// log, when not nil, gets a line when this replica starts and stops
// leading, and the errors it retries on.
//
// The campaign runs until [Election.Close], through the losses of
// sessions and of etcd; the client stays the caller's.
func NewElection(cli *clientv3.Client, prefix, advertiseURL string, ttl time.Duration, log *slog.Logger) (*Election, error) {
	if cli == nil {
		return nil, errors.New("etcd: nil client")
	}
	if prefix == "" {
		return nil, errors.New("etcd: empty prefix: give the fleet its own prefix, such as /afterhours/")
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	u, err := url.Parse(advertiseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("etcd: advertised URL %q: want an http or https URL with a host", advertiseURL)
	}
	if ttl < 2*time.Second || ttl%time.Second != 0 {
		return nil, fmt.Errorf("etcd: lease TTL %v: want a whole number of seconds, 2s or more", ttl)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Election{
		cli: cli, prefix: prefix + "leader", url: advertiseURL, ttl: ttl, log: log,
		changed: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}),
	}
	go e.run(ctx)
	return e, nil
}

// Leader reports whether this replica leads now, and the base URL the
// leader advertised: this replica's own when it leads, "" when no leader is
// known (between leaders, or while this replica's candidacy is the first
// but its campaign has not yet won). A follower's view of the URL follows
// etcd through a watch, so it may name a leader that has just died until
// its lease expires.
func (e *Election) Leader() (self bool, leaderURL string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.stateLocked(time.Now())
	return s.self, s.url
}

// Changed returns the channel that receives a value after each change of
// what [Election.Leader] reports (it holds one value: changes that come
// while it is full merge). The value may come a moment after the change:
// Leader is exact when called. It is the same channel on every call, for
// one reader.
func (e *Election) Changed() <-chan struct{} { return e.changed }

// Close stops leading and campaigning: it resigns when it leads, so that
// the next candidate leads at once, and revokes the session's lease. It
// waits until that is done or has failed (bounded by the TTL when etcd
// cannot be reached); later calls do nothing. After Close, Leader reports
// (false, "").
func (e *Election) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	<-e.done
	e.refresh("closed")
	return nil
}

// stateLocked is what Leader reports at now.
func (e *Election) stateLocked(now time.Time) leaderState {
	switch {
	case e.closed:
		return leaderState{}
	case e.leading && now.Before(e.safeUntil):
		return leaderState{self: true, url: e.url}
	case e.seenKey == "" || e.seenKey == e.ownKey || e.seenURL == e.url:
		// This replica's own candidacy, of this term or of the last: it
		// does not lead (now), and a follower never names itself.
		return leaderState{}
	}
	return leaderState{url: e.seenURL}
}

// refresh signals Changed and logs when what Leader reports changed since
// it last did; why says what happened.
func (e *Election) refresh(why string) {
	e.mu.Lock()
	now := e.stateLocked(time.Now())
	was := e.told
	e.told = now
	e.mu.Unlock()
	if now == was {
		return
	}
	switch {
	case now.self && !was.self:
		e.log.Info("afterhours: leading the fleet's replicas", "url", e.url)
	case was.self && !now.self:
		e.log.Warn("afterhours: stopped leading the fleet's replicas", "why", why)
	}
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

// renewed notes a renewal of the lease sent at sent that the server
// answered with ttl seconds: the lease lives at least until sent + ttl.
func (e *Election) renewed(sent time.Time, ttl int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := time.Duration(ttl) * time.Second
	until := sent.Add(d - d/10)
	if until.Before(e.safeUntil) {
		return
	}
	e.safeUntil = until
	// Leader is exact without it; the timer is for Changed and the log.
	if e.lapse != nil {
		e.lapse.Stop()
	}
	e.lapse = time.AfterFunc(time.Until(until), func() { e.refresh("no lease renewal for 0.9 TTL") })
}

// run campaigns, term after term, until ctx is done.
func (e *Election) run(ctx context.Context) {
	defer close(e.done)
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		began := time.Now()
		err := e.term(ctx)
		if ctx.Err() != nil {
			break
		}
		if time.Since(began) > e.ttl {
			wait = 100 * time.Millisecond
		}
		e.log.Warn("afterhours: the leader election's session ended; campaigning again", "err", err, "in", wait)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, e.ttl)
	}
	e.mu.Lock()
	if e.lapse != nil {
		e.lapse.Stop()
	}
	e.mu.Unlock()
}

// errLeaseGone ends a term whose lease the server no longer has.
var errLeaseGone = errors.New("the lease expired or was revoked")

// term is one session: it takes a lease, campaigns on it, leads when it
// wins, and returns why it ended once the lease is lost or ctx is done.
// It resigns and revokes the lease before it returns.
func (e *Election) term(ctx context.Context) error {
	ttl := int64(e.ttl / time.Second)
	e.mu.Lock()
	e.safeUntil = time.Time{} // the last term's lease is not this one's
	e.mu.Unlock()
	sent := time.Now()
	gctx, cancel := context.WithTimeout(ctx, e.ttl)
	grant, err := e.cli.Grant(gctx, ttl)
	cancel()
	if err != nil {
		return fmt.Errorf("grant: %w", err)
	}
	e.renewed(sent, grant.TTL)
	// The session's own context outlives ctx, so that Close can still
	// resign and revoke through it.
	sctx, stopSession := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSession()
	sess, err := concurrency.NewSession(e.cli, concurrency.WithLease(grant.ID), concurrency.WithContext(sctx))
	if err != nil {
		e.revoke(grant.ID)
		return fmt.Errorf("session: %w", err)
	}

	tctx, endTerm := context.WithCancelCause(ctx)
	defer endTerm(nil)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(3)
	go func() { defer wg.Done(); e.keepAlive(tctx, grant.ID, endTerm) }()
	go func() { defer wg.Done(); e.observe(tctx, sess) }()
	go func() {
		defer wg.Done()
		select {
		case <-sess.Done():
			endTerm(errors.New("the session's keepalive ended"))
		case <-tctx.Done():
		}
	}()

	candidacy := concurrency.NewElection(sess, e.prefix)
	e.mu.Lock()
	e.ownKey = fmt.Sprintf("%s/%x", e.prefix, grant.ID)
	e.mu.Unlock()
	err = candidacy.Campaign(tctx, e.url)
	if err == nil {
		err = e.lead(tctx, candidacy)
	}
	if err != nil && tctx.Err() == nil {
		endTerm(err)
	}
	<-tctx.Done()

	e.mu.Lock()
	wasLeading := e.leading
	e.leading = false
	e.mu.Unlock()
	why := context.Cause(tctx)
	if ctx.Err() != nil {
		why = errors.New("closed")
	}
	e.refresh(why.Error())
	// Hand over: resign, so that the next candidate leads at once, and
	// revoke the lease, within one TTL.
	hctx, cancel := context.WithTimeout(sctx, e.ttl)
	defer cancel()
	if wasLeading {
		if err := candidacy.Resign(hctx); err != nil {
			e.log.Warn("afterhours: resigning the leadership", "err", err)
		}
	}
	sess.Orphan()
	if _, err := e.cli.Revoke(hctx, grant.ID); err != nil {
		e.log.Debug("afterhours: revoking the leader election's lease", "err", err)
	}
	return why
}

// lead makes this replica the leader once its campaign won: it checks that
// its key still stands (the campaign does not notice when its own key goes)
// and then follows it, ending the term when it is deleted.
func (e *Election) lead(ctx context.Context, candidacy *concurrency.Election) error {
	key := candidacy.Key()
	gctx, cancel := context.WithTimeout(ctx, e.ttl)
	resp, err := e.cli.Get(gctx, key)
	cancel()
	if err != nil {
		return fmt.Errorf("reading the leader key: %w", err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != candidacy.Rev() {
		return errors.New("the campaign's key was deleted")
	}
	e.mu.Lock()
	e.leading = true
	e.mu.Unlock()
	e.refresh("elected")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Not WithRequireLeader: an election among etcd's members would end the
	// watch, and with it this replica's leadership, for nothing; a member
	// cut off from the others is noticed by the renewals, which need the
	// cluster's leader.
	for wr := range e.cli.Watch(wctx, key, clientv3.WithRev(resp.Header.Revision+1)) {
		if err := wr.Err(); err != nil {
			break
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return errors.New("the leader key was deleted")
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	// The watch broke (a compaction, a lost stream): the key may be gone
	// unseen, so the term ends and the campaign starts over.
	return errors.New("the watch of the leader key ended")
}

// keepAlive renews the lease a third of the TTL apart, noting each renewal
// that succeeded, until ctx is done or etcd answers that the lease is gone.
func (e *Election) keepAlive(ctx context.Context, lease clientv3.LeaseID, endTerm context.CancelCauseFunc) {
	every := e.ttl / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sent := time.Now()
		rctx, cancel := context.WithTimeout(ctx, every)
		resp, err := e.cli.KeepAliveOnce(rctx, lease)
		cancel()
		switch {
		case resp != nil && resp.TTL <= 0:
			endTerm(errLeaseGone)
			return
		case err == nil:
			e.renewed(sent, resp.TTL)
		case ctx.Err() == nil:
			e.log.Debug("afterhours: renewing the leader election's lease", "err", err)
		}
	}
}

// observe follows the leader's key and value with concurrency's Observe,
// again whenever it ends, until ctx is done.
func (e *Election) observe(ctx context.Context, sess *concurrency.Session) {
	view := concurrency.NewElection(sess, e.prefix)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, e.ttl) {
		for resp := range view.Observe(ctx) {
			if len(resp.Kvs) == 0 {
				continue
			}
			e.mu.Lock()
			e.seenKey, e.seenURL = string(resp.Kvs[0].Key), string(resp.Kvs[0].Value)
			e.mu.Unlock()
			e.refresh("a new leader")
			wait = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// revoke revokes the lease (its keys go with it), waiting at most the TTL.
func (e *Election) revoke(lease clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.Background(), e.ttl)
	defer cancel()
	if _, err := e.cli.Revoke(ctx, lease); err != nil {
		e.log.Debug("afterhours: revoking the leader election's lease", "err", err)
	}
}
