package afterhours

import (
	"fmt"
	"slices"
	"time"
)

// The rules of the self-update's wait (rule 5) and of suppress and stop
// downtimes (rule 10), as checkPlan reckons them on its own.

// pendingUpdate returns the name of an update the self-update must wait
// for (rule 5): enabled, matching the site's tags, not settled as
// completed (not settled, or failed in the cycle), and not a step of the
// plan, which is assumed to complete; "" when there is none.
func (c *invChecker) pendingUpdate() string {
	f, _ := c.h.(FailureHistory)
	for _, u := range c.p.Updates {
		if u.Enabled != nil && !*u.Enabled || !invSelectorMatches(u.Tags, c.p.Site.Tags) {
			continue
		}
		completed := c.h != nil && c.h.Settled(u.Name, c.plan.Day) && (f == nil || !f.Failed(u.Name, c.plan.Day))
		placed := slices.ContainsFunc(c.plan.Steps, func(s Step) bool { return s.Task == u })
		if !completed && !placed {
			return u.Name
		}
	}
	return ""
}

// stopper returns the name of an on_failure "stop" task that failed in the
// cycle, "" when none did.
func (c *invChecker) stopper() string {
	f, ok := c.h.(FailureHistory)
	if !ok {
		return ""
	}
	for _, t := range invAllTasks(c.p) {
		if t.Kind() != SelfUpdate && t.OnFailure == "stop" && f.Failed(t.Name, c.plan.Day) {
			return t.Name
		}
	}
	return ""
}

// suppressedAt says why a suppress or stop downtime o, touching the
// window, keeps t from starting at start: it suppresses t's resource for
// the whole cycle, or was ended early (rule 10) after start. "" when not.
func (c *invChecker) suppressedAt(t *Task, o Downtime, start time.Time) string {
	if t.IgnoreDowntimes || o.Action != ActionSuppress && o.Action != ActionStop ||
		!o.Overlaps(c.plan.Window) || !slices.Contains(invDownUses(c.p, t), o.Resource) {
		return ""
	}
	if !o.Ended {
		return fmt.Sprintf("%s's downtime %s (%s) suppresses it in the cycle", o.Resource, invIv(o.Interval), o.Action)
	}
	if start.Before(o.End) {
		return fmt.Sprintf("%s's downtime (%s) keeps it out until it ended at %s", o.Resource, o.Action, invT(o.End))
	}
	return ""
}
