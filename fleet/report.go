package fleet

import (
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/afterhours-go/afterhours"
)

// Record is what a rollout knows of one target: its outcome, the phase it
// reached, its attempts at that phase, when it started and ended, and its
// error. Times are UTC instants read from the rollout's clock; they are
// zero for a target that never started, and End is zero while it runs.
type Record struct {
	ID    string   `json:"id"`
	Group string   `json:"group,omitempty"`
	Tags  []string `json:"tags,omitempty"`
	// Outcome is where the target stands.
	Outcome Outcome `json:"outcome"`
	// Phase is the last phase the target began: the one it failed, was
	// killed in or is running, and for a success the last phase.
	Phase string `json:"phase,omitempty"`
	// Attempts is how many attempts the target made at Phase, from 1.
	Attempts int       `json:"attempts,omitempty"`
	Start    time.Time `json:"start,omitzero"`
	End      time.Time `json:"end,omitzero"`
	// Error is the failure's error, for a target that did not succeed.
	Error string `json:"error,omitempty"`
	// Resumed marks a record carried from the report a rollout resumed
	// from: the target did not run again.
	Resumed bool `json:"resumed,omitempty"`
	// NextStart is when a pending target with a site will start: the
	// start of the next window of its site in which its phases fit (or
	// the moment it waits for, in the current one). It is zero for a
	// target that waits for room alone, and cleared when it starts.
	NextStart time.Time `json:"next_start,omitzero"`
}

// Duration returns End minus Start, or 0 when the target has not both
// started and ended.
func (rec Record) Duration() time.Duration {
	if rec.Start.IsZero() || rec.End.IsZero() {
		return 0
	}
	return rec.End.Sub(rec.Start)
}

// Report is the full account of a rollout: its status, its statistics and
// the record of every target, in the order of the targets. It is what the
// status file holds, as JSON; [WriteCSV] writes its records as a table.
type Report struct {
	Status  Status   `json:"status"`
	Stats   Stats    `json:"stats"`
	Targets []Record `json:"targets"`
}

// Failed returns the records of the targets that need a person's attention,
// for a ticket: every target that started and did not succeed (failed,
// critical, stopped between phases, killed, abandoned, and interrupted: not
// a failure, but left for the operator to look at). Pending targets, which
// never started, are not in it, nor are the targets another controller
// ran ([Elsewhere]): they are in its report.
func (rep *Report) Failed() []Record {
	var out []Record
	for _, rec := range rep.Targets {
		switch rec.Outcome {
		case Pending, Running, Succeeded, Elsewhere:
		default:
			out = append(out, rec)
		}
	}
	return out
}

// Stats is the summary of a rollout for audit: how many targets have each
// outcome, the share of those that ran which succeeded, and the spread of
// their durations.
type Stats struct {
	Total  int    `json:"total"`
	Counts Counts `json:"counts"`
	// Ran is how many targets started and ended, whatever their outcome;
	// SuccessRate is the share of them that succeeded, from 0 to 1 (0 when
	// none ran).
	Ran         int     `json:"ran"`
	SuccessRate float64 `json:"success_rate"`
	// Durations are the durations of the targets that ran.
	Durations Durations `json:"durations"`
	// First is the earliest start of a target, Last the latest end.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
}

// Durations summarises a set of durations. Percentiles are by the
// nearest-rank method: P90 is the smallest duration that at least 90% of
// the durations do not exceed. All are 0 for an empty set.
type Durations struct {
	Count int
	Min   time.Duration
	Mean  time.Duration
	P50   time.Duration
	P90   time.Duration
	P99   time.Duration
	Max   time.Duration
}

type durationsJSON struct {
	Count int                 `json:"count"`
	Min   afterhours.Duration `json:"min"`
	Mean  afterhours.Duration `json:"mean"`
	P50   afterhours.Duration `json:"p50"`
	P90   afterhours.Duration `json:"p90"`
	P99   afterhours.Duration `json:"p99"`
	Max   afterhours.Duration `json:"max"`
}

// MarshalJSON writes the durations as Go duration strings ("1.5s").
func (d Durations) MarshalJSON() ([]byte, error) {
	return json.Marshal(durationsJSON{d.Count, afterhours.Duration(d.Min), afterhours.Duration(d.Mean),
		afterhours.Duration(d.P50), afterhours.Duration(d.P90), afterhours.Duration(d.P99), afterhours.Duration(d.Max)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (d *Durations) UnmarshalJSON(b []byte) error {
	var j durationsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*d = Durations{j.Count, time.Duration(j.Min), time.Duration(j.Mean), time.Duration(j.P50),
		time.Duration(j.P90), time.Duration(j.P99), time.Duration(j.Max)}
	return nil
}

// Summarize computes the statistics of a rollout's records. It is pure:
// [Rollout.Report] calls it, and it works as well on records read back
// from a status file or a CSV report.
func Summarize(recs []Record) Stats {
	st := Stats{Total: len(recs)}
	ds := make([]time.Duration, 0, len(recs))
	for _, rec := range recs {
		st.Counts.add(rec.Outcome, 1)
		if !rec.Start.IsZero() && (st.First.IsZero() || rec.Start.Before(st.First)) {
			st.First = rec.Start
		}
		if rec.End.After(st.Last) {
			st.Last = rec.End
		}
		if rec.Start.IsZero() || rec.End.IsZero() || rec.Outcome == Running {
			continue
		}
		ds = append(ds, rec.Duration())
	}
	st.Ran = len(ds)
	if st.Ran > 0 {
		st.SuccessRate = float64(st.Counts.Succeeded) / float64(st.Ran)
	}
	st.Durations = summarizeDurations(ds)
	return st
}

func summarizeDurations(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	var sum float64
	for _, d := range ds {
		sum += float64(d)
	}
	rank := func(p float64) time.Duration {
		k := int(math.Ceil(p/100*float64(len(ds)))) - 1
		return ds[min(max(k, 0), len(ds)-1)]
	}
	return Durations{
		Count: len(ds),
		Min:   ds[0],
		Mean:  time.Duration(math.Round(sum / float64(len(ds)))),
		P50:   rank(50),
		P90:   rank(90),
		P99:   rank(99),
		Max:   ds[len(ds)-1],
	}
}

// Report returns the record of every target, in the order of the targets,
// with the rollout's status and statistics. It may be called at any time;
// the report is a copy.
func (r *Rollout) Report() *Report {
	now := r.cfg.clock.Now()
	r.mu.Lock()
	rep := &Report{Status: r.statusLocked(now), Targets: make([]Record, len(r.recs))}
	for i := range r.recs {
		rep.Targets[i] = r.exportLocked(i)
	}
	r.mu.Unlock()
	rep.Stats = Summarize(rep.Targets)
	return rep
}

// exportLocked returns a copy of target i's record, times in UTC.
func (r *Rollout) exportLocked(i int) Record {
	rec := r.recs[i]
	rec.Tags = append([]string(nil), rec.Tags...)
	rec.Start, rec.End = utc(rec.Start), utc(rec.End)
	return rec
}

// utc returns t in UTC, and the zero time as it is.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}
