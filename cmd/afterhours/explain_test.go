package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

// TestExplain compares explain's text with golden files: a task of the
// README's example over the default 7 cycles (a weekly schedule: not due,
// then due and placed), a task a downtime defers (Christmas Eve's network
// downtime with action skip), tasks over London's spring-forward night,
// whose window is 31 hours long (one of them, planned from 01:30 in the
// gap, postponed after a downtime), a task the window has no room for,
// and a slot task.
func TestExplain(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		golden string
		out    []string
	}{
		{"weekly schedule", []string{exampleProfile, "fsck-archive", "-at", "2026-11-24T21:00"}, "explain/example.fsck-archive.golden",
			[]string{"not-due: next due 2026-11-29 04:00 GMT", "due       Sun 2026-11-29 04:00 GMT, in this cycle", "cycle 2026-11-30"}},
		{"deferred by a downtime", []string{exampleProfile, "backup-pos", "-at", "2026-12-22T21:00", "-days", "4"}, "explain/example.backup-pos.golden",
			[]string{"deferred  downtime:network: its run 00:07-00:47 would overlap network's downtime 22:00-06:00 (skip)",
				"downtime  network Thu 22:00 GMT - Fri 06:00 GMT, skip"}},
		{"DST night", []string{springProfile, "backup-to-nas", "-at", "2026-03-28T21:00", "-days", "3"}, "explain/spring.backup-to-nas.golden",
			[]string{"cycle 2026-03-29: window Sun 00:00 GMT - Mon 08:00 BST (31h)", "hold      lan-leeds: buffer Sun 02:15 BST, slot Sun 02:30 BST - Sun 03:00 BST"}},
		{"DST night and a postponing downtime", []string{exampleProfile, "vacuum-db", "-at", "2026-03-29T01:30", "-days", "2"}, "explain/example.vacuum-db.dst.golden",
			[]string{"runs      Sun 04:00 BST - Sun 04:20 BST, lane 1", "after     db's downtime Sun 02:00 BST - Sun 04:00 BST (postpone)"}},
		{"window full", []string{"../../testdata/full-window.profile.json", "reindex-catalog", "-at", "2026-01-14T23:30", "-days", "1"}, "explain/full-window.reindex-catalog.golden",
			[]string{"deferred  window-full: needs 2h, no room from 23:32 to the window's end at 07:00", "room      needs 2h; 48m left in the window after Thu 06:12 GMT"}},
		{"slot task", []string{springProfile, "sync-pos-catalog", "-at", "2026-03-28T21:00", "-days", "2"}, "explain/spring.sync-pos-catalog.golden",
			[]string{"no-slot: token lan-leeds has no slot starting in the cycle", "slot      lan-leeds: buffer Mon 01:15 BST, slot Mon 01:30 BST - Mon 02:00 BST"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runArgs(append([]string{"explain"}, c.args...)...)
			r.check(t, exitOK, c.out, nil)
			golden(t, c.golden, r.stdout)
		})
	}
}

func TestExplainJSON(t *testing.T) {
	r := runArgs("explain", exampleProfile, "vacuum-db", "-at", "2026-11-28T21:00", "-days", "2", "-json")
	r.check(t, exitOK, nil, nil)
	golden(t, "explain/example.vacuum-db.json.golden", r.stdout)
	var x struct {
		Task, Kind string
		Cycles     []struct {
			Day  string
			Step struct {
				Start, End time.Time
				Lane       int
				After      []string
			}
			Downtimes []struct{ Resource, Action string }
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &x); err != nil {
		t.Fatal(err)
	}
	if x.Task != "vacuum-db" || x.Kind != "housekeeping" || len(x.Cycles) != 2 {
		t.Fatalf("explanation %+v", x)
	}
	sun := x.Cycles[1]
	if sun.Day != "2026-11-29" || sun.Step.Lane != 2 || len(sun.Downtimes) != 1 || sun.Downtimes[0].Action != "postpone" {
		t.Errorf("Sunday's cycle %+v", sun)
	}
}

// TestExplainAgreesWithForecast: for every task of the example and every
// cycle of a fortnight, explain's placement or deferral is the forecast's.
func TestExplainAgreesWithForecast(t *testing.T) {
	p, err := afterhours.LoadProfile(exampleProfile)
	if err != nil {
		t.Fatal(err)
	}
	at := "2026-12-20T21:00:00Z"
	plans, err := afterhours.Forecast(p, fixedClock(mustTime(at)), 14)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range taskNames(p) {
		r := runArgs("explain", exampleProfile, name, "-at", at, "-days", "14", "-json")
		r.check(t, exitOK, nil, nil)
		var x explanation
		if err := json.Unmarshal([]byte(r.stdout), &x); err != nil {
			t.Fatal(err)
		}
		for i, plan := range plans {
			c := x.Cycles[i]
			if c.Day != plan.Day {
				t.Fatalf("%s: cycle %d is %s, want %s", name, i, c.Day, plan.Day)
			}
			var step *afterhours.Step
			for _, s := range plan.Steps {
				if s.Task.Name == name {
					step = &s
				}
			}
			var reason string
			for _, d := range plan.Deferred {
				if d.Task.Name == name {
					reason = d.Reason + ": " + d.Detail
				}
			}
			switch {
			case step != nil && (c.Step == nil || !c.Step.Start.Equal(step.Start) || !c.Step.End.Equal(step.End)):
				t.Errorf("%s %s: explained step %+v, plan's %v", name, plan.Day, c.Step, step.Interval)
			case step == nil && c.Step != nil:
				t.Errorf("%s %s: explained step %+v, the plan has none", name, plan.Day, c.Step)
			case reason != "" && (c.Deferral == nil || c.Deferral.Reason+": "+c.Deferral.Detail != reason):
				t.Errorf("%s %s: explained deferral %+v, plan's %s", name, plan.Day, c.Deferral, reason)
			case reason == "" && c.Deferral != nil:
				t.Errorf("%s %s: explained deferral %+v, the plan has none", name, plan.Day, c.Deferral)
			}
		}
	}
}

func TestExplainErrors(t *testing.T) {
	r := runArgs("explain", exampleProfile, "no-such-task")
	r.check(t, exitFailed, nil, []string{`has no task "no-such-task"; its tasks are:`,
		"\tfetch-packages\n\tsync-media\n\trotate-logs\n\tvacuum-db\n\tclean-tmp\n\tbackup-pos\n\tfsck-archive\n\topenssl-3.0.15\n\tpos-app-7.2.0\n\tagent-2.4.1\n\tinventory\n"})
	if r.stdout != "" {
		t.Errorf("stdout %q", r.stdout)
	}
	runArgs("explain", exampleProfile, "vacuum-db", "-days", "0").check(t, exitUsage, nil, []string{"-days 0: want 1 to 400 cycles"})
	runArgs("explain", exampleProfile).check(t, exitUsage, nil, []string{"want 2 argument(s), got 1", "usage: afterhours " + explainUsage})
	runArgs("explain", invalidProfile, "x").check(t, exitFailed, nil, []string{"invalid profile"})
	r = runArgs("explain", exampleProfile, "vacuum-db", "-at", "2026-03-29T01:30", "-days", "1")
	r.check(t, exitOK, []string{"cycle 2026-03-29: window Sun 00:00 GMT - Mon 08:00 BST (31h)", "from      Sun 02:30 BST"},
		[]string{"read as 2026-03-29T02:30:00 BST"})
}
