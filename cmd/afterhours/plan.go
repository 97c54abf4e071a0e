package main

import (
	"io"
	"time"

	"github.com/afterhours-go/afterhours"
)

// runPlan is "afterhours plan FILE [-at TIME] [-json|-svg]": the plan of
// the cycle whose window holds TIME, or the next window (see
// [afterhours.PlanAt]), as text ([afterhours.Plan.String]), as JSON, or as
// an SVG timeline ([afterhours.Plan.WriteSVG]). -json and -svg exclude each
// other.
func runPlan(args []string, stdout, stderr io.Writer, now time.Time) int {
	f := newFlags("plan", "plan FILE [-at TIME] [-json|-svg]")
	at := f.String("at", "", "plan as of `TIME`: RFC 3339, or site-local such as 2026-11-24T21:00 (default now)")
	asJSON := f.Bool("json", false, "print the plan as JSON")
	asSVG := f.Bool("svg", false, "draw the plan as an SVG timeline")
	pos, code, stop := f.parse(args, 1, stdout, stderr)
	if stop {
		return code
	}
	if *asJSON && *asSVG {
		return f.usageError(stderr, "-json and -svg exclude each other")
	}
	p, ok := load("plan", pos[0], stderr)
	if !ok {
		return exitFailed
	}
	when, code, ok := instant(f, p, *at, now, stderr)
	if !ok {
		return code
	}
	plan, err := afterhours.PlanAt(p, when)
	if err != nil {
		return failed("plan", stderr, err)
	}
	switch {
	case *asJSON:
		err = writeJSON(stdout, plan)
	case *asSVG:
		err = plan.WriteSVG(stdout)
	default:
		err = plan.WriteText(stdout)
	}
	if err != nil {
		return failed("plan", stderr, err)
	}
	return exitOK
}
