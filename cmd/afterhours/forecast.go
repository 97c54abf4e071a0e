package main

import (
	"io"
	"time"

	"github.com/afterhours-go/afterhours"
)

// maxDays bounds -days of forecast and affected: a little over a year of
// cycles, which is what planning can look ahead.
const maxDays = 400

// runForecast is "afterhours forecast FILE -days N [-at TIME] [-json]": N
// consecutive cycles from the one plan would print ([afterhours.Forecast]),
// as a line a cycle and then each plan, or as a JSON array of plans.
func runForecast(args []string, stdout, stderr io.Writer, now time.Time) int {
	f := newFlags("forecast", "forecast FILE -days N [-at TIME] [-json]")
	days := f.Int("days", 0, "forecast `N` consecutive cycles (1 to 400; required)")
	at := f.String("at", "", "forecast as of `TIME`: RFC 3339, or site-local such as 2026-11-24T21:00 (default now)")
	asJSON := f.Bool("json", false, "print the plans as a JSON array")
	pos, code, stop := f.parse(args, 1, stdout, stderr)
	if stop {
		return code
	}
	if *days < 1 || *days > maxDays {
		return f.usageError(stderr, "-days %d: want 1 to %d cycles", *days, maxDays)
	}
	p, ok := load("forecast", pos[0], stderr)
	if !ok {
		return exitFailed
	}
	when, code, ok := instant(f, p, *at, now, stderr)
	if !ok {
		return code
	}
	plans, err := afterhours.Forecast(p, fixedClock(when), *days)
	if err != nil {
		return failed("forecast", stderr, err)
	}
	if *asJSON {
		err = writeJSON(stdout, plans)
	} else {
		err = afterhours.WriteForecast(stdout, plans)
	}
	if err != nil {
		return failed("forecast", stderr, err)
	}
	return exitOK
}
