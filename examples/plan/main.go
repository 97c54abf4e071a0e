// Command plan prints a site's maintenance plan for tonight: the after-hours
// window, the slots of its sharing tokens, the projected steps, what is
// deferred and why, and a timeline of the window.
//
// Usage:
//
//	go run ./examples/plan [-profile FILE] [-at INSTANT] [-days N] [-downtimes] [-json|-svg]
//
// Without -profile it plans a built-in example, example.profile.json: a shop
// in Leeds with a package-repository slot in UTC and a site-LAN slot in site
// time. -at plans at an RFC 3339 instant instead of now; -days N prints a
// forecast of N cycles (a line a cycle, then each plan); -downtimes prints
// the affected-objects report of the downtimes in those cycles (14 without
// -days) as CSV; -json prints the JSON form instead of text; -svg draws the
// plan as an SVG image instead (see [afterhours.Plan.WriteSVG]): go run
// ./examples/plan -svg > plan.svg.
//
// A profile with problems is reported one problem a line, each with the path
// of its field, and the exit status is 1; bad flags exit with 2.
package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/afterhours-go/afterhours"
)

//go:embed example.profile.json
var exampleProfile []byte

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, time.Now()))
}

// stoppedClock is an [afterhours.Clock] that always reads one instant: main
// reads the real clock once and run plans through it, so that tests can fix
// the instant. Planning never waits, so After never fires.
type stoppedClock time.Time

func (c stoppedClock) Now() time.Time                       { return time.Time(c) }
func (c stoppedClock) After(time.Duration) <-chan time.Time { return nil }

// run is the whole command: it parses args, plans, and writes the plan to
// stdout and problems to stderr. It returns the exit status: 0, 1 when the
// profile cannot be loaded or planned, 2 for bad flags.
func run(args []string, stdout, stderr io.Writer, now time.Time) int {
	fs := flag.NewFlagSet("plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profileFile := fs.String("profile", "", "plan the profile in `FILE` instead of the built-in example")
	at := fs.String("at", "", "plan at this RFC 3339 `instant` (2026-11-24T21:00:00Z) instead of now")
	asJSON := fs.Bool("json", false, "print the plan as JSON instead of text")
	days := fs.Int("days", 0, "print a forecast of `N` cycles instead of one plan")
	downtimes := fs.Bool("downtimes", false, "print the affected-objects report of the downtimes (CSV; JSON with -json)")
	asSVG := fs.Bool("svg", false, "draw the plan as an SVG image instead of text")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: plan [-profile FILE] [-at INSTANT] [-days N] [-downtimes] [-json|-svg]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "plan: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *days < 0 {
		fmt.Fprintf(stderr, "plan: -days %d: want a positive number of cycles\n", *days)
		return 2
	}
	if *asSVG && (*asJSON || *days > 0 || *downtimes) {
		fmt.Fprintln(stderr, "plan: -svg draws one plan: it goes with neither -json, -days nor -downtimes")
		return 2
	}
	when := now
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fmt.Fprintf(stderr, "plan: -at %q: want an RFC 3339 instant such as 2026-11-24T21:00:00Z\n", *at)
			return 2
		}
		when = t
	}

	name := "example.profile.json (built in)"
	var p *afterhours.Profile
	var err error
	if *profileFile != "" {
		name = *profileFile
		p, err = afterhours.LoadProfile(*profileFile)
	} else {
		p, err = afterhours.ParseProfile(exampleProfile)
	}
	if err != nil {
		var ve *afterhours.ValidationError
		if !errors.As(err, &ve) {
			fmt.Fprintf(stderr, "plan: %v\n", err)
			return 1
		}
		fmt.Fprintf(stderr, "plan: %s: invalid profile, %d problem(s):\n", name, len(ve.Problems))
		for _, pr := range ve.Problems {
			fmt.Fprintf(stderr, "\t%s\n", pr)
		}
		return 1
	}

	if *downtimes {
		n := *days
		if n == 0 {
			n = 14
		}
		rows, err := afterhours.AffectedReport(p, stoppedClock(when), n)
		if err == nil && *asJSON {
			var out []byte
			if out, err = json.MarshalIndent(rows, "", "  "); err == nil {
				_, err = stdout.Write(append(out, '\n'))
			}
		} else if err == nil {
			err = afterhours.WriteAffectedCSV(stdout, rows)
		}
		if err != nil {
			fmt.Fprintf(stderr, "plan: %s: %v\n", name, err)
			return 1
		}
		return 0
	}

	var plans []*afterhours.Plan
	if *days > 0 {
		plans, err = afterhours.Forecast(p, stoppedClock(when), *days)
	} else {
		var plan *afterhours.Plan
		plan, err = afterhours.BuildPlan(p, stoppedClock(when))
		plans = []*afterhours.Plan{plan}
	}
	if err != nil {
		fmt.Fprintf(stderr, "plan: %s: %v\n", name, err)
		return 1
	}

	if *asJSON {
		var v any = plans[0]
		if *days > 0 {
			v = plans
		}
		out, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "plan: %v\n", err)
			return 1
		}
		if _, err := stdout.Write(append(out, '\n')); err != nil {
			fmt.Fprintf(stderr, "plan: %v\n", err)
			return 1
		}
		return 0
	}
	switch {
	case *asSVG:
		err = plans[0].WriteSVG(stdout)
	case *days > 0:
		err = afterhours.WriteForecast(stdout, plans)
	default:
		err = plans[0].WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "plan: %v\n", err)
		return 1
	}
	return 0
}
