package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/afterhours-go/afterhours"
)

// resourcesBody is the answer to GET /v1/resources.
type resourcesBody struct {
	// Now is the fleet's now, which "running" and the horizon start from.
	Now       time.Time      `json:"now"`
	Days      int            `json:"days"`
	Resources []ResourceInfo `json:"resources"`
}

func (h *Handler) listResources(w http.ResponseWriter, r *http.Request) {
	days := DefaultHorizonDays
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxHorizonDays {
			writeError(w, http.StatusBadRequest, "1 problem", []afterhours.Problem{{Path: "days",
				Message: fmt.Sprintf("%q: want a whole number of days from 1 to %d", s, MaxHorizonDays)}})
			return
		}
		days = n
	}
	now := h.fleet.clk.Now().UTC()
	list := h.fleet.Resources(days)
	if list == nil {
		list = []ResourceInfo{}
	}
	writeJSON(w, http.StatusOK, resourcesBody{Now: now, Days: days, Resources: list})
}

func (h *Handler) endDowntime(w http.ResponseWriter, r *http.Request) {
	name, is := r.PathValue("name"), r.PathValue("i")
	i, err := strconv.Atoi(is)
	if err != nil || i < 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no downtime %q: the index is a whole number from 0", is), nil)
		return
	}
	info, err := h.fleet.EndDowntime(name, r.URL.Query().Get("set"), i)
	switch {
	case errors.Is(err, ErrNoResource):
		writeError(w, http.StatusNotFound, err.Error(), nil)
	case errors.Is(err, ErrAmbiguousResource), errors.Is(err, ErrNotRunning):
		writeError(w, http.StatusConflict, err.Error(), nil)
	case err != nil:
		fail(w, err)
	default:
		writeJSON(w, http.StatusOK, info)
	}
}
