package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours"
)

// queued is the answer to POST /v1/commands.
type queued struct {
	ID      string   `json:"id"`
	Clients []string `json:"clients"`
}

// postCommand queues a command: {"id", "name", "run", "user", "timeout",
// "clients": [ids] or "tags": [selector]}.
func (h *Handler) postCommand(w http.ResponseWriter, r *http.Request) {
	data, ok := body(w, r)
	if !ok {
		return
	}
	var c NewCommand
	known := []string{"id", "name", "run", "user", "timeout", "clients", "tags"}
	if err := decodeStrictStruct(data, known, &c); err != nil {
		fail(w, err)
		return
	}
	id, clients, err := h.fleet.Queue(c)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, queued{ID: id, Clients: clients})
}

// decodeStrictStruct decodes the JSON object data into v, refusing
// invalid JSON, members of the object not in known, repeated keys, unknown
// fields of nested objects and values of the wrong type, with paths.
func decodeStrictStruct(data []byte, known []string, v any) error {
	var ps problems
	if !json.Valid(data) {
		ps.add("", "invalid JSON")
		return ps.err()
	}
	o, ok := readObject(&ps, "", data, known)
	if !ok || len(ps.list) > 0 {
		return ps.err()
	}
	// Each member on its own, so that a problem has its path.
	for _, f := range o {
		dec := json.NewDecoder(strings.NewReader(`{"` + f.key + `":` + string(f.value) + `}`))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			ps.add(f.key, "%v", err)
		}
	}
	return ps.err()
}

func (h *Handler) clientCommands(w http.ResponseWriter, r *http.Request) {
	cmds, err := h.fleet.Commands(r.PathValue("id"), false)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, cmds)
}

// agentCommands answers an agent with its commands not acknowledged yet,
// as a JSON array of [afterhours.Command]; with ?wait=30s, a long-poll:
// when it has none, the answer waits for one, up to the wait on the
// fleet's clock (at most 5 minutes), and is [] when none came.
func (h *Handler) agentCommands(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var (
		qs  []QueuedCommand
		err error
	)
	if ws := r.URL.Query().Get("wait"); ws != "" {
		wait, perr := time.ParseDuration(ws)
		if perr != nil || wait <= 0 || wait > maxWait {
			writeError(w, http.StatusBadRequest, "wait: want a duration such as 30s, at most "+maxWait.String(), nil)
			return
		}
		qs, err = h.fleet.WaitCommands(r.Context(), id, wait)
	} else {
		qs, err = h.fleet.Commands(id, true)
	}
	if err != nil {
		fail(w, err)
		return
	}
	cmds := make([]afterhours.Command, len(qs))
	for i, q := range qs {
		cmds[i] = q.Command
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, cmds)
}

// ackCommand records an agent's result for a command: {"result":
// "accepted"} or {"result": "refused", "reason": "..."}.
func (h *Handler) ackCommand(w http.ResponseWriter, r *http.Request) {
	data, ok := body(w, r)
	if !ok {
		return
	}
	var result, reason string
	if err := decodeStrict(data, map[string]*string{"result": &result, "reason": &reason}); err != nil {
		fail(w, err)
		return
	}
	q, err := h.fleet.Ack(r.PathValue("id"), r.PathValue("cid"), result, reason)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, q)
}
