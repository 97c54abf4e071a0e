package fleet

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours/internal/csvsafe"
)

// csvHeader is the header row of a CSV report.
var csvHeader = []string{"id", "group", "tags", "outcome", "phase", "attempts", "start", "end", "duration_s", "error", "resumed"}

// WriteCSV writes records as an RFC 4180 table (CRLF line ends, fields
// quoted when they need it) with a header row: id, group, tags (separated
// by spaces), outcome, phase, attempts, start and end (RFC 3339 in UTC with
// nanoseconds, empty when unset), duration_s (seconds, to the microsecond,
// for spreadsheets), error (with every line break written as a line feed,
// which is what RFC 4180 readers give back), resumed (true or false). Pass [Report.Targets]
// for every target, or [Report.Failed] for a ticket.
//
// Cells are formula-safe: a cell that starts with "=", "+", "-", "@", "'",
// a tab or a carriage return gets a "'" before it, so that a spreadsheet
// shows a target named "=HYPERLINK(...)" or an error message as text rather
// than running it; a plain negative number ("-0.250000" in duration_s after
// a clock stepped back) is left a number. [ReadCSV] removes that "'" again,
// so every value reads back as it was written. The JSON report
// ([Report.WriteJSON]) carries the values as they are.
func WriteCSV(w io.Writer, recs []Record) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	row := make([]string, len(csvHeader))
	for _, rec := range recs {
		row[0] = rec.ID
		row[1] = rec.Group
		row[2] = strings.Join(rec.Tags, " ")
		row[3] = rec.Outcome.String()
		row[4] = rec.Phase
		row[5] = strconv.Itoa(rec.Attempts)
		row[6] = csvTime(rec.Start)
		row[7] = csvTime(rec.End)
		row[8] = ""
		if d := rec.Duration(); d != 0 || !rec.End.IsZero() {
			row[8] = strconv.FormatFloat(d.Seconds(), 'f', 6, 64)
		}
		row[9] = oneNewline.Replace(rec.Error)
		row[10] = strconv.FormatBool(rec.Resumed)
		if err := cw.Write(csvsafe.EscapeRecord(row)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// oneNewline writes every line break as a line feed: encoding/csv, as other
// readers, drops a carriage return before a line feed even inside quotes,
// so only line feeds read back as they were written.
var oneNewline = strings.NewReplacer("\r\n", "\n", "\r", "\n")

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ReadCSV reads back the records [WriteCSV] wrote, taking off the "'" that
// WriteCSV puts before a cell a spreadsheet would take for a formula (any
// cell that starts with "'"); duration_s, derived from start and end, is
// not read. Errors wrap [ErrInvalidReport] and name the
// line.
func ReadCSV(r io.Reader) ([]Record, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(csvHeader)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrInvalidReport, err)
	}
	if !slices.Equal(head, csvHeader) {
		return nil, fmt.Errorf("%w: header %q: want %q", ErrInvalidReport, head, csvHeader)
	}
	var recs []Record
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidReport, err)
		}
		line, _ := cr.FieldPos(0)
		rec, err := parseRow(csvsafe.UnescapeRecord(row))
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrInvalidReport, line, err)
		}
		recs = append(recs, rec)
	}
}

func parseRow(row []string) (Record, error) {
	rec := Record{ID: row[0], Group: row[1], Phase: row[4], Error: row[9]}
	if row[2] != "" {
		rec.Tags = strings.Split(row[2], " ")
	}
	var err error
	if rec.Outcome, err = parseOutcome(row[3]); err != nil {
		return rec, err
	}
	if rec.Attempts, err = strconv.Atoi(row[5]); err != nil {
		return rec, fmt.Errorf("attempts %q: %w", row[5], err)
	}
	for k, p := range []*time.Time{&rec.Start, &rec.End} {
		if s := row[6+k]; s != "" {
			if *p, err = time.Parse(time.RFC3339Nano, s); err != nil {
				return rec, fmt.Errorf("%s %q: %w", csvHeader[6+k], s, err)
			}
		}
	}
	if rec.Resumed, err = strconv.ParseBool(row[10]); err != nil {
		return rec, fmt.Errorf("resumed %q: %w", row[10], err)
	}
	return rec, nil
}
