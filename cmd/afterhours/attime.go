package main

import (
	"fmt"
	"time"

	"github.com/afterhours-go/afterhours"
)

// localLayouts are the site-local forms of -at: a wall-clock time without
// an offset, with or without seconds.
var localLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05"}

// parseAt reads -at: an RFC 3339 instant as it is, or a site-local time
// without an offset read in the site's zone by [afterhours.Site.WallTime]
// (a time in a DST gap moves forward by the gap, one in an overlap means the
// first occurrence). The note, when not empty, says how a local time that a
// DST change makes ambiguous was read. The instant is in the site's zone.
func parseAt(site *afterhours.Site, s string) (t time.Time, note string, err error) {
	loc := site.Location()
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.In(loc), "", nil
	}
	for _, layout := range localLayouts {
		w, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		d := afterhours.DateOf(w)
		t := site.WallTime(d, w.Hour(), w.Minute(), w.Second())
		return t, dstNote(t, w, loc), nil
	}
	return time.Time{}, "", fmt.Errorf("want RFC 3339 (2026-11-24T21:00:00Z) or a site-local time (2026-11-24T21:00)")
}

// dstNote says how the wall time w (read as UTC) became t in loc when a DST
// change made it ambiguous: moved forward out of a gap, or the first of two.
func dstNote(t, w time.Time, loc *time.Location) string {
	layout := "2006-01-02T15:04:05"
	want := w.Format(layout)
	if t.Format(layout) != want {
		return fmt.Sprintf("%s does not exist in %s (a DST gap skips it): read as %s", want, loc, t.Format("2006-01-02T15:04:05 MST"))
	}
	// Another reading of the same wall clock with another of the zone's
	// offsets around it: the wall time occurs twice.
	for _, probe := range []time.Time{t.Add(-26 * time.Hour), t.Add(26 * time.Hour)} {
		_, off := probe.In(loc).Zone()
		u := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC).Add(-time.Duration(off) * time.Second)
		if !u.Equal(t) && u.In(loc).Format(layout) == want {
			return fmt.Sprintf("%s occurs twice in %s (a DST overlap): read as the first, %s", want, loc, t.Format("2006-01-02T15:04:05 MST"))
		}
	}
	return ""
}
