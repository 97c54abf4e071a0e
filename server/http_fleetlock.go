package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
)

// fleetlockRoutes registers the FleetLock protocol (Zincati's reboot
// manager protocol) and its admin view:
//
//	POST /v1/pre-reboot    take a slot (RecursiveLock)
//	POST /v1/steady-state  release it (UnlockIfHeld)
//
// with the header "fleet-lock-protocol: true" and the body
// {"client_params": {"id": "...", "group": "..."}}. They take no bearer
// token, since Zincati sends none, and answer as the protocol says: 200
// with an empty JSON object on success, and otherwise a 4xx or 5xx status
// with {"kind": "...", "value": "..."}, kind one of
// failed_missing_header, failed_bad_request, failed_fleetlock_off (404:
// the config has no fleetlock groups), failed_unknown_group (404),
// failed_lock_semaphore_full (409) and failed_internal (500).
//
// GET /v1/fleetlock (view) lists the groups, their slots and holders, and
// DELETE /v1/fleetlock/{group}/holders/{id} (operate) releases the slot of
// a machine that died holding it.
func (h *Handler) fleetlockRoutes() {
	h.mux.HandleFunc("POST /v1/pre-reboot", h.fleetlockOp(h.fleet.FleetLockLock))
	h.mux.HandleFunc("POST /v1/steady-state", h.fleetlockOp(h.fleet.FleetLockUnlock))
	h.mux.HandleFunc("GET /v1/fleetlock", h.admin(RoleView, h.fleetlockList))
	h.mux.HandleFunc("DELETE /v1/fleetlock/{group}/holders/{id}", h.admin(RoleOperate, h.fleetlockRelease))
}

// fleetlockError is the FleetLock protocol's error body.
type fleetlockError struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

func (h *Handler) fleetlockOp(op func(group, id string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("fleet-lock-protocol") != "true" {
			writeJSON(w, http.StatusBadRequest, fleetlockError{"failed_missing_header", `the header "fleet-lock-protocol: true" is required`})
			return
		}
		data, ok := fleetlockBody(w, r)
		if !ok {
			return
		}
		var req struct {
			ClientParams *struct {
				ID    string `json:"id"`
				Group string `json:"group"`
			} `json:"client_params"`
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || dec.More() || req.ClientParams == nil {
			msg := `want {"client_params": {"id": "...", "group": "..."}}`
			if err != nil {
				msg += ": " + err.Error()
			}
			writeJSON(w, http.StatusBadRequest, fleetlockError{"failed_bad_request", msg})
			return
		}
		err := op(req.ClientParams.Group, req.ClientParams.ID)
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, struct{}{})
		case errors.Is(err, ErrSemaphoreFull):
			writeJSON(w, http.StatusConflict, fleetlockError{"failed_lock_semaphore_full", err.Error()})
		case errors.Is(err, ErrFleetLockOff):
			writeJSON(w, http.StatusNotFound, fleetlockError{"failed_fleetlock_off", err.Error()})
		case errors.Is(err, ErrFleetLockGroup):
			writeJSON(w, http.StatusNotFound, fleetlockError{"failed_unknown_group", err.Error()})
		case errors.Is(err, ErrFleetLockRequest):
			writeJSON(w, http.StatusBadRequest, fleetlockError{"failed_bad_request", err.Error()})
		default:
			writeJSON(w, http.StatusInternalServerError, fleetlockError{"failed_internal", err.Error()})
		}
	}
}

// fleetlockBody reads the body, answering a body over MaxBody in the
// protocol's error format.
func fleetlockBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r.Body); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, fleetlockError{"failed_bad_request", "request body too large"})
		} else {
			writeJSON(w, http.StatusBadRequest, fleetlockError{"failed_bad_request", "read request body: " + err.Error()})
		}
		return nil, false
	}
	return buf.Bytes(), true
}

func (h *Handler) fleetlockList(w http.ResponseWriter, r *http.Request) {
	groups, err := h.fleet.FleetLock()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": groups})
}

func (h *Handler) fleetlockRelease(w http.ResponseWriter, r *http.Request) {
	if err := h.fleet.FleetLockRelease(r.PathValue("group"), r.PathValue("id")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
