package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

func (h *Handler) getConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.fleet.Config())
}

func (h *Handler) putConfig(w http.ResponseWriter, r *http.Request) {
	data, ok := body(w, r)
	if !ok {
		return
	}
	if err := h.fleet.SetConfig(data); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.fleet.Config())
}

func (h *Handler) validateConfig(w http.ResponseWriter, r *http.Request) {
	data, ok := body(w, r)
	if !ok {
		return
	}
	if err := h.fleet.ValidateConfig(data); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"valid": true})
}

func (h *Handler) putSet(w http.ResponseWriter, r *http.Request) {
	data, ok := body(w, r)
	if !ok {
		return
	}
	if err := h.fleet.PutSet(r.PathValue("name"), data); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.fleet.Config())
}

func (h *Handler) putSite(w http.ResponseWriter, r *http.Request) {
	data, ok := body(w, r)
	if !ok {
		return
	}
	if err := h.fleet.PutSite(r.PathValue("name"), data); err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.fleet.Config())
}

func (h *Handler) listClients(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.fleet.Clients())
}

func (h *Handler) getClient(w http.ResponseWriter, r *http.Request) {
	c, err := h.fleet.Client(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// registered is the answer to PUT /v1/clients/{id}: the client, and the
// one-time enrolment code its agent exchanges for its token.
type registered struct {
	ClientInfo
	Code string `json:"code"`
}

func (h *Handler) putClient(w http.ResponseWriter, r *http.Request) {
	data, ok := body(w, r)
	if !ok {
		return
	}
	c := Client{ID: r.PathValue("id")}
	var id string
	if err := decodeStrict(data, map[string]*string{"id": &id, "site": &c.Site, "lan": &c.LAN}); err != nil {
		fail(w, err)
		return
	}
	if id != "" && id != c.ID {
		writeError(w, http.StatusBadRequest, "the body's id is not the path's", nil)
		return
	}
	codes, err := h.fleet.Register(c)
	if err != nil {
		fail(w, err)
		return
	}
	info, err := h.fleet.Client(c.ID)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, registered{ClientInfo: info, Code: codes[0]})
}

func (h *Handler) deleteClient(w http.ResponseWriter, r *http.Request) {
	if err := h.fleet.Remove(r.PathValue("id")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// enrolled is the answer to POST /v1/agent/enroll.
type enrolled struct {
	Client string `json:"client"`
	Token  string `json:"token"`
}

func (h *Handler) enroll(w http.ResponseWriter, r *http.Request) {
	data, ok := body(w, r)
	if !ok {
		return
	}
	var code string
	if err := decodeStrict(data, map[string]*string{"code": &code}); err != nil {
		fail(w, err)
		return
	}
	id, token, err := h.fleet.Enroll(code)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, enrolled{Client: id, Token: token})
}

// maxWait is the longest long-poll of a profile.
const maxWait = 5 * time.Minute

func (h *Handler) agentProfile(w http.ResponseWriter, r *http.Request) {
	data, etag, err := h.fleet.Profile(r.PathValue("id"))
	if err != nil {
		fail(w, err)
		return
	}
	if ws := r.URL.Query().Get("wait"); ws != "" && matches(r.Header.Get("If-None-Match"), etag) {
		wait, err := time.ParseDuration(ws)
		if err != nil || wait <= 0 || wait > maxWait {
			writeError(w, http.StatusBadRequest, "wait: want a duration such as 30s, at most "+maxWait.String(), nil)
			return
		}
		if data, etag, _, err = h.fleet.WaitProfile(r.Context(), r.PathValue("id"), etag, wait); err != nil {
			fail(w, err)
			return
		}
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if matches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(json.RawMessage(data))
}

// matches reports whether an If-None-Match header lists etag (or is "*").
func matches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
