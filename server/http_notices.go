package server

import (
	"net/http"
)

// noticed is the answer to an agent's notice.
type noticed struct {
	// Result is "stored", or "duplicate" when the notice's ID was stored
	// before.
	Result string `json:"result"`
}

// postNotice stores an agent's notice (see [Notice]): 200 with {"result":
// "stored"}, or "duplicate" for one of an ID the client posted before.
func (h *Handler) postNotice(w http.ResponseWriter, r *http.Request) {
	data, ok := body(w, r)
	if !ok {
		return
	}
	n, err := ParseNotice(data)
	if err != nil {
		fail(w, err)
		return
	}
	stored, err := h.fleet.PutNotice(r.PathValue("id"), n)
	if err != nil {
		fail(w, err)
		return
	}
	res := noticed{Result: "stored"}
	if !stored {
		res.Result = "duplicate"
	}
	writeJSON(w, http.StatusOK, res)
}

// listNotices answers the notices kept, with their delivery states.
func (h *Handler) listNotices(w http.ResponseWriter, r *http.Request) {
	ns, err := h.fleet.Notices()
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ns)
}
