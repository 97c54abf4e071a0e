package server

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/afterhours-go/afterhours"
)

// Role is what an admin token may do: [RoleView] reads everything,
// [RoleOperate] also acts on the running fleet, [RoleAdmin] also changes the
// config and the clients. Each role may do what the ones before it may.
type Role int

// The roles, from least to most.
const (
	RoleView Role = iota + 1
	RoleOperate
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleView:
		return "view"
	case RoleOperate:
		return "operate"
	case RoleAdmin:
		return "admin"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

type adminToken struct {
	hash string
	role Role
}

// WithAdminToken lets requests that carry the bearer token act with the
// role. The token is kept hashed; one of fewer than 16 bytes, or a role
// that is none of the three, is an error wrapping [ErrBadAdminToken].
func WithAdminToken(token string, role Role) Option {
	return func(o *options) error {
		if len(token) < 16 {
			return fmt.Errorf("%w: shorter than 16 bytes", ErrBadAdminToken)
		}
		if role < RoleView || role > RoleAdmin {
			return fmt.Errorf("%w: unknown role %v", ErrBadAdminToken, role)
		}
		o.admins = append(o.admins, adminToken{hash: hash(token), role: role})
		return nil
	}
}

// MaxBody is the largest request body the [Handler] reads; a larger one
// is refused with 413.
const MaxBody = 1 << 20

// Handler is the fleet server's HTTP API over a [Fleet]:
//
//   - the admin API, with a bearer token of a role ([WithAdminToken]):
//     GET /v1/config (view), PUT /v1/config (admin), POST
//     /v1/config/validate (admin), PUT /v1/sets/{name} and PUT
//     /v1/sites/{name} (admin), GET /v1/clients and GET /v1/clients/{id}
//     (view), PUT and DELETE /v1/clients/{id} (admin);
//   - the agent API: POST /v1/agent/enroll exchanges an enrolment code for
//     the client's token, and GET /v1/agent/clients/{id}/profile, with that
//     token, returns the client's profile with an ETag (304 when
//     If-None-Match has it; with ?wait=30s, a long-poll: the answer waits
//     for a new profile, up to the wait on the fleet's clock, at most 5
//     minutes). An agent reads only its own client's things.
//   - commands and reports: POST /v1/commands (operate) queues a command
//     ([Fleet.Queue]), GET /v1/clients/{id}/commands (view) lists a
//     client's with their states; the agent long-polls GET
//     /v1/agent/clients/{id}/commands?wait=30s ([Fleet.WaitCommands]),
//     acknowledges each with POST .../commands/{cid}/ack ([Fleet.Ack]:
//     409 for a result other than the first), and posts its cycle
//     reports to POST .../reports ([Report], [Fleet.PutReport]); GET
//     /v1/status and GET /v1/failed (view) give every client's last
//     report and the failed lists ([Fleet.Status], [Fleet.Failed]);
//   - FleetLock, the reboot manager protocol of Fedora CoreOS's Zincati,
//     without a token: POST /v1/pre-reboot and POST /v1/steady-state, and
//     GET /v1/fleetlock (view) and DELETE
//     /v1/fleetlock/{group}/holders/{id} (operate) (see
//     [Fleet.FleetLockLock]);
//   - the fleet killswitch: PUT /v1/killswitch {"reason": "..."} turns it
//     on for the whole fleet, PUT /v1/killswitch/tags/{tag} for the
//     clients whose site has the tag (operate; the reason is required, at
//     most [MaxKillReason] bytes), DELETE on either turns it off (operate),
//     GET /v1/killswitch (view) gives {"fleet": {"reason", "by", "since"}
//     or null, "tags": {"uk": {...}}, "killed_clients": N}, as each change
//     does too; the agent long-polls GET
//     /v1/agent/clients/{id}/killswitch?wait=30s&since=ETAG for its
//     client's [ClientKill] ([Fleet.WaitClientKill]), and GET /v1/status
//     says which clients the killswitch holds;
//   - resources (seed 004): GET /v1/resources?days=7 (view; 1 to 60 days)
//     lists each resource per declaring set, each downtime as declared
//     with its occurrences at each affected site up to the horizon, the
//     affected client IDs, and the affected tasks per site, the same for
//     every client of the site ([Fleet.Resources], [DowntimeInfo]), for
//     example {"now": "...", "days": 7, "resources": [{"name": "db",
//     "set": "retail", "downtimes": [{"index": 0, "action": "postpone",
//     "from": "01:00", "to": "03:00", "dates": [], "days": ["tue"],
//     "once": false, "ended": "", "running": true, "occurrences":
//     [{"site": "leeds", "start": "2026-11-24T01:00:00Z", "end":
//     "2026-11-24T03:00:00Z", "action": "postpone", "running": true,
//     "ended": false}], "clients": ["shop-1"], "tasks": [{"name":
//     "vacuum", "kind": "housekeeping"}], "sites": [{"site": "leeds",
//     "timezone": "Europe/London", "clients": 1, "tasks": [{"name":
//     "vacuum", "kind": "housekeeping"}]}]}]}]}; POST
//     /v1/resources/{name}/downtimes/{i}/end?set=NAME (operate) ends the
//     occurrence running now for the whole fleet and answers the updated
//     resource entry ([Fleet.EndDowntime]): 404 for an unknown resource,
//     set or index, 409 when several sets declare it and none is named,
//     or when no occurrence is running now;
//   - the web page: GET / serves a page (embedded, no CDN) that shows the
//     fleet's status, failed lists, load, downtimes and any client's plan,
//     asking for a token and refreshing every 15 s; GET /v1/load?date=
//     (view) gives the load per sharing token per minute of a UTC date
//     ([LoadView]), GET /v1/clients/{id}/plan?at=&format=svg (view) the
//     plan the client follows ([afterhours.PlanAt] on its profile, with
//     the failures of its last report as history), as JSON or SVG;
//   - notices: the agent posts its executor's notices (failed lists at a
//     window's and a cycle's end, stops, kills) to POST
//     .../notices ([Notice], [Fleet.PutNotice]: 200 again for a repeated
//     ID, stored once); [Handler.Run] delivers them to the [Notifier] of
//     [WithNotifier] ([Fleet.DeliverNotices]); GET /v1/notices (view)
//     lists those kept with their delivery states;
//   - replicas ([WithLeadership]): on a follower, the requests whose
//     change allocates (PUT /v1/config, /v1/sets/{name},
//     /v1/sites/{name}, PUT and DELETE /v1/clients/{id}, POST
//     /v1/resources/{name}/downtimes/{i}/end) are authorized, then
//     forwarded to the leader's URL with their body and Authorization
//     header, and marked as forwarded (the header Afterhours-Forwarded),
//     so that none is forwarded twice; without a known leader, or for a
//     forwarded request that reaches a follower, the answer is 503 with
//     Retry-After; 502 when the leader cannot be reached. Every other
//     request is served by the replica it reaches.
//
// Errors are JSON, {"error": "...", "problems": [{"path", "message"}]}:
// 400 for a request or config with problems (each with its path), 401 for
// a missing or unknown token, 403 for a token that may not do this, 404
// for an unknown client or command, 409 for a conflict, 413 for a body over [MaxBody],
// 503 (with Retry-After) on a replica that cannot make the change now. Bodies are decoded
// strictly: unknown fields, repeated keys and values of the wrong type
// are problems.
//
// A Handler is safe for concurrent use.
type Handler struct {
	fleet    *Fleet
	admins   []adminToken
	mux      *http.ServeMux
	views    viewCache // the web page's views (http_views.go)
	notifier Notifier
	forward  http.RoundTripper // to the leader (http_forward.go)
}

// New returns the handler of the fleet kept in store (see [OpenFleet]).
func New(store Store, opts ...Option) (*Handler, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	f, err := openFleet(store, o)
	if err != nil {
		return nil, err
	}
	h := &Handler{fleet: f, admins: o.admins, mux: http.NewServeMux(), notifier: o.notifier, forward: o.forward}
	h.routes()
	return h, nil
}

// Fleet returns the fleet the handler serves.
func (h *Handler) Fleet() *Fleet { return h.fleet }

// ServeHTTP implements [http.Handler].
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) routes() {
	h.mux.HandleFunc("GET /v1/config", h.admin(RoleView, h.getConfig))
	h.mux.HandleFunc("PUT /v1/config", h.admin(RoleAdmin, h.leaderOnly(h.putConfig)))
	h.mux.HandleFunc("POST /v1/config/validate", h.admin(RoleAdmin, h.validateConfig))
	h.mux.HandleFunc("PUT /v1/sets/{name}", h.admin(RoleAdmin, h.leaderOnly(h.putSet)))
	h.mux.HandleFunc("PUT /v1/sites/{name}", h.admin(RoleAdmin, h.leaderOnly(h.putSite)))
	h.mux.HandleFunc("GET /v1/clients", h.admin(RoleView, h.listClients))
	h.mux.HandleFunc("GET /v1/clients/{id}", h.admin(RoleView, h.getClient))
	h.mux.HandleFunc("PUT /v1/clients/{id}", h.admin(RoleAdmin, h.leaderOnly(h.putClient)))
	h.mux.HandleFunc("DELETE /v1/clients/{id}", h.admin(RoleAdmin, h.leaderOnly(h.deleteClient)))
	h.mux.HandleFunc("POST /v1/agent/enroll", h.enroll)
	h.mux.HandleFunc("GET /v1/agent/clients/{id}/profile", h.agent(h.agentProfile))
	h.mux.HandleFunc("POST /v1/commands", h.admin(RoleOperate, h.postCommand))
	h.mux.HandleFunc("GET /v1/clients/{id}/commands", h.admin(RoleView, h.clientCommands))
	h.mux.HandleFunc("GET /v1/status", h.admin(RoleView, h.status))
	h.mux.HandleFunc("GET /v1/failed", h.admin(RoleView, h.failed))
	h.mux.HandleFunc("GET /v1/agent/clients/{id}/commands", h.agent(h.agentCommands))
	h.mux.HandleFunc("POST /v1/agent/clients/{id}/commands/{cid}/ack", h.agent(h.ackCommand))
	h.mux.HandleFunc("POST /v1/agent/clients/{id}/reports", h.agent(h.postReport))
	// FleetLock (Zincati's reboot manager protocol): http_fleetlock.go.
	h.fleetlockRoutes()
	// The fleet killswitch.
	h.mux.HandleFunc("GET /v1/killswitch", h.admin(RoleView, h.getKillSwitch))
	h.mux.HandleFunc("PUT /v1/killswitch", h.admin(RoleOperate, h.putKillFleet))
	h.mux.HandleFunc("DELETE /v1/killswitch", h.admin(RoleOperate, h.deleteKillFleet))
	h.mux.HandleFunc("PUT /v1/killswitch/tags/{tag}", h.admin(RoleOperate, h.putKillTag))
	h.mux.HandleFunc("DELETE /v1/killswitch/tags/{tag}", h.admin(RoleOperate, h.deleteKillTag))
	h.mux.HandleFunc("GET /v1/agent/clients/{id}/killswitch", h.agent(h.agentKillSwitch))
	// Resources and their downtimes, with "end now" (seed 004).
	h.mux.HandleFunc("GET /v1/resources", h.admin(RoleView, h.listResources))
	h.mux.HandleFunc("POST /v1/resources/{name}/downtimes/{i}/end", h.admin(RoleOperate, h.leaderOnly(h.endDowntime)))
	// The web page and its views (web.go, http_views.go).
	h.mux.HandleFunc("GET /v1/load", h.admin(RoleView, h.getLoad))
	h.mux.HandleFunc("GET /v1/clients/{id}/plan", h.admin(RoleView, h.getPlan))
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.Handle("GET /web/", h.webFiles())
	// Notices: the agents' failed lists, stored and delivered to the Notifier.
	h.mux.HandleFunc("POST /v1/agent/clients/{id}/notices", h.agent(h.postNotice))
	h.mux.HandleFunc("GET /v1/notices", h.admin(RoleView, h.listNotices))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, nil)
	})
}

// bearer returns the request's bearer token, or "".
func bearer(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// admin wraps an admin endpoint: the request needs a token of at least
// role. Every known token's hash is compared, in constant time.
func (h *Handler) admin(role Role, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			writeError(w, http.StatusUnauthorized, "a bearer token is required", nil)
			return
		}
		th := []byte(hash(tok))
		var have Role
		for _, a := range h.admins {
			if subtle.ConstantTimeCompare(th, []byte(a.hash)) == 1 {
				have = max(have, a.role)
			}
		}
		switch {
		case have == 0:
			writeError(w, http.StatusUnauthorized, "unknown token", nil)
		case have < role:
			writeError(w, http.StatusForbidden, fmt.Sprintf("the %v role may not do this: it needs %v", have, role), nil)
		default:
			next(w, r)
		}
	}
}

// agent wraps an agent endpoint of /v1/agent/clients/{id}/...: the
// request needs the token of that client.
func (h *Handler) agent(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			writeError(w, http.StatusUnauthorized, "a bearer token is required", nil)
			return
		}
		id, err := h.fleet.Authenticate(tok)
		if err != nil {
			writeError(w, http.StatusUnauthorized, "unknown token", nil)
			return
		}
		if id != r.PathValue("id") {
			writeError(w, http.StatusForbidden, "an agent reads only its own client's things", nil)
			return
		}
		h.fleet.Seen(id)
		next(w, r)
	}
}

// errorBody is the JSON of every error.
type errorBody struct {
	Error    string        `json:"error"`
	Problems []problemJSON `json:"problems,omitempty"`
}

type problemJSON struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string, ps []afterhours.Problem) {
	body := errorBody{Error: msg}
	for _, p := range ps {
		body.Problems = append(body.Problems, problemJSON{p.Path, p.Message})
	}
	writeJSON(w, status, body)
}

// fail writes err with the status its kind calls for.
func fail(w http.ResponseWriter, err error) {
	var ve *afterhours.ValidationError
	switch {
	case errors.As(err, &ve):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%d problems", len(ve.Problems)), ve.Problems)
	case errors.Is(err, ErrNoClient), errors.Is(err, ErrNoCommand):
		writeError(w, http.StatusNotFound, err.Error(), nil)
	case errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, err.Error(), nil)
	case errors.Is(err, ErrBadClient):
		writeError(w, http.StatusBadRequest, err.Error(), nil)
	case errors.Is(err, ErrBadCode):
		writeError(w, http.StatusUnauthorized, err.Error(), nil)
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrContended):
		noLeader(w, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
	}
}

// body reads the request body, at most MaxBody bytes; it writes the error
// and reports false when it cannot.
func body(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", tooBig.Limit), nil)
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "read request body: "+err.Error(), nil)
		return nil, false
	}
	return data, true
}

// decodeStrict decodes the JSON object data into the fields named in
// dst (a member name to a pointer to its value, each a string here),
// refusing invalid JSON, unknown members, repeated keys and wrong types,
// with their paths.
func decodeStrict(data []byte, dst map[string]*string) error {
	var ps problems
	if !json.Valid(data) {
		ps.add("", "invalid JSON")
		return ps.err()
	}
	known := make([]string, 0, len(dst))
	for k := range dst {
		known = append(known, k)
	}
	o, ok := readObject(&ps, "", data, known)
	if ok {
		for _, f := range o {
			readValue(&ps, f.key, f.value, dst[f.key], "a string")
		}
	}
	return ps.err()
}
