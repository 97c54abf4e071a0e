package main

import (
	"encoding/json"
	"testing"
)

func TestForecast(t *testing.T) {
	r := runArgs("forecast", exampleProfile, "-days", "3", "-at", "2026-12-24T12:00")
	r.check(t, exitOK, []string{"2026-12-24", "2026-12-25", "2026-12-26"}, nil)
	golden(t, "example.forecast.golden", r.stdout)

	r = runArgs("forecast", exampleProfile, "-days", "7", "-at", "2026-11-24T21:00", "-json")
	r.check(t, exitOK, nil, nil)
	var plans []struct{ Day string }
	if err := json.Unmarshal([]byte(r.stdout), &plans); err != nil {
		t.Fatal(err)
	}
	if len(plans) != 7 || plans[0].Day != "2026-11-24" || plans[6].Day != "2026-11-30" {
		t.Errorf("days %+v", plans)
	}
}

func TestForecastUsage(t *testing.T) {
	for _, args := range [][]string{
		{"forecast", exampleProfile},
		{"forecast", exampleProfile, "-days", "0"},
		{"forecast", exampleProfile, "-days", "401"},
		{"forecast", exampleProfile, "-days", "many"},
	} {
		runArgs(args...).check(t, exitUsage, nil, []string{"-days", "usage: afterhours forecast"})
	}
}
