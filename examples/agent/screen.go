package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours"
)

// windowOver says, when the agent starts after its cycle's window has
// closed, that it has and when the next window opens; it returns "" when
// the agent starts before or in a window, or the profile cannot be
// planned (Run then says why).
func windowOver(p *afterhours.Profile, now time.Time) string {
	c := p.Site.CycleAt(now)
	if c.Window.Start.Equal(c.Window.End) || now.Before(c.Window.End) {
		return ""
	}
	loc := p.Site.Location()
	when := func(t time.Time) string { return t.In(loc).Format("Mon 2 Jan 15:04 MST") }
	line := fmt.Sprintf("%s: the window of cycle %s closed at %s", when(now), c.Day, when(c.Window.End))
	next, err := afterhours.PlanAt(p, now) // the next cycle with a window
	if err != nil {
		return line + "; no window opens in the days ahead (" + err.Error() + ")"
	}
	return fmt.Sprintf("%s; the next opens at %s, in %s", line, when(next.Window.Start), hoursMinutes(next.Window.Start.Sub(now)))
}

// hoursMinutes formats d as "9h", "9h30m" or "45m".
func hoursMinutes(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%02dm", h, m)
}

// printEvents prints each event on a line, except the deferrals of what
// was missed while the agent was not running, which a cycle planned at
// start-up has many of: those are gathered on one line, printed before
// the first other event after them.
func printEvents(out io.Writer, events <-chan afterhours.Event) {
	var missed missedAtStart
	for ev := range events {
		if missed.add(ev) {
			continue
		}
		if ev.Kind != afterhours.EventPlanned {
			missed.flush(out)
		}
		fmt.Fprintln(out, ev)
	}
	missed.flush(out)
}

// missedAtStart gathers the deferrals of work missed because the agent was
// not running.
type missedAtStart struct {
	at          time.Time
	tasks       []string
	timerRuns   int
	timers      []string
	carriedOver int
}

// add keeps ev when it is such a deferral.
func (m *missedAtStart) add(ev afterhours.Event) bool {
	if ev.Kind != afterhours.EventDeferred || ev.Reason != afterhours.ReasonMissed ||
		!strings.Contains(ev.Detail, "the executor started at") && !strings.Contains(ev.Detail, "the executor was not running") {
		return false
	}
	if m.at.IsZero() {
		m.at = ev.At
	}
	if ev.TaskKind == afterhours.Timer {
		n := 1
		fmt.Sscanf(ev.Detail, "%d runs", &n)
		m.timerRuns += n
		m.timers = append(m.timers, ev.Task)
		return true
	}
	name := ev.Task
	if strings.Contains(ev.Detail, "carried over") {
		name += "*"
		m.carriedOver++
	}
	m.tasks = append(m.tasks, name)
	return true
}

// flush prints the line of what was gathered, if anything was.
func (m *missedAtStart) flush(out io.Writer) {
	if m.at.IsZero() {
		return
	}
	var parts []string
	if len(m.tasks) > 0 {
		s := fmt.Sprintf("%s (%s)", plural(len(m.tasks), "task"), strings.Join(m.tasks, ", "))
		if m.carriedOver > 0 {
			s += "; * carried over to the next cycle"
		}
		parts = append(parts, s)
	}
	if m.timerRuns > 0 {
		parts = append(parts, fmt.Sprintf("%s of %s", plural(m.timerRuns, "timer run"), strings.Join(m.timers, ", ")))
	}
	fmt.Fprintf(out, "%s missed while the agent was not running: %s\n", m.at.Format("2006-01-02 15:04:05 MST"), strings.Join(parts, "; and "))
	*m = missedAtStart{}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
