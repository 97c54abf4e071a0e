package server_test

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/stretchr/testify/require"
)

// docConfig is the fleet config of the README's session: two sites, a
// shared package mirror, and two sets of tasks.
const docConfig = `{
  "sites": [
    {"name": "leeds", "timezone": "Europe/London", "tags": ["uk", "retail"],
     "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-18:00"],
       "thu": ["08:00-18:00"], "fri": ["08:00-18:00"], "sat": ["09:00-13:00"]}, "grace": "30m"},
    {"name": "austin", "timezone": "America/Chicago", "tags": ["us", "kiosk"],
     "business_hours": {"mon": ["07:00-22:00"], "tue": ["07:00-22:00"], "wed": ["07:00-22:00"],
       "thu": ["07:00-22:00"], "fri": ["07:00-22:00"], "sat": ["07:00-22:00"], "sun": ["07:00-22:00"]}}
  ],
  "sharing": [
    {"token": "pkg-repo", "zone": "UTC", "duration": "20m", "buffer": "10m", "uses": ["network"],
     "capacity": 100, "lan_capacity": 2,
     "tasks": [{"name": "fetch-packages", "run": ["/usr/lib/agent/fetch"]}]}
  ],
  "sets": [
    {"name": "base", "tags": [],
     "housekeeping": [{"name": "rotate-logs", "run": ["/usr/sbin/logrotate", "/etc/logrotate.conf"], "estimate": "2m"}]},
    {"name": "retail", "tags": ["retail"],
     "housekeeping": [{"name": "vacuum-db", "run": ["/usr/lib/agent/vacuum"], "estimate": "20m", "uses": ["db"]}],
     "resources": [{"name": "db", "downtimes": [{"days": ["sun"], "from": "01:00", "to": "03:00", "action": "postpone"}]}]}
  ],
  "fleetlock": {"default": 1}
}`

// apiScript calls every endpoint once or more, in the order a team meets
// them: the config, the clients, an agent's life, commands and reports,
// the killswitch, FleetLock.
func apiScript(s *apiSession) {
	t := s.t
	s.heading("Fleet config", "The config of the whole fleet, validated like a profile: every problem with its path, and nothing applied when there is one.")
	s.call("/v1/config", "replaces the config (admin)", "PUT", "/v1/config", docAdmin, docConfig)
	bad := `{"sites": [{"name": "leeds", "timezone": "Europe/London", "grace": "30 minutes"}],
	  "sharing": [{"token": "pkg-repo", "zone": "UTC", "duration": "20m", "capacity": -1}],
	  "sets": [{"name": "base", "housekeeping": [{"name": "vacuum-db", "run": ["vacuum"]}]}]}`
	s.call("/v1/config/validate", "checks a config without applying it (admin)", "POST", "/v1/config/validate", docAdmin, bad)
	s.call("/v1/config", "returns the config (view)", "GET", "/v1/config", docView, "")
	s.call("/v1/sets/{name}", "replaces one set, or adds it (admin)", "PUT", "/v1/sets/retail", docAdmin,
		`{"name": "retail", "tags": ["retail"],
		  "housekeeping": [{"name": "vacuum-db", "run": ["/usr/lib/agent/vacuum", "--full"], "estimate": "30m", "uses": ["db"]}],
		  "resources": [{"name": "db", "downtimes": [{"days": ["sun"], "from": "01:00", "to": "03:00", "action": "postpone"}]}]}`)
	s.call("/v1/sites/{name}", "replaces one site, or adds it (admin)", "PUT", "/v1/sites/austin", docAdmin,
		`{"name": "austin", "timezone": "America/Chicago", "tags": ["us", "kiosk"],
		  "business_hours": {"mon": ["07:00-21:00"], "tue": ["07:00-21:00"], "wed": ["07:00-21:00"],
		    "thu": ["07:00-21:00"], "fri": ["07:00-21:00"], "sat": ["07:00-21:00"], "sun": ["07:00-21:00"]}}`)

	s.heading("Clients", "A client is registered by an admin, who gets a one-time enrolment code for its agent; it gets its bases for the shared tokens as it joins, and no other client moves.")
	_, data := s.call("/v1/clients/{id}", "registers a client (admin)", "PUT", "/v1/clients/shop-0042", docAdmin, `{"site": "leeds", "lan": "leeds-1"}`)
	var reg struct{ Code string }
	require.NoError(t, json.Unmarshal(data, &reg))
	s.hide(reg.Code, "$ENROLMENT_CODE")
	_, data = s.call("/v1/clients/{id}", "registers a client (admin)", "PUT", "/v1/clients/kiosk-7", docAdmin, `{"site": "austin"}`)
	var reg2 struct{ Code string }
	require.NoError(t, json.Unmarshal(data, &reg2))
	s.hide(reg2.Code, "$ENROLMENT_CODE_2")
	s.call("/v1/clients", "lists the clients (view)", "GET", "/v1/clients", docView, "")
	s.call("/v1/clients/{id}", "returns one (view)", "GET", "/v1/clients/shop-0042", docView, "")
	s.call("/v1/clients/{id}", "removes one, and frees its bases (admin)", "DELETE", "/v1/clients/kiosk-7", docAdmin, "")

	s.heading("Agent", "What `afterhours agent` (package agentlink) calls, with the client's token: it reads only its own client's things.")
	_, data = s.call("/v1/agent/enroll", "exchanges the enrolment code for the client's token (once)", "POST", "/v1/agent/enroll", "", `{"code": "`+reg.Code+`"}`)
	var enrolled struct{ Token string }
	require.NoError(t, json.Unmarshal(data, &enrolled))
	s.hide(enrolled.Token, "$CLIENT_TOKEN")
	tok := enrolled.Token
	_, _ = s.call("/v1/agent/clients/{id}/profile", "returns the client's profile, an ordinary profile, with its ETag; with If-None-Match and ?wait=5m it waits for a change (a long-poll), and answers 304 when none came", "GET", "/v1/agent/clients/shop-0042/profile", tok, "")
	s.call("/v1/agent/clients/{id}/profile", "another client's profile is refused", "GET", "/v1/agent/clients/kiosk-7/profile", tok, "")

	s.heading("Commands", "A command is queued for clients by id or by site tags; the agent long-polls its queue, stores each command in its executor, and acknowledges it: delivered at least once, run at most once.")
	_, data = s.call("/v1/commands", "queues a command (operate)", "POST", "/v1/commands", docOperate,
		`{"id": "c-17", "name": "clear-spool", "run": ["/usr/lib/agent/clear-spool"], "timeout": "5m", "tags": ["retail"]}`)
	s.call("/v1/agent/clients/{id}/commands", "the agent's pending commands; with ?wait=5m a long-poll", "GET", "/v1/agent/clients/shop-0042/commands", tok, "")
	s.call("/v1/agent/clients/{id}/commands/{cid}/ack", "the agent's result: accepted, or refused with the reason", "POST", "/v1/agent/clients/shop-0042/commands/c-17/ack", tok, `{"result": "accepted"}`)
	s.call("/v1/clients/{id}/commands", "a client's commands and their states (view)", "GET", "/v1/clients/shop-0042/commands", docView, "")
	_ = data

	s.heading("Reports and status", "The agent posts a report of its cycle after each cycle, and at once on a failure or a kill; reports are idempotent by cycle and sequence number.")
	s.clk.Set(time.Date(2026, 11, 24, 18, 31, 0, 0, time.UTC)) // the cycle of 23 November has ended
	s.call("/v1/agent/clients/{id}/reports", "a cycle's report", "POST", "/v1/agent/clients/shop-0042/reports", tok,
		`{"cycle": "2026-11-23", "seq": 3, "sent": "2026-11-24T18:30:00Z", "closed": true,
		  "counts": {"completed": 2, "failed": 1},
		  "failed": [{"task": "vacuum-db", "kind": "housekeeping", "error": "exit status 2", "exit_code": 2,
		    "start": "2026-11-23T22:00:00Z", "end": "2026-11-23T22:21:00Z"}],
		  "shared": [{"task": "fetch-packages", "state": "completed", "start": "2026-11-24T06:36:00Z", "end": "2026-11-24T06:41:00Z"}]}`)
	s.call("/v1/status", "every client: last seen, its last report, whether the killswitch holds it (view)", "GET", "/v1/status", docView, "")
	s.call("/v1/failed", "the failed lists (view)", "GET", "/v1/failed", docView, "")

	s.heading("Notices", "The executor tells of its failed list once when its window ends, and again at the cycle's end only of the failures after it; the agent posts each notice from a durable outbox, at least once, and the server keeps one per id and delivers it to its Notifier (afterhours serve -webhook URL).")
	s.call("/v1/agent/clients/{id}/notices", "a notice of the agent; posted again, it is stored once", "POST", "/v1/agent/clients/shop-0042/notices", tok,
		`{"id": "shop-0042.2026-11-23.failures.window.3f9a01c2-1", "kind": "failures", "day": "2026-11-23",
		  "at": "2026-11-24T08:00:00Z",
		  "failed": [{"task": "vacuum-db", "kind": "housekeeping", "error": "exit status 2", "exit_code": 2,
		    "start": "2026-11-23T22:00:00Z", "end": "2026-11-23T22:21:00Z"}]}`)
	s.call("/v1/notices", "the notices kept, with their delivery states (view)", "GET", "/v1/notices", docView, "")

	s.heading("Load and plans", "The fleet's load per shared token, minute by minute, from every client's profile; and the plan a client follows, as JSON or as the SVG timeline the web page shows.")
	_, data = s.call("/v1/load", "the load of each token per minute of a UTC date: 1,440 counts, the peak, the minutes over capacity (view)", "GET", "/v1/load?date=2026-11-24", docView, "")
	_ = data
	s.call("/v1/clients/{id}/plan", "the plan the client follows at an instant (now by default); &format=svg for its drawing (view)", "GET", "/v1/clients/shop-0042/plan?at=2026-11-23T22:00:00Z", docView, "")

	s.heading("Killswitch", "The killswitch for the whole fleet or the clients of a site tag: their executors stop at once (runs are ended, nothing starts) and stay stopped until it is turned off.")
	s.call("/v1/killswitch/tags/{tag}", "turns it on for a tag (operate)", "PUT", "/v1/killswitch/tags/uk", docOperate, `{"reason": "INC-4411: bad openssl build"}`)
	s.call("/v1/agent/clients/{id}/killswitch", "the agent's view; with ?wait=5m&since=ETAG a long-poll", "GET", "/v1/agent/clients/shop-0042/killswitch", tok, "")
	s.call("/v1/killswitch/tags/{tag}", "turns it off for the tag (operate)", "DELETE", "/v1/killswitch/tags/uk", docOperate, "")
	s.call("/v1/killswitch", "turns it on for the whole fleet (operate)", "PUT", "/v1/killswitch", docOperate, `{"reason": "datacentre move"}`)
	s.call("/v1/killswitch", "the killswitch's state (view)", "GET", "/v1/killswitch", docView, "")
	s.call("/v1/killswitch", "turns it off (operate)", "DELETE", "/v1/killswitch", docOperate, "")

	s.heading("FleetLock", "The reboot manager protocol of Fedora CoreOS's Zincati, on the config's fleetlock groups: no token, the protocol's header and error format.")
	zincati := []string{"fleet-lock-protocol", "true"}
	s.call("/v1/pre-reboot", "takes a slot of the group before a reboot", "POST", "/v1/pre-reboot", "",
		`{"client_params": {"id": "node-a", "group": "default"}}`, zincati...)
	s.call("/v1/pre-reboot", "the group of one slot is full", "POST", "/v1/pre-reboot", "",
		`{"client_params": {"id": "node-b", "group": "default"}}`, zincati...)
	s.call("/v1/fleetlock", "the groups and their holders (view)", "GET", "/v1/fleetlock", docView, "")
	s.call("/v1/steady-state", "releases the slot once back in a steady state", "POST", "/v1/steady-state", "",
		`{"client_params": {"id": "node-a", "group": "default"}}`, zincati...)
	s.call("/v1/fleetlock/{group}/holders/{id}", "releases the slot of a machine that died holding it (operate)", "DELETE", "/v1/fleetlock/default/holders/node-b", docOperate, "")

	s.heading("Resources and downtimes", "Resources and their downtimes are declared in the config's sets and shared by every client whose profile takes them; a downtime running now can be ended early for the whole fleet.")
	s.call("/v1/resources", "every resource, its downtimes, their next occurrences in each site's zone, and the sites, clients and tasks each affects (view)", "GET", "/v1/resources?days=7", docView, "")
	s.clk.Set(time.Date(2026, 11, 29, 1, 30, 0, 0, time.UTC)) // a Sunday, 01:30 in London: db is down
	s.call("/v1/resources/{name}/downtimes/{i}/end", "ends downtime 0 of db now, for every client it affects (operate); their profiles change, so their agents get them at once", "POST", "/v1/resources/db/downtimes/0/end", docOperate, "")

	s.heading("Errors", `Every error but FleetLock's is {"error": "...", "problems": [{"path": "...", "message": "..."}]}.`)
	s.call("/v1/clients", "a wrong token", "GET", "/v1/clients", "not-a-token-of-this-server", "")
	s.call("/v1/config", "a role that may not", "PUT", "/v1/config", docView, docConfig)
	_ = http.StatusOK
}
