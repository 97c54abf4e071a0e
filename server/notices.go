package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours"
)

// Notice is a notice of an agent's executor (see [afterhours.Notifier]) as
// the server keeps it and hands it to its [Notifier]: a cycle's failed
// list when its window or the cycle ended, a cycle stopped by a failed
// on_failure "stop" task, or the killswitch turned on. The agent posts it
// to POST /v1/agent/clients/{id}/notices with the fields id, kind, day,
// at, reason, cycle_end and failed; the server adds client, site and
// received:
//
//	{"id": "leeds-1.2026-11-23.failures.window.3f9a01c2-1", "kind": "failures",
//	 "day": "2026-11-23", "at": "2026-11-24T08:00:00Z",
//	 "failed": [{"task": "backup", "kind": "housekeeping", "error": "exit status 2",
//	             "exit_code": 2, "start": "...", "end": "..."}]}
type Notice struct {
	// ID is the agent's name of the notice, unique for its client: an
	// agent sends a notice at least once, and the server keeps one per
	// (client, ID).
	ID string `json:"id"`
	// Kind is "failures", "stopped" or "killed".
	Kind string `json:"kind"`
	// Day is the cycle's site-local date.
	Day string `json:"day"`
	// At is the agent's clock when the notice arose.
	At time.Time `json:"at,omitzero"`
	// Reason is the kill's reason, or the task that stopped the cycle.
	Reason string `json:"reason,omitempty"`
	// CycleEnd is set on a failures notice made when the cycle ended, and
	// clear on one made when its window ended.
	CycleEnd bool        `json:"cycle_end,omitempty"`
	Failed   []FailedRun `json:"failed,omitempty"`

	// Client and Site are the client's, as the server knew it on receipt.
	Client string `json:"client,omitempty"`
	Site   string `json:"site,omitempty"`
	// Received is when the server stored it, on the fleet's clock.
	Received time.Time `json:"received,omitzero"`
}

// The kinds of [Notice].
const (
	NoticeFailures = "failures"
	NoticeStopped  = "stopped"
	NoticeKilled   = "killed"
)

// MaxNoticeID is the longest [Notice] ID the server takes.
const MaxNoticeID = 256

// check reports the problems of an agent's notice, with their paths.
func (n *Notice) check() error {
	var ps problems
	switch {
	case n.ID == "":
		ps.add("id", "required")
	case len(n.ID) > MaxNoticeID:
		ps.add("id", "longer than %d bytes", MaxNoticeID)
	case strings.ContainsFunc(n.ID, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		ps.add("id", "want printable ASCII without spaces")
	}
	switch n.Kind {
	case NoticeFailures, NoticeStopped, NoticeKilled:
	default:
		ps.add("kind", "want failures, stopped or killed")
	}
	if n.Day != "" || n.Kind != NoticeKilled {
		if _, err := afterhours.ParseDate(n.Day); err != nil {
			ps.add("day", "want a date such as 2026-11-24 (it may be empty only for a kill outside a cycle)")
		}
	}
	if n.Kind == NoticeFailures && len(n.Failed) == 0 {
		ps.add("failed", "a failures notice lists at least one run")
	}
	if len(n.Failed) > 10000 {
		ps.add("failed", "more than 10000 runs")
	}
	for i, f := range n.Failed {
		if f.Task == "" {
			ps.add(fmt.Sprintf("failed[%d].task", i), "required")
		}
		if _, err := f.Kind.MarshalText(); err != nil {
			ps.add(fmt.Sprintf("failed[%d].kind", i), "required: housekeeping, update, self-update, shared, command or timer")
		}
	}
	if len(n.Reason) > 4096 {
		ps.add("reason", "longer than 4096 bytes")
	}
	return ps.err()
}

// ParseNotice decodes an agent's notice strictly (unknown fields, among
// them client, site and received, which the server sets; repeated keys;
// values of the wrong type: problems with their paths) and validates it:
// an ID of printable ASCII up to [MaxNoticeID] bytes, a known kind, a
// task and a kind for each failed run, at least one for a failures
// notice, and the cycle's date (which a kill outside a cycle lacks).
func ParseNotice(data []byte) (Notice, error) {
	var n Notice
	known := []string{"id", "kind", "day", "at", "reason", "cycle_end", "failed"}
	if err := decodeStrictStruct(data, known, &n); err != nil {
		return Notice{}, err
	}
	return n, n.check()
}

// Summary returns a line a person reads, such as
// "leeds-1 (leeds), cycle 2026-11-23: 1 failed at the window's end: backup (exit 2)".
func (n Notice) Summary() string {
	var b strings.Builder
	b.WriteString(n.Client)
	if n.Site != "" {
		fmt.Fprintf(&b, " (%s)", n.Site)
	}
	if n.Day != "" {
		fmt.Fprintf(&b, ", cycle %s", n.Day)
	}
	b.WriteString(": ")
	switch n.Kind {
	case NoticeFailures:
		when := "the window's end"
		if n.CycleEnd {
			when = "the cycle's end"
		}
		fmt.Fprintf(&b, "%d failed at %s", len(n.Failed), when)
	case NoticeStopped:
		fmt.Fprintf(&b, "stopped by the failure of %s", n.Reason)
	case NoticeKilled:
		fmt.Fprintf(&b, "killswitch on (%s), %d runs ended", n.Reason, len(n.Failed))
	default:
		b.WriteString(n.Kind)
	}
	for i, f := range n.Failed {
		if i == 5 {
			fmt.Fprintf(&b, ", and %d more", len(n.Failed)-i)
			break
		}
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(f.Task)
		if f.Error != "" {
			fmt.Fprintf(&b, " (%s)", f.Error)
		}
	}
	return b.String()
}

// QueuedNotice is a stored [Notice] and its delivery to the [Notifier].
type QueuedNotice struct {
	Notice
	// Delivered is when the Notifier took it (zero: not yet).
	Delivered time.Time `json:"delivered,omitzero"`
	// Attempts counts the calls of the Notifier with it.
	Attempts int `json:"attempts,omitempty"`
	// LastError is the error of the last failed attempt.
	LastError string `json:"last_error,omitempty"`
}

// Notifier delivers the notices the agents post to an administrator; see
// [Fleet.DeliverNotices]. [Webhook] is one. An error makes the delivery
// try again later; Notify must not keep n or its slices.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// NotifierFunc makes a [Notifier] of a function.
type NotifierFunc func(ctx context.Context, n Notice) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, n Notice) error { return f(ctx, n) }

// WithNotifier sets the [Notifier] that [Handler.Run] delivers the
// agents' notices to. Without one, notices are stored and listed (GET
// /v1/notices), and delivered to none.
func WithNotifier(n Notifier) Option {
	return func(o *options) error {
		o.notifier = n
		return nil
	}
}

// How long the server keeps notices: a delivered notice is deleted once
// it is older than KeepNoticesFor or KeepNotices delivered notices came
// after it; an undelivered one is kept until delivered. An agent's
// notice ID is remembered KeepNoticesFor, so that a repeat within that
// time is not stored twice.
const (
	KeepNotices    = 1000
	KeepNoticesFor = 30 * 24 * time.Hour
)

const (
	noticesPrefix   = "notices/q/"    // "notices/q/<seq, 20 digits>": an undelivered QueuedNotice
	deliveredPrefix = "notices/done/" // "notices/done/<seq, 20 digits>": a delivered one
	noticeIDPrefix  = "notices/id/"   // "notices/id/<client>/<id>": when it was received
	noticeExpPrefix = "notices/exp/"  // "notices/exp/<seq, 20 digits>": the ID key of that notice, in the order received
	noticeNextKey   = "notices/next"
)

// noticeIndex is the value of a notice's ID key, and of its expiry key
// (with the ID key).
type noticeIndex struct {
	Received time.Time `json:"received"`
	Key      string    `json:"key,omitempty"`
}

// errStop ends a Scan early.
var errStop = errors.New("stop")

// PutNotice stores an agent's notice for delivery, once: it reports
// false, and changes nothing, when the client's notice of the same ID was
// stored within [KeepNoticesFor]. It fails with [ErrNoClient] for a
// client the fleet lacks, and with the problems of an invalid notice.
// It deletes the notices no longer kept.
func (f *Fleet) PutNotice(client string, n Notice) (stored bool, err error) {
	if err := n.check(); err != nil {
		return false, err
	}
	info, err := f.Client(client)
	if err != nil {
		return false, err
	}
	now := f.clk.Now().UTC()
	n.Client, n.Site, n.Received = client, info.Site, now
	idKey := noticeIDPrefix + client + "/" + n.ID
	err = f.store.Update(func(tx Tx) error {
		stored = false
		if old, err := tx.Get(idKey); err != nil {
			return err
		} else if old != nil {
			return nil
		}
		var next uint64
		if data, err := tx.Get(noticeNextKey); err != nil {
			return err
		} else if data != nil {
			if err := json.Unmarshal(data, &next); err != nil {
				return fmt.Errorf("server: stored notice sequence: %w", err)
			}
		}
		seq := fmt.Sprintf("%020d", next)
		for _, kv := range []struct {
			key string
			v   any
		}{{noticeNextKey, next + 1}, {noticesPrefix + seq, QueuedNotice{Notice: n}},
			{idKey, noticeIndex{Received: now}}, {noticeExpPrefix + seq, noticeIndex{Received: now, Key: idKey}}} {
			data, err := json.Marshal(kv.v)
			if err != nil {
				return err
			}
			if err := tx.Put(kv.key, data); err != nil {
				return err
			}
		}
		stored = true
		return pruneNotices(tx, now)
	})
	return stored && err == nil, err
}

// pruneNotices deletes the delivered notices no longer kept, and the IDs
// older than KeepNoticesFor. Both are in the order received: the scans of
// their ages stop at the first one kept.
func pruneNotices(tx Tx, now time.Time) error {
	var keys []string
	if err := tx.Scan(deliveredPrefix, func(key string, _ []byte) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		return err
	}
	drop := max(0, len(keys)-KeepNotices)
	if drop < len(keys) {
		err := tx.Scan(keys[drop], func(key string, value []byte) error {
			var q QueuedNotice
			if err := json.Unmarshal(value, &q); err != nil {
				return fmt.Errorf("server: stored notice %s: %w", key, err)
			}
			if now.Sub(q.Received) <= KeepNoticesFor || drop == len(keys) {
				return errStop
			}
			drop++
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			return err
		}
	}
	for _, k := range keys[:drop] {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	var old []noticeIndex
	err := tx.Scan(noticeExpPrefix, func(key string, value []byte) error {
		var ix noticeIndex
		if err := json.Unmarshal(value, &ix); err != nil {
			return fmt.Errorf("server: stored notice id %s: %w", key, err)
		}
		if now.Sub(ix.Received) <= KeepNoticesFor {
			return errStop
		}
		old = append(old, noticeIndex{Key: key}, ix)
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return err
	}
	for _, ix := range old {
		if err := tx.Delete(ix.Key); err != nil {
			return err
		}
	}
	return nil
}

// Notices returns the notices kept (see [KeepNotices]), delivered or
// not, in the order they were received.
func (f *Fleet) Notices() ([]QueuedNotice, error) {
	type entry struct {
		seq string
		q   QueuedNotice
	}
	var all []entry
	err := f.store.View(func(tx Tx) error {
		for _, prefix := range []string{deliveredPrefix, noticesPrefix} {
			err := tx.Scan(prefix, func(key string, value []byte) error {
				var q QueuedNotice
				if err := json.Unmarshal(value, &q); err != nil {
					return fmt.Errorf("server: stored notice %s: %w", key, err)
				}
				all = append(all, entry{strings.TrimPrefix(key, prefix), q})
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	slices.SortStableFunc(all, func(a, b entry) int { return strings.Compare(a.seq, b.seq) })
	out := make([]QueuedNotice, len(all))
	for i, e := range all {
		out[i] = e.q
	}
	return out, err
}

// The delivery's retry schedule: from NoticeBackoffBase, doubling, up to
// NoticeBackoffCap, each wait drawn in [d/2, d) for a ceiling d.
const (
	NoticeBackoffBase = time.Second
	NoticeBackoffCap  = 5 * time.Minute
)

// noticeBackoff is the wait after attempt failed passes (0 for the first).
func noticeBackoff(attempt int, rnd func() float64) time.Duration {
	d := NoticeBackoffBase
	for i := 0; i < attempt && d < NoticeBackoffCap; i++ {
		d *= 2
	}
	d = min(d, NoticeBackoffCap)
	return d/2 + time.Duration(rnd()*float64(d/2))
}

// DeliverNotices hands every stored undelivered notice to n until ctx is
// done, and returns ctx's error. The notices of a client are delivered
// one at a time in the order received; one that fails holds the client's
// later ones, while other clients' go on in the same pass, and is tried
// again after a wait on the fleet's clock ([NoticeBackoffBase] doubling
// up to [NoticeBackoffCap], with jitter) for as long as it takes; notices
// that arrive during the wait go out when it ends. Each notice n took is
// marked delivered in the store, so that no later run, after a restart
// too, hands it over again; a crash between n's return and the mark
// hands it over once more (at least once: a receiver deduplicates by
// client and ID). n bounds its own calls (a [Webhook] has a timeout).
// Run it once per fleet, and of several replicas on the leader only;
// [Handler.Run] does, with the notifier of [WithNotifier].
func (f *Fleet) DeliverNotices(ctx context.Context, n Notifier) error {
	return f.deliverNotices(ctx, n, nil)
}

// deliverNotices is DeliverNotices, handing a notice over only while
// leading reports true (when not nil): a replica that learns it lost the
// lead hands over nothing more, even before its ctx is cancelled.
func (f *Fleet) deliverNotices(ctx context.Context, n Notifier, leading func() bool) error {
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	attempt := 0
	for {
		wctx, cancel := context.WithCancel(ctx)
		// Watch before looking, so that no notice falls between the two.
		changes := f.store.Watch(wctx, noticesPrefix)
		failed, err := f.deliverPass(ctx, n, leading)
		if failed || err != nil {
			cancel()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-f.clk.After(noticeBackoff(attempt, rnd.Float64)):
			}
			attempt++
			continue
		}
		attempt = 0
		select {
		case <-ctx.Done():
			cancel()
			return ctx.Err()
		case <-changes:
		}
		cancel()
	}
}

// deliverPass tries each undelivered notice once, in order, skipping
// those of a client whose earlier one failed in this pass; failed
// reports whether one did.
func (f *Fleet) deliverPass(ctx context.Context, n Notifier, leading func() bool) (failed bool, err error) {
	type pending struct {
		key string
		q   QueuedNotice
	}
	var todo []pending
	err = f.store.View(func(tx Tx) error {
		return tx.Scan(noticesPrefix, func(key string, value []byte) error {
			var q QueuedNotice
			if err := json.Unmarshal(value, &q); err != nil {
				return fmt.Errorf("server: stored notice %s: %w", key, err)
			}
			todo = append(todo, pending{key, q})
			return nil
		})
	})
	if err != nil {
		return false, err
	}
	held := map[string]bool{}
	for _, p := range todo {
		if ctx.Err() != nil {
			return failed, ctx.Err()
		}
		if held[p.q.Client] {
			continue
		}
		if leading != nil && !leading() {
			// Not failed: the lead went, and Run is stopping this
			// delivery.
			return failed, nil
		}
		nerr := n.Notify(ctx, p.q.Notice)
		if ctx.Err() != nil {
			return failed, ctx.Err() // not n's failure: nothing to record
		}
		if nerr != nil {
			held[p.q.Client], failed = true, true
		}
		now := f.clk.Now().UTC()
		err := f.store.Update(func(tx Tx) error {
			data, err := tx.Get(p.key)
			if err != nil || data == nil {
				return err // pruned meanwhile: nothing to mark
			}
			var q QueuedNotice
			if err := json.Unmarshal(data, &q); err != nil {
				return err
			}
			q.Attempts++
			if nerr != nil {
				q.LastError = nerr.Error()
				if data, err = json.Marshal(q); err != nil {
					return err
				}
				return tx.Put(p.key, data)
			}
			q.Delivered, q.LastError = now, ""
			if data, err = json.Marshal(q); err != nil {
				return err
			}
			if err := tx.Delete(p.key); err != nil {
				return err
			}
			return tx.Put(deliveredPrefix+strings.TrimPrefix(p.key, noticesPrefix), data)
		})
		if err != nil {
			return true, err
		}
	}
	return failed, nil
}
