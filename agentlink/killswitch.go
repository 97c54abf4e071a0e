package agentlink

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/server"
)

// KillSwitchKey is the store key of the fleet killswitch state the link
// last had from the server, and of the executor kill it made for it.
const KillSwitchKey = "agentlink.killswitch"

// KillReasonPrefix starts the reason of a kill the link makes for the
// fleet's killswitch: the executor's KillReason is the prefix and the
// server's reason.
const KillReasonPrefix = "fleet killswitch: "

// killState is what the link keeps under [KillSwitchKey].
type killState struct {
	server.ClientKill
	// ETag is the server's ETag of the state.
	ETag string `json:"etag,omitempty"`
	// Applied is the executor's kill the link made, as the executor's
	// Status reported it (its reason and time); nil when the link holds no
	// kill: the switch is off, or the executor was already killed by the
	// application when the switch came on.
	Applied *appliedKill `json:"applied,omitempty"`
}

type appliedKill struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// ours reports whether the executor's kill in st is the one a recorded.
func (a *appliedKill) ours(st afterhours.Status) bool {
	return a != nil && st.Killed && st.KillReason == a.Reason && st.KilledAt.Equal(a.At)
}

// loadKill returns the state saved in the store (the zero state, off, when
// none or unreadable).
func (l *Link) loadKill() killState {
	var ks killState
	data, err := l.store.Load(KillSwitchKey)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		l.log.Error("agentlink: load killswitch", "err", err)
	default:
		if err := json.Unmarshal(data, &ks); err != nil {
			l.log.Error("agentlink: stored killswitch unreadable; taking it as off until the server answers", "err", err)
			return killState{}
		}
	}
	return ks
}

// applyKill makes the executor follow ks and saves ks (with what the link
// did) in the store, which it returns. On: an executor that is not killed
// is killed with [KillReasonPrefix] and the reason, and the kill recorded
// as the link's; one killed already stays so (the link's kill if it was,
// else the application's, which the link will not resume). Off: the
// executor is resumed only when its kill is the one the link recorded.
func (l *Link) applyKill(ks killState) killState {
	st := l.exec.Status()
	if ks.On {
		switch {
		case !st.Killed:
			l.exec.Kill(KillReasonPrefix + ks.Reason)
			st = l.exec.Status()
			ks.Applied = &appliedKill{Reason: st.KillReason, At: st.KilledAt}
			if st.KillReason != KillReasonPrefix+ks.Reason {
				ks.Applied = nil // the application's Kill came first: ours changed nothing
			}
			l.log.Warn("agentlink: executor killed by the fleet's killswitch", "reason", ks.Reason)
		case !ks.Applied.ours(st):
			ks.Applied = nil // killed by the application: its kill, not ours
		}
	} else {
		if ks.Applied.ours(st) {
			l.exec.Resume()
			l.log.Warn("agentlink: executor resumed: the fleet's killswitch is off")
		}
		ks.Applied = nil
	}
	data, err := json.Marshal(ks)
	if err == nil {
		err = l.store.Save(KillSwitchKey, data)
	}
	if err != nil {
		l.log.Error("agentlink: save killswitch", "err", err)
	}
	return ks
}

// killLoop follows the fleet's killswitch: it long-polls the client's
// state and applies each change ([Link.applyKill]); while the switch is
// on, an executor resumed by anything else is killed again at once. The
// state saved in the store was applied by Run before this loop started.
func (l *Link) killLoop(ctx context.Context, ks killState) error {
	events, unsubscribe := l.exec.Subscribe()
	defer unsubscribe()
	states := make(chan killState)
	polled := make(chan error, 1)
	go func() {
		etag := ks.ETag
		for {
			var next killState
			err := l.retry(ctx, "killswitch", func() error {
				var err error
				next, err = l.pollKill(ctx, etag)
				return err
			})
			if err != nil {
				polled <- err
				return
			}
			if next.ETag == etag {
				continue
			}
			etag = next.ETag
			select {
			case states <- next:
			case <-ctx.Done():
				polled <- ctx.Err()
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			<-polled
			return ctx.Err()
		case err := <-polled:
			return err
		case next := <-states:
			next.Applied = ks.Applied
			ks = l.applyKill(next)
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Kind == afterhours.EventResumed && ks.On {
				ks = l.applyKill(ks)
			}
		}
	}
}

// pollKill asks for the client's killswitch once, waiting up to
// [PollWait] for a state other than etag's.
func (l *Link) pollKill(ctx context.Context, etag string) (killState, error) {
	path := l.clientPath() + "/killswitch"
	if etag != "" {
		path += "?wait=" + PollWait.String() + "&since=" + url.QueryEscape(etag)
	}
	resp, err := l.do(ctx, http.MethodGet, path, nil, nil, http.StatusOK)
	if err != nil {
		return killState{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return killState{}, err
	}
	var ks killState
	if err := json.Unmarshal(data, &ks.ClientKill); err != nil {
		return killState{}, err
	}
	ks.ETag = resp.Header.Get("ETag")
	return ks, nil
}
