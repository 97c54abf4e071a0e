package csvsafe

import (
	"bytes"
	"encoding/csv"
	"testing"
)

func TestEscape(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"},
		{"+1", "'+1"},
		{"-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"'quoted", "''quoted"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"a=1", "a=1"},
		{" =1", " =1"},
		{"\n=1", "\n=1"},
		// Plain negative numbers are numbers to every spreadsheet.
		{"-1", "-1"},
		{"-0.250000", "-0.250000"},
		{"-", "'-"},
		{"-1.", "'-1."},
		{"-.5", "'-.5"},
		{"-1e5", "'-1e5"},
		{"-1.2.3", "'-1.2.3"},
		{"-1-1", "'-1-1"},
		{"--1", "'--1"},
		{"-delete", "'-delete"},
	} {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Unescape(Escape(tt.in)); got != tt.in {
			t.Errorf("Unescape(Escape(%q)) = %q", tt.in, got)
		}
	}
}

// TestRoundTrip writes records through encoding/csv and reads them back.
func TestRoundTrip(t *testing.T) {
	rows := [][]string{{"=1", "'=1", "''", "-1", "-x", "plain", "", "@a,b"}}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for _, r := range rows {
		if err := w.Write(EscapeRecord(append([]string(nil), r...))); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	back, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := UnescapeRecord(back[0]); len(got) != len(rows[0]) {
		t.Fatalf("%q", got)
	}
	for i := range rows[0] {
		if back[0][i] != rows[0][i] {
			t.Errorf("cell %d: %q, want %q", i, back[0][i], rows[0][i])
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "=1", "-1", "-0.5", "'", "\t", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := Escape(s)
		if Unescape(e) != s {
			t.Fatalf("Unescape(Escape(%q)) = %q", s, Unescape(e))
		}
		if e != "" {
			switch e[0] {
			case '=', '+', '@', '\t', '\r':
				t.Fatalf("Escape(%q) = %q starts a formula", s, e)
			case '-':
				if !isNegativeNumber(e) {
					t.Fatalf("Escape(%q) = %q starts with '-'", s, e)
				}
			}
		}
	})
}
