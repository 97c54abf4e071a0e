package afterhours

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustSite(t *testing.T, s Site) *Site {
	t.Helper()
	require.NoError(t, s.Validate())
	return &s
}

func at(t *testing.T, zone string, value string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04", value, loc)
	require.NoError(t, err)
	return v
}

func day(t *testing.T, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	require.NoError(t, err)
	return d
}

var weekdays = map[string][]string{
	"mon": {"08:00-18:00"}, "tue": {"08:00-18:00"}, "wed": {"08:00-18:00"},
	"thu": {"08:00-18:00"}, "fri": {"08:00-18:00"}, "sat": {"09:00-13:00"},
}

func TestCycle(t *testing.T) {
	tests := []struct {
		name                 string
		site                 Site
		day                  string
		span0, span1, window string // local "2006-01-02 15:04"; window is its end
	}{
		{
			name: "weekday with grace",
			site: Site{Timezone: "Europe/London", BusinessHours: weekdays, Grace: Duration(30 * time.Minute)},
			day:  "2026-11-23", span0: "2026-11-23 18:30", span1: "2026-11-24 18:30", window: "2026-11-24 08:00",
		},
		{
			name: "saturday then a closed sunday: saturday's cycle ends at sunday's midnight",
			site: Site{Timezone: "Europe/London", BusinessHours: weekdays},
			day:  "2026-11-28", span0: "2026-11-28 13:00", span1: "2026-11-29 00:00", window: "2026-11-29 00:00",
		},
		{
			name: "closed sunday: its cycle starts at midnight and runs to monday's close",
			site: Site{Timezone: "Europe/London", BusinessHours: weekdays},
			day:  "2026-11-29", span0: "2026-11-29 00:00", span1: "2026-11-30 18:00", window: "2026-11-30 08:00",
		},
		{
			name: "closed date",
			site: Site{Timezone: "Europe/London", BusinessHours: weekdays, Closed: []string{"2026-12-25"}},
			day:  "2026-12-25", span0: "2026-12-25 00:00", span1: "2026-12-26 13:00", window: "2026-12-26 09:00",
		},
		{
			name: "open until 24:00 then a closed day: the next day starts at the anchor",
			site: Site{Timezone: "America/New_York", BusinessHours: map[string][]string{"fri": {"16:00-24:00"}, "mon": {"09:00-17:00"}}, Grace: Duration(time.Hour)},
			day:  "2026-11-27", span0: "2026-11-28 01:00", span1: "2026-11-28 01:00", window: "2026-11-28 01:00",
		},
		{
			name: "a closed thursday's cycle runs to friday's anchor, saturday 02:00",
			site: Site{Timezone: "America/New_York", BusinessHours: map[string][]string{"fri": {"18:00-24:00"}, "sat": {"00:00-02:00", "10:00-12:00"}}},
			day:  "2026-11-26", span0: "2026-11-26 00:00", span1: "2026-11-28 02:00", window: "2026-11-27 18:00",
		},
		{
			name: "friday's period ends at saturday 02:00",
			site: Site{Timezone: "America/New_York", BusinessHours: map[string][]string{"fri": {"18:00-24:00"}, "sat": {"00:00-02:00", "10:00-12:00"}}},
			day:  "2026-11-27", span0: "2026-11-28 02:00", span1: "2026-11-28 12:00", window: "2026-11-28 10:00",
		},
		{
			name: "kiosk: no business hours, the whole day is the window",
			site: Site{Timezone: "Asia/Kathmandu"},
			day:  "2026-11-23", span0: "2026-11-23 00:00", span1: "2026-11-24 00:00", window: "2026-11-24 00:00",
		},
		{
			name: "grace that reaches past a closed midnight keeps anchors monotonic",
			site: Site{Timezone: "Europe/London", BusinessHours: map[string][]string{"sat": {"20:00-23:00"}}, Grace: Duration(12 * time.Hour)},
			day:  "2026-11-29", span0: "2026-11-29 11:00", span1: "2026-11-30 00:00", window: "2026-11-30 00:00",
		},
		{
			name: "London spring forward: business ends in the gap, at 02:30 BST",
			site: Site{Timezone: "Europe/London", BusinessHours: map[string][]string{"sat": {"20:00-24:00"}, "sun": {"00:00-01:30"}}},
			day:  "2026-03-29", span0: "2026-03-29 02:30", span1: "2026-03-30 00:00", window: "2026-03-30 00:00",
		},
		{
			name: "Lord Howe 30-minute spring forward: 02:15 means 02:45",
			site: Site{Timezone: "Australia/Lord_Howe", BusinessHours: map[string][]string{"sat": {"20:00-24:00"}, "sun": {"00:00-02:15"}}},
			day:  "2026-10-04", span0: "2026-10-04 02:45", span1: "2026-10-05 00:00", window: "2026-10-05 00:00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSite(t, tt.site)
			c := s.Cycle(day(t, tt.day))
			zone := tt.site.Timezone
			require.Equal(t, at(t, zone, tt.span0), c.Span.Start, "span start")
			require.Equal(t, at(t, zone, tt.span1), c.Span.End, "span end")
			require.Equal(t, c.Span.Start, c.Window.Start, "window start")
			require.Equal(t, at(t, zone, tt.window), c.Window.End, "window end")
			if !c.Span.Empty() {
				require.Equal(t, c, s.CycleAt(c.Span.Start))
				require.Equal(t, c, s.CycleAt(c.Span.End.Add(-time.Nanosecond)))
			}
		})
	}
}

func TestCycleMergedAcrossMidnightIsEmptyForTheFirstDay(t *testing.T) {
	// Saturday's last interval runs into Sunday's only one: both days end
	// with the same business period, so Saturday's span is empty and the
	// night belongs to Sunday's cycle.
	s := mustSite(t, Site{Timezone: "Europe/London", BusinessHours: map[string][]string{"sat": {"20:00-24:00"}, "sun": {"00:00-01:30"}}})
	sat := s.Cycle(day(t, "2026-03-28"))
	require.True(t, sat.Span.Empty())
	require.True(t, sat.Window.Empty())
	require.Equal(t, at(t, "Europe/London", "2026-03-29 02:30"), sat.Span.Start)
	require.Equal(t, day(t, "2026-03-29"), s.CycleAt(sat.Span.Start).Day)
}

func TestCycleOverlapOccursOnce(t *testing.T) {
	// London falls back on 2026-10-25: 01:30 occurs twice and means the
	// first, 01:30 BST = 00:30 UTC.
	s := mustSite(t, Site{Timezone: "Europe/London", BusinessHours: map[string][]string{"sat": {"20:00-24:00"}, "sun": {"00:00-01:30"}}})
	c := s.Cycle(day(t, "2026-10-24"))
	require.Equal(t, time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), c.Span.Start.UTC())
}

// TestNoWindowWhenAlwaysOpen checks that a site open all week, on which
// every plan would fail with ErrNoWindow, is refused by validation
// (TestBusinessHoursLeaveAWindow has the edge cases).
func TestNoWindowWhenAlwaysOpen(t *testing.T) {
	data := `{"client":"c","site":{"timezone":"UTC","business_hours":{` +
		`"mon":["00:00-24:00"],"tue":["00:00-24:00"],"wed":["00:00-24:00"],"thu":["00:00-24:00"],` +
		`"fri":["00:00-24:00"],"sat":["00:00-24:00"],"sun":["00:00-24:00"]}}}`
	p, err := ParseProfile([]byte(data))
	require.Nil(t, p)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "site.business_hours", ve.Problems[0].Path)
}

func TestAnchorsNeverGoBackwards(t *testing.T) {
	s := mustSite(t, Site{
		Timezone:      "Australia/Lord_Howe",
		BusinessHours: map[string][]string{"mon": {"06:00-24:00"}, "tue": {"00:00-01:00", "22:00-23:00"}, "thu": {"12:00-24:00"}, "fri": {"00:00-24:00"}, "sat": {"00:00-03:00"}},
		Closed:        []string{"2026-10-06"},
		Grace:         Duration(12 * time.Hour),
	})
	d := day(t, "2026-01-01")
	prev := s.Cycle(d)
	for range 730 {
		d = d.AddDays(1)
		c := s.Cycle(d)
		require.False(t, c.Span.Start.Before(prev.Span.Start), "anchor of %s goes backwards", d)
		require.Equal(t, prev.Span.End, c.Span.Start, "spans of %s and the day before do not meet", d)
		require.False(t, c.Window.End.After(c.Span.End))
		if !c.Window.Empty() {
			require.False(t, s.InBusiness(c.Window.Start), "window of %s starts in business time", d)
		}
		prev = c
	}
}

func TestTokenSlotOn(t *testing.T) {
	p, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"Europe/London"},"sharing":[
		{"token":"lan","base":"01:30","zone":"site","duration":"30m","buffer":"15m"},
		{"token":"repo","base":"01:30","duration":"20m"}]}`))
	require.NoError(t, err)
	lan := p.Sharing[0].SlotOn(day(t, "2026-03-29")) // 01:30 does not exist: 02:30 BST
	require.Equal(t, time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), lan.Run.Start.UTC())
	require.Equal(t, 45*time.Minute, lan.Hold().Duration())
	repo := p.Sharing[1].SlotOn(day(t, "2026-03-29"))
	require.Equal(t, time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), repo.Run.Start)
	require.Equal(t, time.UTC, p.Sharing[1].Location())
}

func TestPlanOutOfRange(t *testing.T) {
	p, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"UTC"}}`))
	require.NoError(t, err)
	_, err = PlanAt(p, time.Date(2201, 1, 1, 0, 0, 0, 0, time.UTC))
	require.ErrorIs(t, err, ErrOutOfRange)
	_, err = PlanAt(p, time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC))
	require.ErrorIs(t, err, ErrOutOfRange)
	_, err = PlanAt(p, time.Date(2200, 6, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
}

func TestValidated(t *testing.T) {
	s := &Site{Timezone: "Europe/London"}
	require.False(t, s.Validated())
	require.NoError(t, s.Validate())
	require.True(t, s.Validated())
	bad := &Site{Timezone: "Europe/London", Grace: Duration(13 * time.Hour)}
	require.Error(t, bad.Validate())
	require.False(t, bad.Validated(), "a zone that loads is not enough")
	require.False(t, (*Site)(nil).Validated())
	p := &Profile{Client: "c", Site: Site{Timezone: "UTC"}}
	require.False(t, p.Validated())
	require.NoError(t, p.Validate())
	require.True(t, p.Validated())
}

func TestNextBusiness(t *testing.T) {
	shop := mustSite(t, Site{Timezone: "Europe/London", BusinessHours: weekdays})
	next, ok := shop.NextBusiness(at(t, "Europe/London", "2026-11-28 13:00")) // Saturday, after closing
	require.True(t, ok)
	require.Equal(t, at(t, "Europe/London", "2026-11-30 08:00"), next)
	inside := at(t, "Europe/London", "2026-11-30 09:15")
	next, ok = shop.NextBusiness(inside)
	require.True(t, ok)
	require.Equal(t, inside, next, "an instant in business time is its own next business instant")
	require.True(t, shop.InBusiness(inside))

	kiosk := mustSite(t, Site{Timezone: "Asia/Kathmandu"})
	_, ok = kiosk.NextBusiness(inside)
	require.False(t, ok, "a site without business hours has none")
}
