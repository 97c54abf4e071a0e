package server

import "net/http"

// reported is the answer to a report: what was done with it.
type reported struct {
	Result ReportResult `json:"result"`
}

// postReport stores an agent's cycle report (see [Report]): 200 with
// {"result": "stored"}, or "duplicate" or "stale" when nothing changed.
func (h *Handler) postReport(w http.ResponseWriter, r *http.Request) {
	data, ok := body(w, r)
	if !ok {
		return
	}
	rep, err := ParseReport(data)
	if err != nil {
		fail(w, err)
		return
	}
	res, err := h.fleet.PutReport(r.PathValue("id"), rep)
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, reported{Result: res})
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	st, err := h.fleet.Status()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *Handler) failed(w http.ResponseWriter, r *http.Request) {
	fs, err := h.fleet.Failed()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, fs)
}
