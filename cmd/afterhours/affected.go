package main

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/afterhours-go/afterhours"
)

// runAffected is "afterhours affected FILE -resource R -days N [-at TIME]
// [-csv|-json]": the rows of [afterhours.AffectedReport] over N cycles whose
// resource is R, as a line each (the default), as CSV
// ([afterhours.WriteAffectedCSV]) or as a JSON array. A resource the
// profile does not declare is a usage error (exit 2); one without downtimes
// in the horizon prints no rows.
func runAffected(args []string, stdout, stderr io.Writer, now time.Time) int {
	f := newFlags("affected", "affected FILE -resource R -days N [-at TIME] [-csv|-json]")
	resource := f.String("resource", "", "the resource `R` whose downtimes to report (required)")
	days := f.Int("days", 0, "report over `N` consecutive cycles (1 to 400; required)")
	at := f.String("at", "", "report as of `TIME`: RFC 3339, or site-local such as 2026-11-24T21:00 (default now)")
	asCSV := f.Bool("csv", false, "print CSV (RFC 4180, a header row)")
	asJSON := f.Bool("json", false, "print a JSON array")
	pos, code, stop := f.parse(args, 1, stdout, stderr)
	if stop {
		return code
	}
	switch {
	case *resource == "":
		return f.usageError(stderr, "-resource is required")
	case *days < 1 || *days > maxDays:
		return f.usageError(stderr, "-days %d: want 1 to %d cycles", *days, maxDays)
	case *asCSV && *asJSON:
		return f.usageError(stderr, "-csv and -json exclude each other")
	}
	p, ok := load("affected", pos[0], stderr)
	if !ok {
		return exitFailed
	}
	var names []string
	for _, r := range p.Resources {
		names = append(names, r.Name)
	}
	if !slices.Contains(names, *resource) {
		return f.usageError(stderr, "-resource %q: the profile declares %q", *resource, names)
	}
	when, code, ok := instant(f, p, *at, now, stderr)
	if !ok {
		return code
	}
	all, err := afterhours.AffectedReport(p, fixedClock(when), *days)
	if err != nil {
		return failed("affected", stderr, err)
	}
	rows := []afterhours.Affected{} // JSON [] rather than null when none
	for _, a := range all {
		if a.Resource == *resource {
			rows = append(rows, a)
		}
	}
	switch {
	case *asCSV:
		err = afterhours.WriteAffectedCSV(stdout, rows)
	case *asJSON:
		err = writeJSON(stdout, rows)
	default:
		for _, a := range rows {
			if _, err = fmt.Fprintln(stdout, textRow(a)); err != nil {
				break
			}
		}
	}
	if err != nil {
		return failed("affected", stderr, err)
	}
	return exitOK
}

// textRow is a row for people: the cycle, the downtime, the task, where
// its run lies against the downtime, and why.
func textRow(a afterhours.Affected) string {
	s := fmt.Sprintf("%s  %s %s-%s %s  %s (%s)  %s", a.Day, a.Resource, a.Down.Start.Format("Mon 15:04"),
		a.Down.End.Format("Mon 15:04 MST"), a.Action, a.Task.Name, a.Task.Kind(), a.Relation)
	if !a.Planned.Start.IsZero() {
		s += fmt.Sprintf(": planned %s-%s", a.Planned.Start.Format("Mon 15:04"), a.Planned.End.Format("Mon 15:04 MST"))
	}
	if a.Relation == afterhours.RelationBefore {
		if a.LikelyToFinish {
			s += ", likely to finish first"
		} else {
			s += ", may not finish first"
		}
	}
	if a.Ended {
		s += " [downtime ended]"
	}
	if a.Detail != "" {
		s += " (" + a.Detail + ")"
	}
	return s
}
