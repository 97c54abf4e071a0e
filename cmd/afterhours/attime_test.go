package main

import (
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
