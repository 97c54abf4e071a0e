package server

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// killswitchView is the answer of GET /v1/killswitch and of each change:
// the switches that are on, and how many clients they hold.
type killswitchView struct {
	KillSwitches
	KilledClients int `json:"killed_clients"`
}

func (h *Handler) getKillSwitch(w http.ResponseWriter, r *http.Request) {
	ks, err := h.fleet.KillSwitches()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, killswitchView{KillSwitches: ks, KilledClients: len(h.fleet.killedBy(ks))})
}

// killReason reads the body {"reason": "..."}; it writes the error and
// reports false when it cannot.
func killReason(w http.ResponseWriter, r *http.Request) (string, bool) {
	data, ok := body(w, r)
	if !ok {
		return "", false
	}
	var reason string
	if err := decodeStrict(data, map[string]*string{"reason": &reason}); err != nil {
		fail(w, err)
		return "", false
	}
	return reason, true
}

func (h *Handler) putKillFleet(w http.ResponseWriter, r *http.Request) {
	reason, ok := killReason(w, r)
	if !ok {
		return
	}
	if _, err := h.fleet.KillFleet(reason, h.role(r).String()); err != nil {
		fail(w, err)
		return
	}
	h.getKillSwitch(w, r)
}

func (h *Handler) deleteKillFleet(w http.ResponseWriter, r *http.Request) {
	if err := h.fleet.ResumeFleet(); err != nil {
		fail(w, err)
		return
	}
	h.getKillSwitch(w, r)
}

func (h *Handler) putKillTag(w http.ResponseWriter, r *http.Request) {
	reason, ok := killReason(w, r)
	if !ok {
		return
	}
	if _, err := h.fleet.KillTag(r.PathValue("tag"), reason, h.role(r).String()); err != nil {
		fail(w, err)
		return
	}
	h.getKillSwitch(w, r)
}

func (h *Handler) deleteKillTag(w http.ResponseWriter, r *http.Request) {
	if err := h.fleet.ResumeTag(r.PathValue("tag")); err != nil {
		fail(w, err)
		return
	}
	h.getKillSwitch(w, r)
}

// role returns the highest role of the request's token (0 for none), as
// the admin wrapper found it.
func (h *Handler) role(r *http.Request) Role {
	th := []byte(hash(bearer(r)))
	var have Role
	for _, a := range h.admins {
		if subtle.ConstantTimeCompare(th, []byte(a.hash)) == 1 {
			have = max(have, a.role)
		}
	}
	return have
}

// agentKillSwitch answers an agent's GET .../killswitch: the client's
// [ClientKill] with its ETag. With ?wait=30s and the ETag the agent has
// (?since=ETAG or If-None-Match), a long-poll: the answer waits for a
// change, up to the wait on the fleet's clock (at most 5 minutes). The
// answer is always 200 with the state, changed or not.
func (h *Handler) agentKillSwitch(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ck, etag, err := h.fleet.ClientKill(id)
	if err != nil {
		fail(w, err)
		return
	}
	q := r.URL.Query()
	have := q.Get("since")
	if have == "" {
		have = strings.TrimPrefix(strings.TrimSpace(r.Header.Get("If-None-Match")), "W/")
	}
	if have != "" && !strings.HasPrefix(have, `"`) {
		have = `"` + have + `"` // ?since= may drop the quotes
	}
	if ws := q.Get("wait"); ws != "" {
		wait, err := time.ParseDuration(ws)
		if err != nil || wait <= 0 || wait > maxWait {
			writeError(w, http.StatusBadRequest, "wait: want a duration such as 30s, at most "+maxWait.String(), nil)
			return
		}
		if have == etag {
			if ck, etag, _, err = h.fleet.WaitClientKill(r.Context(), id, etag, wait); err != nil {
				fail(w, err)
				return
			}
		}
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, ck)
}
