package metrics

import (
	"sync"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/prometheus/client_golang/prometheus"
)

// DurationBuckets are the buckets, in seconds, of the run duration
// histogram: from a second to eight hours, which spans maintenance work
// from a log rotation to a long update.
var DurationBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 28800}

// Executor is a [prometheus.Collector] of an [afterhours.Executor]:
//
//   - afterhours_executor_runs_total{kind, outcome}: runs that ended, by
//     kind (housekeeping, update, self-update, shared, command, timer) and
//     outcome (completed, failed, interrupted: a failed run the executor
//     stopped or found after a crash);
//   - afterhours_executor_run_duration_seconds{kind}: how long those runs
//     took, a histogram with [DurationBuckets];
//   - afterhours_executor_deferrals_total{kind, reason}: deferrals by
//     reason (window-full, not-due, killed, missed, constraint:max_load,
//     ...); a task deferred again later in its cycle for another reason
//     counts again;
//   - afterhours_executor_active_runs{kind}: runs running now;
//   - afterhours_executor_queue_length: commands accepted, not started;
//   - afterhours_executor_killed: 1 while the killswitch is on;
//   - afterhours_executor_running: 1 while [afterhours.Executor.Run] runs;
//   - afterhours_executor_cycle_progress: the current cycle's progress,
//     from 0 to 1 ([afterhours.Status].Progress).
//
// The counters are taken from the journal at each scrape: every record
// that ended or was deferred since the last scrape is counted once, so
// counters never go down and miss nothing while the record is in the
// journal (see the package doc). Labels' values are the journal's own.
//
// An Executor is safe for concurrent use; scrapes are serialised.
type Executor struct {
	exec *afterhours.Executor

	runs, defers, active, queue, killed, running, progress *prometheus.Desc
	durations                                              *prometheus.HistogramVec

	mu        sync.Mutex
	counted   map[string]map[recordKey]struct{} // per cycle day
	runCount  map[[2]string]uint64              // kind, outcome
	deferrals map[[2]string]uint64              // kind, reason
}

// recordKey tells a counted event apart from every other of its cycle.
type recordKey struct {
	run, task, kind, command, state, reason string
	start                                   time.Time
}

// NewExecutor returns the collector of e; register it with a
// [prometheus.Registerer]. constLabels are added to every metric (for
// example the client's id, when one process runs several executors).
func NewExecutor(e *afterhours.Executor, constLabels prometheus.Labels) *Executor {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("afterhours_executor_"+name, help, labels, constLabels)
	}
	return &Executor{
		exec:     e,
		runs:     d("runs_total", "Runs that ended, by kind and outcome (completed, failed, interrupted).", "kind", "outcome"),
		defers:   d("deferrals_total", "Tasks deferred, by kind and reason.", "kind", "reason"),
		active:   d("active_runs", "Runs running now, by kind.", "kind"),
		queue:    d("queue_length", "Commands accepted and not started yet."),
		killed:   d("killed", "1 while the killswitch is on."),
		running:  d("running", "1 while the executor's Run runs."),
		progress: d("cycle_progress", "Share of the current cycle's steps behind it, from 0 to 1."),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "afterhours_executor_run_duration_seconds",
			Help:        "How long runs that ended took, by kind.",
			Buckets:     DurationBuckets,
			ConstLabels: constLabels,
		}, []string{"kind"}),
		counted:   map[string]map[recordKey]struct{}{},
		runCount:  map[[2]string]uint64{},
		deferrals: map[[2]string]uint64{},
	}
}

// Describe implements [prometheus.Collector].
func (c *Executor) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.runs, c.defers, c.active, c.queue, c.killed, c.running, c.progress} {
		ch <- d
	}
	c.durations.Describe(ch)
}

// Collect implements [prometheus.Collector]: it reads the executor's
// status and journal, counts what is new, and sends every metric.
func (c *Executor) Collect(ch chan<- prometheus.Metric) {
	st := c.exec.Status()
	journal := c.exec.Journal()

	c.mu.Lock()
	defer c.mu.Unlock()
	c.count(journal)
	for k, n := range c.runCount {
		ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, float64(n), k[0], k[1])
	}
	for k, n := range c.deferrals {
		ch <- prometheus.MustNewConstMetric(c.defers, prometheus.CounterValue, float64(n), k[0], k[1])
	}
	c.durations.Collect(ch)

	active := map[string]int{}
	for _, r := range st.Active {
		active[r.Kind.String()]++
	}
	for _, k := range kinds {
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(active[k]), k)
	}
	ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(len(st.Queued)))
	ch <- prometheus.MustNewConstMetric(c.killed, prometheus.GaugeValue, boolValue(st.Killed))
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, boolValue(st.Running))
	ch <- prometheus.MustNewConstMetric(c.progress, prometheus.GaugeValue, st.Progress)
}

// kinds are the kinds' names, each given an active_runs gauge (0 included)
// so that a dashboard's series exist before the first run.
var kinds = func() []string {
	var out []string
	for _, k := range []afterhours.Kind{afterhours.Housekeeping, afterhours.Update, afterhours.SelfUpdate,
		afterhours.Shared, afterhours.CommandKind, afterhours.Timer} {
		out = append(out, k.String())
	}
	return out
}()

// count adds the journal's records that ended or were deferred and were
// not counted before; it forgets the cycles the journal no longer holds.
// The caller holds c.mu.
func (c *Executor) count(journal []afterhours.CycleJournal) {
	kept := make(map[string]bool, len(journal))
	for _, cy := range journal {
		kept[cy.Day] = true
		seen := c.counted[cy.Day]
		if seen == nil {
			seen = map[recordKey]struct{}{}
			c.counted[cy.Day] = seen
		}
		for i := range cy.Records {
			r := &cy.Records[i]
			if r.State != afterhours.StateCompleted && r.State != afterhours.StateFailed && r.State != afterhours.StateDeferred {
				continue
			}
			k := recordKey{run: r.Run, task: r.Task, kind: r.Kind.String(), command: r.Command,
				state: string(r.State), reason: r.Reason, start: r.Start}
			if r.State == afterhours.StateDeferred {
				// A timer's deferrals are one record per stretch of runs.
				k.start = r.PlannedStart
			}
			if _, ok := seen[k]; ok {
				continue
			}
			seen[k] = struct{}{}
			if r.State == afterhours.StateDeferred {
				c.deferrals[[2]string{k.kind, r.Reason}]++
				continue
			}
			outcome := string(r.State)
			if r.Interrupted {
				outcome = "interrupted"
			}
			c.runCount[[2]string{k.kind, outcome}]++
			if !r.Start.IsZero() && !r.End.IsZero() {
				c.durations.WithLabelValues(k.kind).Observe(r.Duration().Seconds())
			}
		}
	}
	for day := range c.counted {
		if !kept[day] {
			delete(c.counted, day)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
