package fleet

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

var (
	officeShape = testShapes[0] // Mon-Fri 08:00-18:00, Sat 09:00-13:00, grace 30m
	lunchShape  = testShapes[2]
	kioskShape  = testShapes[4]
	earlyShape  = testShapes[6] // Mon-Fri 04:00-12:00, grace 2h
	alwaysWed   = testShapes[7]
)

// runs formats a set of minutes as ranges of bases, "18:30-06:40" for the
// starts 18:30 to 06:40 round midnight.
func runs(s *minuteSet) string {
	var out []string
	start := -1
	for m := 0; m <= minutesPerDay; m++ {
		in := m < minutesPerDay && s.has(m)
		switch {
		case in && start < 0:
			start = m
		case !in && start >= 0:
			out = append(out, baseNames[start]+"-"+baseNames[m-1])
			start = -1
		}
	}
	// Join a run ending at 23:59 with one starting at 00:00.
	if n := len(out); n > 1 && strings.HasPrefix(out[0], "00:00-") && strings.HasSuffix(out[n-1], "-23:59") {
		out = append([]string{out[n-1][:5] + out[0][5:]}, out[1:n-1]...)
	}
	return strings.Join(out, " ")
}

// feasibleOf returns the slot and hold bases a site allows for a year from
// from.
func feasibleOf(t *testing.T, s *afterhours.Site, zone string, dur, buf time.Duration, from afterhours.Date) (slot, hold string) {
	t.Helper()
	res := Resource{Token: "t", Zone: zone, Duration: dur, Buffer: buf}
	a, err := newAllocator(res, from)
	if err != nil {
		t.Fatal(err)
	}
	a.addSites([]Client{{ID: "x", Site: s}})
	return runs(&a.sites[0].slot), runs(&a.sites[0].hold)
}

func TestFeasibleBases(t *testing.T) {
	y2026 := date(2026, 1, 1)
	tests := []struct {
		name      string
		tz        string
		shape     shape
		closed    []string
		zone      string
		dur, buf  time.Duration
		slot      string
		hold      string
		startDate afterhours.Date
	}{
		// Local 18:30-08:00 is UTC 18:30-08:00 in winter, 17:30-07:00 in
		// summer: a UTC base must fit both.
		{name: "london office UTC", tz: "Europe/London", shape: officeShape, zone: "UTC", dur: 20 * time.Minute, buf: 10 * time.Minute,
			slot: "18:30-06:40", hold: "18:40-06:40"},
		// In the site's zone the window is the same wall-clock time all
		// year; a base in the spring-forward gap moves on an hour, still
		// inside.
		{name: "london office site", tz: "Europe/London", shape: officeShape, zone: "site", dur: 20 * time.Minute, buf: 10 * time.Minute,
			slot: "18:30-07:40", hold: "18:40-07:40"},
		{name: "closed dates only widen windows", tz: "Europe/London", shape: officeShape, closed: []string{"2026-12-25", "2026-04-03"}, zone: "UTC",
			dur: 20 * time.Minute, buf: 10 * time.Minute, slot: "18:30-06:40", hold: "18:40-06:40"},
		// +10:30 standard, +11:00 DST (a 30-minute DST): UTC 08:00-21:30
		// and 07:30-21:00.
		{name: "lord howe office UTC", tz: "Australia/Lord_Howe", shape: officeShape, zone: "UTC", dur: 20 * time.Minute, buf: 10 * time.Minute,
			slot: "08:00-20:40", hold: "08:10-20:40"},
		// +05:45 all year: UTC 12:45-02:15.
		{name: "kathmandu office UTC", tz: "Asia/Kathmandu", shape: officeShape, zone: "UTC", dur: 20 * time.Minute,
			slot: "12:45-01:55", hold: "12:45-01:55"},
		// +13 in the southern summer, +12 in winter: UTC 05:30-19:00 and
		// 06:30-20:00.
		{name: "auckland office UTC", tz: "Pacific/Auckland", shape: officeShape, zone: "UTC", dur: 20 * time.Minute,
			slot: "06:30-18:40", hold: "06:30-18:40"},
		// -03 all year since 2019.
		{name: "sao paulo office UTC", tz: "America/Sao_Paulo", shape: officeShape, zone: "UTC", dur: 20 * time.Minute,
			slot: "21:30-10:40", hold: "21:30-10:40"},
		// The lunch hour is in no window: it follows business time within
		// the same cycle.
		{name: "lunch break is not after hours", tz: "UTC", shape: lunchShape, zone: "UTC", dur: 20 * time.Minute,
			slot: "17:00-07:40", hold: "17:00-07:40"},
		{name: "grace", tz: "UTC", shape: earlyShape, zone: "UTC", dur: 20 * time.Minute, buf: 30 * time.Minute,
			slot: "14:00-03:40", hold: "14:30-03:40"},
		{name: "kiosk", tz: "America/New_York", shape: kioskShape, zone: "UTC", dur: 20 * time.Minute, buf: 10 * time.Minute,
			slot: "00:00-23:59", hold: "00:00-23:59"},
		{name: "kiosk site zone", tz: "Australia/Lord_Howe", shape: kioskShape, zone: "site", dur: 2 * time.Hour,
			slot: "00:00-23:59", hold: "00:00-23:59"},
		{name: "a business day of 24 hours leaves nothing", tz: "Asia/Tokyo", shape: alwaysWed, zone: "UTC", dur: 20 * time.Minute,
			slot: "", hold: ""},
		// A one-hour window: the slot fits, the hold does not.
		{name: "hold does not fit", tz: "UTC", shape: shape{"short", every([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "00:00-23:00"), 0},
			zone: "UTC", dur: 50 * time.Minute, buf: 20 * time.Minute, slot: "23:00-23:10", hold: ""},
		// The same in a year from the middle of March: every date still
		// counts, DST changes at both ends.
		{name: "year from mid-march", tz: "Europe/London", shape: officeShape, zone: "UTC", dur: 20 * time.Minute, startDate: date(2026, 3, 15),
			slot: "18:30-06:40", hold: "18:30-06:40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := y2026
			if tt.startDate != (afterhours.Date{}) {
				from = tt.startDate
			}
			s := mustSite(t, tt.tz, tt.shape, tt.closed)
			slot, hold := feasibleOf(t, s, tt.zone, tt.dur, tt.buf, from)
			if slot != tt.slot || hold != tt.hold {
				t.Errorf("slot bases %q, hold bases %q; want %q and %q", slot, hold, tt.slot, tt.hold)
			}
		})
	}
}

func TestAllocateUnplaced(t *testing.T) {
	kiosk := mustSite(t, "UTC", kioskShape, nil)
	wed := mustSite(t, "Asia/Tokyo", alwaysWed, nil)
	unvalidated := &afterhours.Site{Timezone: "Europe/London"}
	clients := []Client{
		{ID: "", Site: kiosk},
		{ID: "dup", Site: kiosk},
		{ID: "dup", Site: kiosk},
		{ID: "nil-site"},
		{ID: "raw-site", Site: unvalidated},
		{ID: "wed", Site: wed},
	}
	// Three kiosk clients of one LAN for 20 hours each: the first takes
	// a slot, the fleet's capacity of 2 admits one more, which the LAN
	// capacity of 1 refuses; the third meets both.
	for i := range 3 {
		clients = append(clients, Client{ID: fmt.Sprintf("k%d", i), Site: kiosk, LAN: "lan"})
	}
	res := Resource{Token: "pkg", Duration: 20 * time.Hour, Capacity: 2, LANCapacity: 1}
	a, err := Allocate(clients, res, date(2026, 1, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range a.Unplaced {
		got = append(got, u.Client+":"+u.Reason)
		if u.Detail == "" {
			t.Errorf("%s: no detail", u.Client)
		}
	}
	want := ":no-id dup:duplicate-client dup:duplicate-client k1:lan-capacity k2:lan-capacity nil-site:invalid-site raw-site:invalid-site wed:no-window"
	if strings.Join(got, " ") != want {
		t.Errorf("unplaced %s\nwant     %s", strings.Join(got, " "), want)
	}
	if len(a.Assigned) != 1 || a.Assigned[0].Client != "k0" {
		t.Errorf("assigned %+v; want k0 alone", a.Assigned)
	}

	// Without the LAN, the fleet's capacity is what stops the third.
	for i := range clients {
		clients[i].LAN = ""
	}
	a, err = Allocate(clients, res, date(2026, 1, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if u := a.Unplaced[3]; u.Client != "k2" || u.Reason != ReasonCapacity {
		t.Errorf("unplaced %+v; want k2 for capacity", a.Unplaced)
	}
}

func TestAllocateInvalid(t *testing.T) {
	ok := Resource{Token: "pkg", Duration: 20 * time.Minute}
	tests := []struct {
		name string
		res  Resource
		from afterhours.Date
		want error
		msg  string
	}{
		{"no token", Resource{Duration: time.Minute}, date(2026, 1, 1), ErrInvalidResource, "no token name"},
		{"zone", Resource{Token: "t", Zone: "Europe/London", Duration: time.Minute}, date(2026, 1, 1), ErrInvalidResource, "unknown zone"},
		{"duration", Resource{Token: "t"}, date(2026, 1, 1), ErrInvalidResource, "duration must be positive"},
		{"buffer", Resource{Token: "t", Duration: time.Minute, Buffer: -time.Minute}, date(2026, 1, 1), ErrInvalidResource, "buffer must not be negative"},
		{"too long", Resource{Token: "t", Duration: 20 * time.Hour, Buffer: 5 * time.Hour}, date(2026, 1, 1), ErrInvalidResource, "exceed 24h"},
		{"capacity", Resource{Token: "t", Duration: time.Minute, Capacity: -1}, date(2026, 1, 1), ErrInvalidResource, "capacity must not be negative"},
		{"lan capacity", Resource{Token: "t", Duration: time.Minute, LANCapacity: -1}, date(2026, 1, 1), ErrInvalidResource, "LAN capacity"},
		{"zero date", ok, afterhours.Date{}, ErrInvalidPeriod, "not a date"},
		{"no such date", ok, date(2026, 2, 29), ErrInvalidPeriod, "not a date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Allocate(nil, tt.res, tt.from, nil)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v; want %v with %q", err, tt.want, tt.msg)
			}
		})
	}
	a, err := Allocate(nil, ok, date(2028, 2, 29), nil)
	if err != nil || a.To != date(2029, 3, 1) || len(a.Assigned)+len(a.Unplaced) != 0 {
		t.Errorf("a year from a leap day: %+v, %v; want empty, to 2029-03-01", a, err)
	}
}

func TestResourceEntry(t *testing.T) {
	tok := Resource{Token: "pkg", Duration: 20 * time.Minute, Buffer: 10 * time.Minute}.Entry("01:40")
	if tok.Token != "pkg" || tok.Base != "01:40" || tok.Zone != "UTC" || time.Duration(tok.Duration) != 20*time.Minute || time.Duration(tok.Buffer) != 10*time.Minute {
		t.Errorf("entry %+v", tok)
	}
}
