package main

import (
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

func TestParseAt(t *testing.T) {
	site := func(zone string) *afterhours.Site {
		s := &afterhours.Site{Timezone: zone}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	london, newYork, lordHowe := site("Europe/London"), site("America/New_York"), site("Australia/Lord_Howe")
	cases := []struct {
		site     *afterhours.Site
		in, want string
		note     bool
	}{
		{london, "2026-11-24T21:00", "2026-11-24T21:00:00Z", false},
		{london, "2026-11-24T21:00:30", "2026-11-24T21:00:30Z", false},
		{london, "2026-07-01T21:00", "2026-07-01T21:00:00+01:00", false},
		{london, "2026-03-29T01:30", "2026-03-29T02:30:00+01:00", true},
		{london, "2026-10-25T01:30", "2026-10-25T01:30:00+01:00", true},
		{london, "2026-10-25T01:30:00+00:00", "2026-10-25T01:30:00Z", false},
		{newYork, "2026-03-08T02:30", "2026-03-08T03:30:00-04:00", true},
		{newYork, "2026-11-01T01:30", "2026-11-01T01:30:00-04:00", true},
		{newYork, "2026-11-24T21:00:00Z", "2026-11-24T16:00:00-05:00", false},
		// Lord Howe moves by 30 minutes.
		{lordHowe, "2026-10-04T02:15", "2026-10-04T02:45:00+11:00", true},
		{lordHowe, "2026-04-05T01:45", "2026-04-05T01:45:00+11:00", true},
	}
	for _, c := range cases {
		got, note, err := parseAt(c.site, c.in)
		if err != nil {
			t.Errorf("%s %s: %v", c.site.Timezone, c.in, err)
			continue
		}
		want := mustTime(c.want)
		if !got.Equal(want) || got.Location() != c.site.Location() {
			t.Errorf("%s %s: got %s in %v, want %s in the site's zone", c.site.Timezone, c.in, got.Format(time.RFC3339), got.Location(), c.want)
		}
		if (note != "") != c.note {
			t.Errorf("%s %s: note %q", c.site.Timezone, c.in, note)
		}
	}
	if _, _, err := parseAt(london, "2026-02-29T21:00"); err == nil {
		t.Error("2026-02-29 accepted")
	}
}

// FuzzParseAt: -at never panics; what it accepts is an instant in the
// site's zone; a site-local time read without a note reads back as it was
// given, and one with a note is a time the zone skips or repeats.
func FuzzParseAt(f *testing.F) {
	for _, s := range []string{"2026-11-24T21:00", "2026-03-29T01:30", "2026-10-25T01:30:59", "2026-11-24T21:00:00Z",
		"2026-11-24T21:00:00+05:45", "0000-01-01T00:00", "9999-12-31T23:59:59", "2026-02-29T21:00", "tonight"} {
		f.Add(s)
	}
	site := &afterhours.Site{Timezone: "Europe/London"}
	if err := site.Validate(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, note, err := parseAt(site, s)
		if err != nil {
			return
		}
		if got.Location() != site.Location() {
			t.Fatalf("%q: in %v", s, got.Location())
		}
		for _, layout := range localLayouts {
			w, err := time.Parse(layout, s)
			if err != nil {
				continue
			}
			back := got.Format("2006-01-02T15:04:05")
			if note == "" && back != w.Format("2006-01-02T15:04:05") {
				t.Fatalf("%q read as %s with no note", s, got)
			}
			if note != "" && back == w.Format("2006-01-02T15:04:05") && !strings.Contains(note, "occurs twice") {
				t.Fatalf("%q: note %q for a time read as given", s, note)
			}
			return
		}
	})
}
