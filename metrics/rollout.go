package metrics

import (
	"github.com/afterhours-go/afterhours/fleet"
	"github.com/prometheus/client_golang/prometheus"
)

// Rollout is a [prometheus.Collector] of a [fleet.Rollout], read from its
// [fleet.Rollout.Status] at each scrape:
//
//   - afterhours_rollout_targets{outcome}: targets by outcome (pending,
//     running, succeeded, failed, critical, stopped, killed, abandoned,
//     interrupted); every outcome has a series, 0 included;
//   - afterhours_rollout_targets_total: the rollout's targets;
//   - afterhours_rollout_running: targets running now;
//   - afterhours_rollout_budget_left: failures the error budget still
//     tolerates (0 once exhausted; a failure beyond it stops new starts);
//   - afterhours_rollout_state{state}: 1 for the rollout's state (ready,
//     running, completed, budget-exhausted, critical, killed,
//     record-failed), 0 for the others.
//
// A target's outcome only moves forward: the counts of pending and running
// targets go down as targets end, those of the final outcomes only go up
// within a rollout. A Rollout collector is safe for concurrent use.
type Rollout struct {
	r                                    *fleet.Rollout
	targets, total, running, left, state *prometheus.Desc
}

// NewRollout returns the collector of r; constLabels are added to every
// metric (for example the rollout's name).
func NewRollout(r *fleet.Rollout, constLabels prometheus.Labels) *Rollout {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("afterhours_rollout_"+name, help, labels, constLabels)
	}
	return &Rollout{
		r:       r,
		targets: d("targets", "Targets by outcome.", "outcome"),
		total:   d("targets_total", "Targets of the rollout."),
		running: d("running", "Targets running now."),
		left:    d("budget_left", "Failures the error budget still tolerates."),
		state:   d("state", "1 for the rollout's state, 0 for the others.", "state"),
	}
}

// outcomes are the outcomes every rollout has a series of.
var outcomes = []fleet.Outcome{fleet.Pending, fleet.Running, fleet.Succeeded, fleet.Failed,
	fleet.Critical, fleet.Stopped, fleet.Killed, fleet.Abandoned, fleet.Interrupted, fleet.Elsewhere}

// states are the rollout states, in order.
var states = []fleet.State{fleet.StateReady, fleet.StateRunning, fleet.StateCompleted,
	fleet.StateBudgetExhausted, fleet.StateCritical, fleet.StateKilled, fleet.StateRecordFailed}

// Describe implements [prometheus.Collector].
func (c *Rollout) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.targets, c.total, c.running, c.left, c.state} {
		ch <- d
	}
}

// Collect implements [prometheus.Collector].
func (c *Rollout) Collect(ch chan<- prometheus.Metric) {
	st := c.r.Status()
	for _, o := range outcomes {
		ch <- prometheus.MustNewConstMetric(c.targets, prometheus.GaugeValue, float64(st.Counts.Of(o)), o.String())
	}
	ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(st.Total))
	ch <- prometheus.MustNewConstMetric(c.running, prometheus.GaugeValue, float64(st.Counts.Running))
	ch <- prometheus.MustNewConstMetric(c.left, prometheus.GaugeValue, float64(max(st.Budget-st.Counts.Failures(), 0)))
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(c.state, prometheus.GaugeValue, boolValue(st.State == s), s.String())
	}
}
