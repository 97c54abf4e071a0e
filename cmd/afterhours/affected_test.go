package main

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

func TestAffected(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		golden string
		out    []string
	}{
		{"db text", []string{"-resource", "db"}, "report-db.affected.golden",
			[]string{"2026-11-24  db Tue 20:00-Tue 21:00 GMT postpone  vacuum-db (housekeeping)  before: planned Tue 18:30-Tue 19:30 GMT, likely to finish first\n"}},
		{"db csv", []string{"-resource", "db", "-csv"}, "report-db.affected.csv.golden",
			[]string{"resource,down_start,down_end,action,ended,task,kind,cycle,relation"}},
		{"network csv", []string{"-resource", "network", "-csv"}, "report-network.affected.csv.golden", []string{"network,"}},
		{"disk json", []string{"-resource", "disk", "-json"}, "report-disk.affected.json.golden", []string{`"resource": "disk"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"affected", reportProfile, "-days", "7", "-at", "2026-11-20T12:00"}, c.args...)
			r := runArgs(args...)
			r.check(t, exitOK, c.out, nil)
			golden(t, c.golden, r.stdout)
		})
	}
}

// TestAffectedOnlyTheResource: every row is of the resource asked, and the
// CSV and JSON forms carry the same rows.
func TestAffectedOnlyTheResource(t *testing.T) {
	base := []string{"affected", reportProfile, "-resource", "network", "-days", "14", "-at", "2026-11-20T12:00"}
	rc := runArgs(append(base, "-csv")...)
	rc.check(t, exitOK, nil, nil)
	recs, err := csv.NewReader(strings.NewReader(rc.stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rj := runArgs(append(base, "-json")...)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(rj.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	if len(recs) < 3 || len(rows) != len(recs)-1 {
		t.Fatalf("%d CSV records, %d JSON rows", len(recs), len(rows))
	}
	for i, rec := range recs[1:] {
		if rec[0] != "network" || rows[i]["resource"] != "network" || rows[i]["task"] != rec[5] {
			t.Errorf("row %d: CSV %v, JSON %v", i, rec, rows[i])
		}
	}
	// No downtime in the horizon: no rows, and JSON says [].
	rn := runArgs("affected", reportProfile, "-resource", "disk", "-days", "1", "-at", "2026-11-20T12:00", "-json")
	rn.check(t, exitOK, nil, nil)
	if rn.stdout != "[]\n" {
		t.Errorf("no rows: %q", rn.stdout)
	}
}

func TestAffectedUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		errs string
	}{
		{[]string{"-days", "7"}, "-resource is required"},
		{[]string{"-resource", "db"}, "-days 0: want 1 to 400 cycles"},
		{[]string{"-resource", "db", "-days", "7", "-csv", "-json"}, "-csv and -json exclude each other"},
		{[]string{"-resource", "printer", "-days", "7"}, `-resource "printer": the profile declares ["db" "disk" "network"]`},
	} {
		runArgs(append([]string{"affected", reportProfile}, c.args...)...).check(t, exitUsage, nil, []string{c.errs, "usage: afterhours affected"})
	}
}
