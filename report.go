package afterhours

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/afterhours-go/afterhours/internal/csvsafe"
)

// Affected is one row of the affected-objects report: a downtime occurrence
// and one task that uses its resource, with what the plan does with it.
type Affected struct {
	// Resource, Down, Action and Ended describe the downtime occurrence.
	Resource string
	Down     Interval
	Action   string
	Ended    bool
	// Task is the task that uses the resource; Day the cycle it is planned in.
	Task *Task
	Day  string
	// Relation is where the task's run lies against the downtime:
	// "before" (planned to start before it), "after" (planned to start
	// after it ends), "during" (a task that ignores downtimes), "deferred"
	// (kept from running; Detail says why), or "none" (no run planned in
	// that cycle for another reason, such as not due).
	Relation string
	// Planned is the projected run (a step or the slot), zero when none.
	Planned Interval
	// Estimate is the task's estimate (the longest of its three most
	// recent successful runs, else its estimate, timeout or 10 minutes).
	Estimate time.Duration
	// LikelyToFinish, for a run planned before the downtime, says whether it
	// is projected to end before the downtime starts.
	LikelyToFinish bool
	// Detail is the deferral's detail, or a note for people.
	Detail string
}

// The relations of an [Affected] row.
const (
	RelationBefore   = "before"
	RelationAfter    = "after"
	RelationDuring   = "during"
	RelationDeferred = "deferred"
	RelationNone     = "none"
)

// AffectedReport lists, for every downtime occurrence in n cycles from the
// one [BuildPlan] would give, every task that uses its resource: the action
// that applies, whether a run planned before it is likely to finish before
// it starts (from the task's estimate), and which runs are planned after it
// ends. Rows are in order of the downtime's start, then of the tasks in the
// profile. It plans through [Forecast], so it assumes planned work
// completes. Timers and commands are never affected by downtimes and are
// not listed.
func AffectedReport(p *Profile, clk Clock, n int, opts ...PlanOption) ([]Affected, error) {
	plans, err := Forecast(p, clk, n, opts...)
	if err != nil || len(plans) == 0 {
		return nil, err
	}
	cfg := configOf(opts)
	horizon := Interval{plans[0].Span.Start, plans[len(plans)-1].Span.End}
	var rows []Affected
	for _, o := range p.downtimesIn(horizon) {
		plan := planFor(plans, o)
		if plan == nil {
			continue
		}
		for _, t := range p.tasksInOrder() {
			if !slices.Contains(t.Uses, o.Resource) && !slices.Contains(t.down, o.Resource) {
				continue
			}
			rows = append(rows, affected(plan, o, t, cfg.history))
		}
	}
	return rows, nil
}

// planFor returns the plan a downtime matters to: the first whose window
// it touches, else the one whose span holds its start.
func planFor(plans []*Plan, o Downtime) *Plan {
	for _, p := range plans {
		if o.Overlaps(p.Window) {
			return p
		}
	}
	for _, p := range plans {
		if p.Span.Contains(o.Start) {
			return p
		}
	}
	return nil
}

// tasksInOrder returns the tasks the sequence and the slots run: slot
// tasks, housekeeping, updates and the self-update, in the profile's order.
// Timers are not among them.
func (p *Profile) tasksInOrder() []*Task {
	var all []*Task
	for _, tok := range p.Sharing {
		all = append(all, tok.Tasks...)
	}
	all = append(all, p.Housekeeping...)
	all = append(all, p.Updates...)
	if p.SelfUpdate != nil {
		all = append(all, p.SelfUpdate)
	}
	return all
}

func affected(plan *Plan, o Downtime, t *Task, h History) Affected {
	a := Affected{Resource: o.Resource, Down: o.Interval, Action: o.Action, Ended: o.Ended, Task: t, Day: plan.Day, Relation: RelationNone}
	a.Estimate = t.estimate
	if h != nil {
		a.Estimate = t.estimateFrom(h.Durations(t.Name))
	}
	var runs []Interval
	for _, s := range plan.Steps {
		if s.Task == t {
			runs = append(runs, s.Interval)
		}
	}
	for _, sl := range plan.Slots {
		if slices.Contains(sl.Tasks, t) {
			runs = append(runs, sl.Run)
		}
	}
	for _, d := range plan.Deferred {
		if d.Task == t {
			a.Detail = d.Reason + ": " + d.Detail
			if d.Reason == ReasonDowntime(o.Resource) && len(runs) == 0 {
				a.Relation = RelationDeferred
				a.Detail = d.Detail
			}
		}
	}
	// The run nearest the downtime: the last before it, else the first after.
	for _, r := range runs {
		switch {
		case r.Overlaps(o.Interval):
			a.Relation, a.Planned, a.LikelyToFinish = RelationDuring, r, false
			a.Detail = "ignores downtimes"
			return a
		case !r.Start.After(o.Start):
			a.Relation, a.Planned, a.LikelyToFinish = RelationBefore, r, !r.End.After(o.Start)
		case a.Relation != RelationBefore && !r.Start.Before(o.End) && (a.Relation != RelationAfter || r.Start.Before(a.Planned.Start)):
			a.Relation, a.Planned = RelationAfter, r
		}
	}
	return a
}

var affectedHeader = []string{"resource", "down_start", "down_end", "action", "ended", "task", "kind", "cycle",
	"relation", "planned_start", "planned_end", "estimate", "likely_to_finish", "detail"}

func (a Affected) record() []string {
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.RFC3339)
	}
	likely := ""
	if a.Relation == RelationBefore {
		likely = strconv.FormatBool(a.LikelyToFinish)
	}
	return []string{a.Resource, at(a.Down.Start), at(a.Down.End), a.Action, strconv.FormatBool(a.Ended),
		a.Task.Name, a.Task.kind.String(), a.Day, a.Relation, at(a.Planned.Start), at(a.Planned.End),
		shortDuration(a.Estimate), likely, a.Detail}
}

// WriteAffectedCSV writes the report as CSV (RFC 4180: a header row, CRLF
// line ends, fields quoted where needed), UTF-8, with instants in RFC 3339:
// spreadsheets open it as it is. (Excel guesses the encoding of a CSV file;
// names beyond ASCII show right in it when the file starts with a UTF-8
// byte order mark, which a caller may write first.)
//
// Cells are formula-safe: a cell that starts with "=", "+", "-", "@", "'",
// a tab or a carriage return is written with a "'" before it, so that a
// spreadsheet shows a task named "=HYPERLINK(...)" as text instead of
// running it; a plain negative number would be left as it is. A program
// reading the file back takes off the "'" of every cell that starts with
// one to get the values as they were. The JSON form ([Affected.MarshalJSON])
// carries the values as they are.
func WriteAffectedCSV(w io.Writer, rows []Affected) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(affectedHeader); err != nil {
		return err
	}
	for _, a := range rows {
		if err := cw.Write(csvsafe.EscapeRecord(a.record())); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// MarshalJSON encodes a row with the fields of the CSV form, under the
// same names and in the same order, with their JSON types: instants in RFC
// 3339 (planned_start and planned_end left out when no run is planned),
// ended a boolean, estimate a duration such as "30m", and likely_to_finish
// a boolean given only for a run planned before the downtime.
func (a Affected) MarshalJSON() ([]byte, error) {
	row := affectedJSON{
		Resource: a.Resource, DownStart: a.Down.Start, DownEnd: a.Down.End, Action: a.Action, Ended: a.Ended,
		Task: a.Task.Name, Kind: a.Task.kind, Cycle: a.Day, Relation: a.Relation,
		PlannedStart: a.Planned.Start, PlannedEnd: a.Planned.End, Estimate: shortDuration(a.Estimate), Detail: a.Detail,
	}
	if a.Relation == RelationBefore {
		row.LikelyToFinish = &a.LikelyToFinish
	}
	return json.Marshal(row)
}

// affectedJSON is the JSON form of an [Affected] row, in the order of
// affectedHeader.
type affectedJSON struct {
	Resource       string    `json:"resource"`
	DownStart      time.Time `json:"down_start"`
	DownEnd        time.Time `json:"down_end"`
	Action         string    `json:"action"`
	Ended          bool      `json:"ended"`
	Task           string    `json:"task"`
	Kind           Kind      `json:"kind"`
	Cycle          string    `json:"cycle"`
	Relation       string    `json:"relation"`
	PlannedStart   time.Time `json:"planned_start,omitzero"`
	PlannedEnd     time.Time `json:"planned_end,omitzero"`
	Estimate       string    `json:"estimate"`
	LikelyToFinish *bool     `json:"likely_to_finish,omitempty"`
	Detail         string    `json:"detail,omitempty"`
}

// String is a one-line summary of the row; the downtime reads as its wall
// clocks, "00:00-24:00" for a whole day.
func (a Affected) String() string {
	return fmt.Sprintf("%s %s %s: %s %s", a.Resource, clockSpan(a.Down), a.Action, a.Task.Name, a.Relation)
}

// clockSpan formats an interval as the wall clocks of its instants, in
// their zone: "01:00-03:00". An end at the midnight that ends the start's
// date reads "24:00", as business hours and downtimes are written, so that
// a whole-day downtime reads "00:00-24:00" rather than "00:00-00:00" (an
// empty interval to a reader), on a DST day too.
func clockSpan(iv Interval) string {
	end := hhmm(iv.End)
	if end == "00:00" && iv.End.After(iv.Start) && iv.End.Second() == 0 && iv.End.Nanosecond() == 0 &&
		DateOf(iv.End) == DateOf(iv.Start).AddDays(1) {
		end = "24:00"
	}
	return hhmm(iv.Start) + "-" + end
}
