package afterhours

import (
	"encoding/json"
	"time"
)

// The JSON form of a plan names tasks rather than repeating them, and gives
// every instant in RFC 3339 in the site's zone. It is stable: the same plan
// marshals to the same bytes.

type intervalJSON struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

func rfc3339(t time.Time) string { return t.Format(time.RFC3339) }

func (iv Interval) toJSON() intervalJSON {
	return intervalJSON{Start: rfc3339(iv.Start), End: rfc3339(iv.End)}
}

// MarshalJSON encodes the interval with RFC 3339 instants.
func (iv Interval) MarshalJSON() ([]byte, error) { return json.Marshal(iv.toJSON()) }

type slotJSON struct {
	Token  string       `json:"token"`
	Buffer intervalJSON `json:"buffer"`
	Run    intervalJSON `json:"run"`
	Void   bool         `json:"void,omitempty"`
	Tasks  []string     `json:"tasks"`
}

func (s Slot) toJSON() slotJSON {
	sj := slotJSON{Token: s.Token, Buffer: s.Buffer.toJSON(), Run: s.Run.toJSON(), Void: s.Void, Tasks: make([]string, 0, len(s.Tasks))}
	for _, t := range s.Tasks {
		sj.Tasks = append(sj.Tasks, t.Name)
	}
	return sj
}

type stepJSON struct {
	Task  string `json:"task"`
	Kind  Kind   `json:"kind"`
	Start string `json:"start"`
	End   string `json:"end"`
}

type deferralJSON struct {
	Task   string `json:"task"`
	Kind   Kind   `json:"kind"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

type timerJSON struct {
	Task string `json:"task"`
	At   string `json:"at"`
}

type downtimeJSON struct {
	Resource string `json:"resource"`
	Start    string `json:"start"`
	End      string `json:"end"`
	Action   string `json:"action"`
	Ended    bool   `json:"ended,omitempty"`
}

type planJSON struct {
	Client     string         `json:"client"`
	Day        string         `json:"day"`
	Span       intervalJSON   `json:"span"`
	Window     intervalJSON   `json:"window"`
	From       string         `json:"from"`
	Slots      []slotJSON     `json:"slots"`
	Neighbours []slotJSON     `json:"neighbours"`
	Steps      []stepJSON     `json:"steps"`
	Downtimes  []downtimeJSON `json:"downtimes"`
	Timers     []timerJSON    `json:"timers"`
	Deferred   []deferralJSON `json:"deferred"`
}

// MarshalJSON encodes the plan with tasks by name and kind, RFC 3339
// instants in the site's zone, and empty lists as [] rather than null.
func (p *Plan) MarshalJSON() ([]byte, error) {
	out := planJSON{
		Client:     p.Client,
		Day:        p.Day,
		Span:       p.Span.toJSON(),
		Window:     p.Window.toJSON(),
		From:       rfc3339(p.From),
		Neighbours: make([]slotJSON, 0, len(p.Neighbours)),
		Slots:      make([]slotJSON, 0, len(p.Slots)),
		Steps:      make([]stepJSON, 0, len(p.Steps)),
		Timers:     make([]timerJSON, 0, len(p.Timers)),
		Downtimes:  make([]downtimeJSON, 0, len(p.Downtimes)),
		Deferred:   make([]deferralJSON, 0, len(p.Deferred)),
	}
	for _, d := range p.Downtimes {
		out.Downtimes = append(out.Downtimes, downtimeJSON{Resource: d.Resource, Start: rfc3339(d.Start), End: rfc3339(d.End), Action: d.Action, Ended: d.Ended})
	}
	for _, r := range p.Timers {
		out.Timers = append(out.Timers, timerJSON{Task: r.Task.Name, At: rfc3339(r.At)})
	}
	for _, s := range p.Slots {
		out.Slots = append(out.Slots, s.toJSON())
	}
	for _, s := range p.Neighbours {
		out.Neighbours = append(out.Neighbours, s.toJSON())
	}
	for _, s := range p.Steps {
		out.Steps = append(out.Steps, stepJSON{Task: s.Task.Name, Kind: s.Task.kind, Start: rfc3339(s.Start), End: rfc3339(s.End)})
	}
	for _, d := range p.Deferred {
		out.Deferred = append(out.Deferred, deferralJSON{Task: d.Task.Name, Kind: d.Task.kind, Reason: d.Reason, Detail: d.Detail})
	}
	return json.Marshal(out)
}
