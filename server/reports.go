package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours"
)

// Report is what an agent tells the server of a cycle (POST
// /v1/agent/clients/{id}/reports): the cycle's site-local date, a sequence
// number that grows with each report of the cycle, when it was sent (on
// the agent's clock), how many records of the cycle's journal are in each
// state, the failed runs, the slot-task runs (when the client used the
// shared resources), and whether the killswitch is on.
//
//	{"cycle": "2026-11-24", "seq": 3, "sent": "2026-11-24T23:40:00Z",
//	 "counts": {"completed": 4, "failed": 1, "deferred": 2},
//	 "failed": [{"task": "backup", "kind": "housekeeping", "error": "exit status 2",
//	             "exit_code": 2, "start": "...", "end": "..."}],
//	 "shared": [{"task": "fetch-packages", "state": "completed", "start": "...", "end": "..."}],
//	 "killed": false, "closed": false}
type Report struct {
	Cycle  string                   `json:"cycle"`
	Seq    int64                    `json:"seq"`
	Sent   time.Time                `json:"sent,omitzero"`
	Counts map[afterhours.State]int `json:"counts,omitempty"`
	Failed []FailedRun              `json:"failed,omitempty"`
	// Shared lists the cycle's slot-task runs that started, with their
	// times: when the client used the fleet's shared resources, which the
	// server audits against the tokens' capacities.
	Shared []SharedRun `json:"shared,omitempty"`
	// Killed is set while the agent's killswitch is on.
	Killed bool `json:"killed,omitempty"`
	// Closed is set once the cycle has ended and nothing of it runs.
	Closed bool `json:"closed,omitempty"`
}

// FailedRun is a failed run of a [Report]: the parts of an
// [afterhours.Record] an operator needs.
type FailedRun struct {
	Task        string          `json:"task"`
	Kind        afterhours.Kind `json:"kind"`
	Command     string          `json:"command,omitempty"`
	Error       string          `json:"error,omitempty"`
	ExitCode    int             `json:"exit_code"`
	Start       time.Time       `json:"start,omitzero"`
	End         time.Time       `json:"end,omitzero"`
	Interrupted bool            `json:"interrupted,omitempty"`
}

// SharedRun is a slot task's run of a [Report]: its task (a task of one of
// the profile's sharing tokens), when it started, when it ended (zero while
// it runs) and its state.
type SharedRun struct {
	Task  string           `json:"task"`
	State afterhours.State `json:"state"`
	Start time.Time        `json:"start"`
	End   time.Time        `json:"end,omitzero"`
}

// StoredReport is a [Report] as the server keeps it: with the client and
// when it was received, on the fleet's clock.
type StoredReport struct {
	Report
	Client   string    `json:"client"`
	Received time.Time `json:"received"`
}

// KeepCycles is how many cycles' last reports the server keeps per
// client; older ones are deleted as newer ones come.
const KeepCycles = 30

const (
	reportsPrefix = "reports/" // "reports/<client>/<cycle>"
	lastPrefix    = "last/"    // "last/<client>": the report of the newest cycle
	seenPrefix    = "seen/"    // "seen/<client>": RFC 3339 instant
)

var states = []afterhours.State{afterhours.StateToDo, afterhours.StateActive,
	afterhours.StateCompleted, afterhours.StateFailed, afterhours.StateDeferred}

// check reports the problems of r, with their paths.
func (r *Report) check() error {
	var ps problems
	if _, err := afterhours.ParseDate(r.Cycle); err != nil {
		ps.add("cycle", "want a date such as 2026-11-24")
	}
	if r.Seq < 1 {
		ps.add("seq", "want a number from 1")
	}
	for s, n := range r.Counts {
		if !slices.Contains(states, s) {
			ps.add("counts."+string(s), "unknown state")
		}
		if n < 0 {
			ps.add("counts."+string(s), "must not be negative")
		}
	}
	if len(r.Failed) > 10000 {
		ps.add("failed", "more than 10000 runs")
	}
	for i, f := range r.Failed {
		if f.Task == "" {
			ps.add(fmt.Sprintf("failed[%d].task", i), "required")
		}
		if _, err := f.Kind.MarshalText(); err != nil {
			ps.add(fmt.Sprintf("failed[%d].kind", i), "required: housekeeping, update, self-update, shared, command or timer")
		}
	}
	if len(r.Shared) > 10000 {
		ps.add("shared", "more than 10000 runs")
	}
	for i, sr := range r.Shared {
		if sr.Task == "" {
			ps.add(fmt.Sprintf("shared[%d].task", i), "required")
		}
		if !slices.Contains(states, sr.State) {
			ps.add(fmt.Sprintf("shared[%d].state", i), "want active, completed or failed")
		}
		if sr.Start.IsZero() {
			ps.add(fmt.Sprintf("shared[%d].start", i), "required")
		} else if !sr.End.IsZero() && sr.End.Before(sr.Start) {
			ps.add(fmt.Sprintf("shared[%d].end", i), "before its start")
		}
	}
	return ps.err()
}

// ParseReport decodes a report strictly (unknown fields, repeated keys
// and values of the wrong type are problems, with their paths) and validates it:
// a cycle date, a sequence number from 1, counts by known states and not
// negative, a task and a kind for each failed run.
func ParseReport(data []byte) (Report, error) {
	var r Report
	known := []string{"cycle", "seq", "sent", "counts", "failed", "shared", "killed", "closed"}
	if err := decodeStrictStruct(data, known, &r); err != nil {
		return Report{}, err
	}
	return r, r.check()
}

// ReportResult says what [Fleet.PutReport] did.
type ReportResult string

// The results of a report.
const (
	ReportStored    ReportResult = "stored"    // the newest of its cycle
	ReportDuplicate ReportResult = "duplicate" // its (cycle, seq) was stored before: nothing changed
	ReportStale     ReportResult = "stale"     // a newer seq of its cycle was stored, or the cycle is older than those kept: ignored
)

// PutReport stores the client's report, the last of its cycle, unless the
// cycle has one of the same or a higher sequence number (then nothing
// changes: a retried or late report is no error); the client's last
// [KeepCycles] cycles are kept, and a report of an older one is ignored.
// A late report of an older cycle is stored as that cycle's, and leaves
// the newest cycle the one [Fleet.Status] shows. It records that the client was heard
// from, and fails with [ErrNoClient] for a client the fleet lacks.
func (f *Fleet) PutReport(client string, r Report) (ReportResult, error) {
	if err := r.check(); err != nil {
		return "", err
	}
	if _, err := f.Client(client); err != nil {
		return "", err
	}
	now := f.clk.Now().UTC()
	var result ReportResult
	err := f.store.Update(func(tx Tx) error {
		result = ReportStored // the function may run more than once
		if err := clientExists(tx, client); err != nil {
			return err
		}
		key := reportsPrefix + client + "/" + r.Cycle
		old, err := tx.Get(key)
		if err != nil {
			return err
		}
		if old != nil {
			var o StoredReport
			if err := json.Unmarshal(old, &o); err != nil {
				return fmt.Errorf("server: stored report %s: %w", key, err)
			}
			switch {
			case o.Seq == r.Seq:
				result = ReportDuplicate
			case o.Seq > r.Seq:
				result = ReportStale
			}
		}
		if err := f.seen.write(tx, client, now); err != nil {
			return err
		}
		if result != ReportStored {
			return nil
		}
		data, err := json.Marshal(StoredReport{Report: r, Client: client, Received: now})
		if err != nil {
			return err
		}
		if err := tx.Put(key, data); err != nil {
			return err
		}
		// The newest cycle's report is kept under its own key too, so
		// that the status reads one report per client.
		newest, err := lastCycle(tx, client)
		if err != nil {
			return err
		}
		if r.Cycle >= newest {
			if err := tx.Put(lastPrefix+client, data); err != nil {
				return err
			}
		}
		var cycles []string
		err = tx.Scan(reportsPrefix+client+"/", func(k string, _ []byte) error {
			cycles = append(cycles, k)
			return nil
		})
		if err != nil {
			return err
		}
		for len(cycles) > KeepCycles {
			if err := tx.Delete(cycles[0]); err != nil {
				return err
			}
			if cycles[0] == key {
				result = ReportStale // older than every cycle kept
			}
			cycles = cycles[1:]
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	f.seen.set(client, now)
	return result, nil
}

// Reports returns the client's stored reports, the last of each cycle,
// oldest cycle first.
func (f *Fleet) Reports(client string) ([]StoredReport, error) {
	if _, err := f.Client(client); err != nil {
		return nil, err
	}
	out := []StoredReport{}
	err := f.store.View(func(tx Tx) error {
		return tx.Scan(reportsPrefix+client+"/", func(k string, v []byte) error {
			var r StoredReport
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("server: stored report %s: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// ClientStatus is a client's line of the fleet's status: its site, when
// its agent was last heard from (zero when never), and the last report of
// its newest cycle (nil when none).
type ClientStatus struct {
	Client   string        `json:"client"`
	Site     string        `json:"site"`
	LastSeen time.Time     `json:"last_seen,omitzero"`
	Last     *StoredReport `json:"last,omitempty"`
	// KillSwitch is set while the fleet's killswitch holds the client
	// (fleet-wide or by a tag of its site; see [Fleet.ClientKill]);
	// Last.Killed says whether its agent reported itself killed.
	KillSwitch bool `json:"killswitch"`
}

// Status returns every client's status, sorted by ID.
func (f *Fleet) Status() ([]ClientStatus, error) {
	clients := f.Clients()
	last := map[string]*StoredReport{}
	stored := map[string]time.Time{}
	err := f.store.View(func(tx Tx) error {
		err := tx.Scan(lastPrefix, func(k string, v []byte) error {
			r := new(StoredReport)
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("server: stored report %s: %w", k, err)
			}
			last[r.Client] = r
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Scan(seenPrefix, func(k string, v []byte) error {
			t, err := time.Parse(time.RFC3339Nano, string(v))
			if err != nil {
				return fmt.Errorf("server: stored %s: %w", k, err)
			}
			stored[strings.TrimPrefix(k, seenPrefix)] = t
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]ClientStatus, 0, len(clients))
	for _, c := range clients {
		seen := stored[c.ID]
		if t := f.seen.get(c.ID); t.After(seen) {
			seen = t
		}
		out = append(out, ClientStatus{Client: c.ID, Site: c.Site, LastSeen: seen, Last: last[c.ID]})
	}
	if err := f.markKilled(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ClientFailures is the failed list of a client's newest cycle.
type ClientFailures struct {
	Client string      `json:"client"`
	Site   string      `json:"site"`
	Cycle  string      `json:"cycle"`
	Failed []FailedRun `json:"failed"`
}

// Failed returns the failed lists of the newest cycle of each client that
// has failures there, sorted by client ID.
func (f *Fleet) Failed() ([]ClientFailures, error) {
	st, err := f.Status()
	if err != nil {
		return nil, err
	}
	out := []ClientFailures{}
	for _, s := range st {
		if s.Last != nil && len(s.Last.Failed) > 0 {
			out = append(out, ClientFailures{Client: s.Client, Site: s.Site, Cycle: s.Last.Cycle, Failed: s.Last.Failed})
		}
	}
	return out, nil
}

// Seen records that the client's agent was heard from now, on the fleet's
// clock. It is kept in memory (an agent's request costs no write), and
// stored with the client's next acknowledgement or report.
func (f *Fleet) Seen(client string) { f.seen.set(client, f.clk.Now().UTC()) }

// lastSeen is when each client was last heard from. Its zero value is
// ready; it is safe for concurrent use.
type lastSeen struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *lastSeen) set(client string, t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at == nil {
		s.at = map[string]time.Time{}
	}
	if t.After(s.at[client]) {
		s.at[client] = t
	}
}

func (s *lastSeen) get(client string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.at[client]
}

// write writes t in tx as when the client was last seen; the caller sets
// it in memory once tx commits.
func (s *lastSeen) write(tx Tx, client string, t time.Time) error {
	return tx.Put(seenPrefix+client, []byte(t.Format(time.RFC3339Nano)))
}

// keep forgets the clients that clients lacks.
func (s *lastSeen) keep(clients map[string]*clientRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.at {
		if clients[id] == nil {
			delete(s.at, id)
		}
	}
}

func (s *lastSeen) forget(client string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.at, client)
}

// deleteClientOps deletes in tx the client's commands, reports and last
// seen time: a client registered again under its ID starts afresh.
func deleteClientOps(tx Tx, client string) error {
	var keys []string
	for _, prefix := range []string{commandsPrefix, reportsPrefix} {
		err := tx.Scan(prefix+client+"/", func(k string, _ []byte) error {
			keys = append(keys, k)
			return nil
		})
		if err != nil {
			return err
		}
	}
	keys = append(keys, seenPrefix+client, lastPrefix+client)
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// lastCycle returns the cycle of the client's newest report in tx, or "".
func lastCycle(tx Tx, client string) (string, error) {
	data, err := tx.Get(lastPrefix + client)
	if err != nil || data == nil {
		return "", err
	}
	var r StoredReport
	if err := json.Unmarshal(data, &r); err != nil {
		return "", fmt.Errorf("server: stored %s%s: %w", lastPrefix, client, err)
	}
	return r.Cycle, nil
}

// clientExists fails with [ErrNoClient] when tx has no record of the
// client: a change that races with its removal stores nothing of it.
func clientExists(tx Tx, client string) error {
	data, err := tx.Get(clientsPrefix + client)
	if err != nil {
		return err
	}
	if data == nil {
		return fmt.Errorf("%w: %q", ErrNoClient, client)
	}
	return nil
}
