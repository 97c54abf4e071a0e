package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
)

// LoadView is the answer to GET /v1/load: the fleet's load on each shared
// resource, minute by minute, over one UTC date.
//
//	{"date": "2026-11-24", "start": "2026-11-24T00:00:00Z", "minutes": 1440,
//	 "tokens": [{"token": "pkg-repo", "zone": "UTC", "capacity": 2, "lan_capacity": 1,
//	   "holders": 3, "slots": 3, "void": 0, "peak": 1, "peak_at": "...",
//	   "load": [0, 0, ...], "over": []}]}
type LoadView struct {
	Date    string      `json:"date"`
	Start   time.Time   `json:"start"`
	Minutes int         `json:"minutes"`
	Tokens  []TokenView `json:"tokens"`
}

// TokenView is one sharing token's load in a [LoadView]. Load has one
// count per minute from the view's Start: how many clients are in their
// slots during some of that minute, across the fleet. Capacity and
// LANCapacity are the config's (0: no limit). Over lists the runs of
// minutes where a limit is exceeded: for a token of zone "UTC" the fleet's
// count against Capacity, for a token of zone "site" each time zone's
// count against Capacity (the capacity of such a token is per time zone),
// and each LAN's count against LANCapacity. Allocation keeps it empty; a
// non-empty Over is a fault the page flags.
type TokenView struct {
	Token       string      `json:"token"`
	Zone        string      `json:"zone"`
	Capacity    int         `json:"capacity"`
	LANCapacity int         `json:"lan_capacity"`
	Holders     int         `json:"holders"`
	Slots       int         `json:"slots"`
	Void        int         `json:"void"`
	Peak        int         `json:"peak"`
	PeakAt      time.Time   `json:"peak_at,omitzero"`
	Load        []int       `json:"load"`
	Over        []OverStint `json:"over"`
}

// OverStint is a run of minutes [From, To) in which Scope ("fleet",
// "zone Europe/London" or "lan leeds-lan") had more clients than Capacity
// in their slots; Count is the largest number in the run.
type OverStint struct {
	Scope    string    `json:"scope"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Count    int       `json:"count"`
	Capacity int       `json:"capacity"`
}

// viewCache keeps what the views compute from the clients' profiles: each
// client's parsed profile, by the ETag of its bytes, and the last load
// view, by date and a digest of the config and every client's profile
// and LAN. It is safe for concurrent use.
type viewCache struct {
	mu     sync.Mutex
	parsed map[string]parsedProfile

	loadMu  sync.Mutex
	loadKey [sha256.Size]byte
	loadDay afterhours.Date
	load    []byte
}

type parsedProfile struct {
	etag string
	p    *afterhours.Profile
}

// viewClient is a client with its parsed profile.
type viewClient struct {
	info ClientInfo
	p    *afterhours.Profile
}

// profile returns the client's parsed profile, parsing it only when its
// bytes changed since the last call.
func (h *Handler) parsedProfile(id string) (*afterhours.Profile, string, error) {
	data, etag, err := h.fleet.Profile(id)
	if err != nil {
		return nil, "", err
	}
	c := &h.views
	c.mu.Lock()
	pp, ok := c.parsed[id]
	c.mu.Unlock()
	if ok && pp.etag == etag {
		return pp.p, etag, nil
	}
	p, err := afterhours.ParseProfile(data)
	if err != nil {
		return nil, "", fmt.Errorf("server: the profile composed for %s: %w", id, err)
	}
	c.mu.Lock()
	if c.parsed == nil {
		c.parsed = map[string]parsedProfile{}
	}
	c.parsed[id] = parsedProfile{etag: etag, p: p}
	c.mu.Unlock()
	return p, etag, nil
}

// viewClients returns every client with its parsed profile, and a digest
// of the config, the clients' profiles and their LANs. Profiles not
// parsed before are parsed on GOMAXPROCS goroutines.
func (h *Handler) viewClients() ([]viewClient, *Config, [sha256.Size]byte, error) {
	var key [sha256.Size]byte
	cfg := h.fleet.Config()
	infos := h.fleet.Clients()
	out := make([]viewClient, len(infos))
	etags := make([]string, len(infos))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, runtime.GOMAXPROCS(0))
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(infos); i = int(next.Add(1) - 1) {
				p, etag, err := h.parsedProfile(infos[i].ID)
				switch {
				case errors.Is(err, ErrNoClient):
					continue // removed meanwhile
				case err != nil:
					errs[w] = err
					return
				}
				out[i], etags[i] = viewClient{info: infos[i], p: p}, etag
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, nil, key, err
	}
	cfgJSON, err := cfg.MarshalJSON()
	if err != nil {
		return nil, nil, key, err
	}
	sum := sha256.New()
	sum.Write(append(cfgJSON, '\n'))
	live := make(map[string]bool, len(infos))
	kept := out[:0]
	for i, ci := range infos {
		if out[i].p == nil {
			continue
		}
		sum.Write([]byte(ci.ID + "\x00" + ci.LAN + "\x00" + etags[i] + "\n"))
		live[ci.ID] = true
		kept = append(kept, out[i])
	}
	out = kept
	// Forget the profiles of removed clients.
	h.views.mu.Lock()
	for id := range h.views.parsed {
		if !live[id] {
			delete(h.views.parsed, id)
		}
	}
	h.views.mu.Unlock()
	copy(key[:], sum.Sum(nil))
	return out, cfg, key, nil
}

func (h *Handler) getLoad(w http.ResponseWriter, r *http.Request) {
	day := afterhours.DateOf(h.fleet.clk.Now().UTC())
	if s := r.URL.Query().Get("date"); s != "" {
		d, err := afterhours.ParseDate(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "date: "+err.Error(), nil)
			return
		}
		day = d
	}
	data, err := h.loadJSON(day)
	if err != nil {
		fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(data)
}

// loadJSON returns the load view of the UTC date day, from the cache when
// neither the config nor any client's profile or LAN changed.
func (h *Handler) loadJSON(day afterhours.Date) ([]byte, error) {
	clients, cfg, key, err := h.viewClients()
	if err != nil {
		return nil, err
	}
	c := &h.views
	c.loadMu.Lock()
	defer c.loadMu.Unlock()
	if c.load != nil && c.loadKey == key && c.loadDay == day {
		return c.load, nil
	}
	v, err := loadView(clients, cfg, day)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	c.load, c.loadKey, c.loadDay = data, key, day
	return data, nil
}

// loadView computes the load of every token of the config over day.
func loadView(clients []viewClient, cfg *Config, day afterhours.Date) (*LoadView, error) {
	all := make([]*afterhours.Profile, len(clients))
	for i, c := range clients {
		all[i] = c.p
	}
	l, err := fleet.LoadForecast(all, day)
	if err != nil {
		return nil, err
	}
	v := &LoadView{Date: day.String(), Start: l.Start, Minutes: l.Minutes, Tokens: []TokenView{}}
	for _, res := range cfg.Resources() {
		tv := TokenView{Token: res.Token, Zone: res.Zone, Capacity: res.Capacity, LANCapacity: res.LANCapacity,
			Load: make([]int, l.Minutes), Over: []OverStint{}}
		if tv.Zone == "" {
			tv.Zone = "UTC"
		}
		if tl := l.Token(res.Token); tl != nil {
			tv.Holders, tv.Slots, tv.Void = tl.Holders, tl.Slots, tl.Void
			tv.Peak, tv.PeakAt = tl.Peak, tl.PeakAt
			copy(tv.Load, tl.Concurrency)
			if res.Capacity > 0 && tv.Zone == "UTC" {
				tv.Over = append(tv.Over, overStints("fleet", l.Start, tl.Concurrency, res.Capacity)...)
			}
		}
		if res.Capacity > 0 && tv.Zone == "site" {
			over, err := groupOver(clients, res.Token, day, res.Capacity, "zone ", func(c viewClient) string { return c.p.Site.Timezone })
			if err != nil {
				return nil, err
			}
			tv.Over = append(tv.Over, over...)
		}
		if res.LANCapacity > 0 {
			over, err := groupOver(clients, res.Token, day, res.LANCapacity, "lan ", func(c viewClient) string { return c.info.LAN })
			if err != nil {
				return nil, err
			}
			tv.Over = append(tv.Over, over...)
		}
		v.Tokens = append(v.Tokens, tv)
	}
	return v, nil
}

// groupOver returns the stints in which a group of the clients that hold
// token (by the group's name, "" for none) has more than capacity of them
// in their slots.
func groupOver(clients []viewClient, token string, day afterhours.Date, capacity int, scope string, group func(viewClient) string) ([]OverStint, error) {
	groups := map[string][]*afterhours.Profile{}
	for _, c := range clients {
		g := group(c)
		if g == "" || !slices.ContainsFunc(c.p.Sharing, func(t *afterhours.Token) bool { return t.Token == token }) {
			continue
		}
		groups[g] = append(groups[g], c.p)
	}
	var out []OverStint
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		if len(groups[g]) <= capacity {
			continue // cannot exceed it
		}
		l, err := fleet.LoadForecast(groups[g], day)
		if err != nil {
			return nil, err
		}
		if tl := l.Token(token); tl != nil && tl.Peak > capacity {
			out = append(out, overStints(scope+g, l.Start, tl.Concurrency, capacity)...)
		}
	}
	return out, nil
}

// overStints returns the runs of minutes from start whose count exceeds
// capacity.
func overStints(scope string, start time.Time, counts []int, capacity int) []OverStint {
	var out []OverStint
	for i := 0; i < len(counts); i++ {
		if counts[i] <= capacity {
			continue
		}
		s := OverStint{Scope: scope, From: start.Add(time.Duration(i) * time.Minute), Capacity: capacity}
		for ; i < len(counts) && counts[i] > capacity; i++ {
			s.Count = max(s.Count, counts[i])
		}
		s.To = start.Add(time.Duration(i) * time.Minute)
		out = append(out, s)
	}
	return out
}

// reportHistory is the planning history the server knows of a client:
// the failed runs of its last report, in that report's cycle. A report
// carries counts, not the names of the tasks that completed, so the
// history knows of no completion and no duration.
type reportHistory struct {
	cycle  string
	failed map[string]bool
}

func (h reportHistory) Settled(task, day string) bool    { return h.Failed(task, day) }
func (h reportHistory) Durations(string) []time.Duration { return nil }
func (h reportHistory) Failed(task, day string) bool     { return day == h.cycle && h.failed[task] }

// history returns what the client's last report says of its failures.
func (h *Handler) history(client string) (afterhours.FailureHistory, error) {
	var last *StoredReport
	err := h.fleet.store.View(func(tx Tx) error {
		data, err := tx.Get(lastPrefix + client)
		if err != nil || data == nil {
			return err
		}
		last = new(StoredReport)
		return json.Unmarshal(data, last)
	})
	if err != nil {
		return nil, fmt.Errorf("server: the last report of %s: %w", client, err)
	}
	rh := reportHistory{failed: map[string]bool{}}
	if last != nil {
		rh.cycle = last.Cycle
		for _, f := range last.Failed {
			rh.failed[f.Task] = true
		}
	}
	return rh, nil
}

func (h *Handler) getPlan(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	at := h.fleet.clk.Now()
	q := r.URL.Query()
	if s := q.Get("at"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "at: want an RFC 3339 instant such as 2026-11-24T22:00:00Z", nil)
			return
		}
		at = t
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "svg" {
		writeError(w, http.StatusBadRequest, "format: want json or svg", nil)
		return
	}
	p, _, err := h.parsedProfile(id)
	if err != nil {
		fail(w, err)
		return
	}
	hist, err := h.history(id)
	if err != nil {
		fail(w, err)
		return
	}
	plan, err := afterhours.PlanAt(p, at, afterhours.WithHistory(hist))
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "plan: "+err.Error(), nil)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	if format == "svg" {
		var b bytes.Buffer
		if err := plan.WriteSVG(&b); err != nil {
			fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(b.Bytes())
		return
	}
	writeJSON(w, http.StatusOK, plan)
}
