package agentlink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"sync"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/server"
)

// NoticesKey is the store key of the notices outbox.
const NoticesKey = "agentlink.notices"

// Notifier is the [afterhours.Notifier] of an agent: it keeps each notice
// of the executor in an outbox in the executor's store, and the [Link]
// given it with [WithNotices] posts them to the server (POST
// /v1/agent/clients/{id}/notices), which delivers them to its own
// [server.Notifier]. Give the same Notifier to both:
//
//	n := agentlink.NewNotifier(store)
//	exec, err := afterhours.NewExecutor(p, afterhours.WithStore(store), afterhours.WithNotifier(n))
//	...
//	link, err := agentlink.New(exec, store, creds, agentlink.WithNotices(n))
//
// Notify returns once the notice is saved, so a notice outlives a restart
// of the agent and waits while the server is unreachable. Each notice gets
// an ID unique for its client: client, day, kind, window or cycle end,
// the outbox's random epoch and a sequence number kept in the outbox,
// such as "leeds-1.2026-11-23.failures.window.3f9a01c2-1". It leaves the
// outbox, in order, once the server answered 2xx; one the server refuses
// (400, 413) is logged and dropped. A notice is thus delivered at least
// once (a crash between the answer and the removal posts it again), and
// the server keeps one per ID. A notice the executor makes while the
// store fails is lost (the executor logs the error).
//
// A Notifier is safe for concurrent use.
type Notifier struct {
	store afterhours.Store

	mu    sync.Mutex // orders the outbox's loads and saves
	ready chan struct{}
}

// outbox is the saved state of a Notifier.
type outbox struct {
	// Epoch is drawn at random when the outbox is made, so that the IDs
	// of an agent installed again (a new store, the same client) differ
	// from those it posted before.
	Epoch string `json:"epoch,omitempty"`
	// Seq is the sequence number of the last notice.
	Seq     int64           `json:"seq"`
	Pending []server.Notice `json:"pending,omitempty"`
}

// NewNotifier returns the notifier whose outbox is in store ([NoticesKey]),
// the executor's store.
func NewNotifier(store afterhours.Store) *Notifier {
	return &Notifier{store: store, ready: make(chan struct{}, 1)}
}

// WithNotices makes the link post the notices of n (see [Notifier]).
func WithNotices(n *Notifier) Option { return func(l *Link) { l.notices = n } }

// load returns the outbox; the caller holds n.mu.
func (n *Notifier) load() (outbox, error) {
	var ob outbox
	data, err := n.store.Load(NoticesKey)
	if errors.Is(err, fs.ErrNotExist) {
		return ob, nil
	}
	if err != nil {
		return ob, err
	}
	if err := json.Unmarshal(data, &ob); err != nil {
		return ob, fmt.Errorf("agentlink: notices outbox: %w", err)
	}
	return ob, nil
}

// save saves ob; the caller holds n.mu.
func (n *Notifier) save(ob outbox) error {
	data, err := json.Marshal(ob)
	if err != nil {
		return err
	}
	return n.store.Save(NoticesKey, data)
}

// Notify adds the notice to the outbox and returns once it is saved, or
// the error of the store.
func (n *Notifier) Notify(_ context.Context, an afterhours.Notice) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	ob, err := n.load()
	if err != nil {
		return err
	}
	if ob.Epoch == "" {
		ob.Epoch = fmt.Sprintf("%08x", rand.Uint32())
	}
	ob.Seq++
	sn := server.Notice{Kind: an.Kind.String(), Day: an.Day, At: an.At.UTC(), Reason: an.Reason, CycleEnd: an.CycleEnd}
	end := "window"
	switch {
	case an.Kind != afterhours.NoticeFailures:
		end = "now"
	case an.CycleEnd:
		end = "cycle-end"
	}
	sn.ID = fmt.Sprintf("%s.%s.%s.%s.%s-%d", an.Client, an.Day, sn.Kind, end, ob.Epoch, ob.Seq)
	for _, r := range an.Failed {
		sn.Failed = append(sn.Failed, failedRun(r))
	}
	ob.Pending = append(ob.Pending, sn)
	if err := n.save(ob); err != nil {
		return err
	}
	select {
	case n.ready <- struct{}{}:
	default:
	}
	return nil
}

// Pending returns the notices not yet taken by the server, oldest first.
func (n *Notifier) Pending() ([]server.Notice, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ob, err := n.load()
	return ob.Pending, err
}

// remove drops the notice of id from the outbox.
func (n *Notifier) remove(id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	ob, err := n.load()
	if err != nil {
		return err
	}
	for i, p := range ob.Pending {
		if p.ID == id {
			ob.Pending = append(ob.Pending[:i], ob.Pending[i+1:]...)
			return n.save(ob)
		}
	}
	return nil
}

// failedRun is the part of r a server keeps.
func failedRun(r afterhours.Record) server.FailedRun {
	return server.FailedRun{Task: r.Task, Kind: r.Kind, Command: r.Command,
		Error: r.Error, ExitCode: r.ExitCode, Start: r.Start, End: r.End, Interrupted: r.Interrupted}
}

// noticeLoop posts the outbox's notices in order, each until the server
// took it, and waits for more. Without a Notifier it waits for ctx.
func (l *Link) noticeLoop(ctx context.Context) error {
	n := l.notices
	if n == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	for {
		pending, err := n.Pending()
		if err != nil {
			l.log.Error("agentlink: notices outbox unreadable", "err", err)
		}
		for _, sn := range pending {
			if err := l.postNotice(ctx, sn); err != nil {
				return err
			}
			if err := n.remove(sn.ID); err != nil {
				l.log.Error("agentlink: remove a sent notice from the outbox", "id", sn.ID, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.ready:
		}
	}
}

// postNotice posts sn until the server takes it (2xx). A 400 (the server
// will not take this notice: retrying cannot mend it) is logged and the
// notice dropped.
func (l *Link) postNotice(ctx context.Context, sn server.Notice) error {
	body, err := json.Marshal(sn)
	if err != nil {
		return err
	}
	return l.retry(ctx, "notice "+sn.ID, func() error {
		resp, err := l.do(ctx, http.MethodPost, l.clientPath()+"/notices", body, nil, http.StatusOK)
		var se *statusError
		if errors.As(err, &se) && (se.code == http.StatusBadRequest || se.code == http.StatusRequestEntityTooLarge) {
			l.log.Error("agentlink: notice refused by the server; dropped", "id", sn.ID, "err", err)
			return nil
		}
		if err != nil {
			return err
		}
		resp.Body.Close()
		l.log.Info("agentlink: notice sent", "id", sn.ID, "kind", sn.Kind, "day", sn.Day)
		return nil
	})
}
