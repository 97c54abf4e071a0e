package fleet

import (
	"errors"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
)

// profileWith returns a validated profile at a site with one token.
func profileWith(t *testing.T, client string, site *afterhours.Site, tok *afterhours.Token) *afterhours.Profile {
	t.Helper()
	tok.Tasks = []*afterhours.Task{{Name: "work", Run: []string{"/bin/true"}}}
	p := &afterhours.Profile{Client: client, Site: *site, Sharing: []*afterhours.Token{tok}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func tokenAt(name, base, zone string, dur time.Duration) *afterhours.Token {
	return &afterhours.Token{Token: name, Base: base, Zone: zone, Duration: afterhours.Duration(dur)}
}

// spans compresses a concurrency series into "from-to:count" runs of
// non-zero counts, minutes from the start.
func spans(c []int) []string {
	var out []string
	for m := 0; m < len(c); {
		n := m
		for n < len(c) && c[n] == c[m] {
			n++
		}
		if c[m] != 0 {
			out = append(out, baseNames[m%minutesPerDay]+"-"+baseNames[(n-1)%minutesPerDay]+":"+itoa(c[m]))
		}
		m = n
	}
	return out
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestLoadForecast(t *testing.T) {
	kiosk := mustSite(t, "UTC", kioskShape, nil)
	london := mustSite(t, "Europe/London", kioskShape, nil)
	office := mustSite(t, "Europe/London", officeShape, nil)
	apia := mustSite(t, "Pacific/Apia", kioskShape, nil)
	tests := []struct {
		name        string
		profiles    func() []*afterhours.Profile
		day         afterhours.Date
		token       string
		want        []string
		peak        int
		peakAt      string
		slots, void int
	}{
		{
			name: "overlapping slots",
			profiles: func() []*afterhours.Profile {
				return []*afterhours.Profile{
					profileWith(t, "a", kiosk, tokenAt("pkg", "01:00", "UTC", 30*time.Minute)),
					profileWith(t, "b", kiosk, tokenAt("pkg", "01:15", "UTC", 30*time.Minute)),
					profileWith(t, "c", kiosk, tokenAt("pkg", "01:20", "UTC", 10*time.Minute)),
					profileWith(t, "d", kiosk, tokenAt("other", "01:20", "UTC", 10*time.Minute)),
				}
			},
			day: date(2026, 5, 5), token: "pkg",
			want: []string{"01:00-01:14:1", "01:15-01:19:2", "01:20-01:29:3", "01:30-01:44:1"},
			peak: 3, peakAt: "01:20", slots: 3,
		},
		{
			// The slot of the day before runs into the day.
			name: "across midnight",
			profiles: func() []*afterhours.Profile {
				return []*afterhours.Profile{profileWith(t, "a", kiosk, tokenAt("pkg", "23:50", "UTC", 40*time.Minute))}
			},
			day: date(2026, 5, 5), token: "pkg",
			want: []string{"00:00-00:29:1", "23:50-23:59:1"},
			peak: 1, peakAt: "00:00", slots: 2,
		},
		{
			// On London's spring-forward day 01:30 does not exist and
			// becomes 02:30 BST: the same instant as 02:30.
			name: "spring forward",
			profiles: func() []*afterhours.Profile {
				return []*afterhours.Profile{
					profileWith(t, "a", london, tokenAt("lan", "01:30", "site", 20*time.Minute)),
					profileWith(t, "b", london, tokenAt("lan", "02:30", "site", 20*time.Minute)),
				}
			},
			day: date(2026, 3, 29), token: "lan",
			want: []string{"01:30-01:49:2"},
			peak: 2, peakAt: "01:30", slots: 2,
		},
		{
			name: "same on a normal day",
			profiles: func() []*afterhours.Profile {
				return []*afterhours.Profile{
					profileWith(t, "a", london, tokenAt("lan", "01:30", "site", 20*time.Minute)),
					profileWith(t, "b", london, tokenAt("lan", "02:30", "site", 20*time.Minute)),
				}
			},
			day: date(2026, 3, 30), token: "lan",
			want: []string{"00:30-00:49:1", "01:30-01:49:1"},
			peak: 1, peakAt: "00:30", slots: 2,
		},
		{
			// Noon UTC on a Tuesday is in the office's business hours: the
			// slot is void and does not count.
			name: "void slot",
			profiles: func() []*afterhours.Profile {
				return []*afterhours.Profile{profileWith(t, "a", office, tokenAt("pkg", "12:00", "UTC", 20*time.Minute))}
			},
			day: date(2026, 5, 5), token: "pkg",
			want: nil, peak: 0, peakAt: "00:00", void: 1,
		},
		{
			name: "anytime slot runs in business hours",
			profiles: func() []*afterhours.Profile {
				tok := tokenAt("pkg", "12:00", "UTC", 20*time.Minute)
				tok.Anytime = true
				return []*afterhours.Profile{profileWith(t, "a", office, tok)}
			},
			day: date(2026, 5, 5), token: "pkg",
			want: []string{"12:00-12:19:1"}, peak: 1, peakAt: "12:00", slots: 1,
		},
		{
			// Samoa skipped 2011-12-30: its 12:00 resolves to the instant
			// of 2011-12-31 12:00, which counts once.
			name: "a skipped date counts once",
			profiles: func() []*afterhours.Profile {
				return []*afterhours.Profile{profileWith(t, "a", apia, tokenAt("lan", "12:00", "site", 20*time.Minute))}
			},
			day: date(2011, 12, 30), token: "lan",
			want: []string{"22:00-22:19:1"}, peak: 1, peakAt: "22:00", slots: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := LoadForecast(tt.profiles(), tt.day)
			if err != nil {
				t.Fatal(err)
			}
			if l.Minutes != minutesPerDay || !l.Start.Equal(time.Date(tt.day.Year, tt.day.Month, tt.day.Day, 0, 0, 0, 0, time.UTC)) {
				t.Fatalf("start %v, %d minutes", l.Start, l.Minutes)
			}
			tl := l.Token(tt.token)
			if tl == nil {
				t.Fatalf("no token %s in %+v", tt.token, l.Tokens)
			}
			got := spans(tl.Concurrency)
			if len(got) != len(tt.want) || len(got) > 0 && !equalStrings(got, tt.want) {
				t.Errorf("concurrency %v; want %v", got, tt.want)
			}
			if tl.Peak != tt.peak || tl.PeakAt.Format("15:04") != tt.peakAt || tl.Slots != tt.slots || tl.Void != tt.void {
				t.Errorf("peak %d at %s, %d slots, %d void; want %d at %s, %d, %d",
					tl.Peak, tl.PeakAt.Format("15:04"), tl.Slots, tl.Void, tt.peak, tt.peakAt, tt.slots, tt.void)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoadForecastInterval(t *testing.T) {
	kiosk := mustSite(t, "UTC", kioskShape, nil)
	ps := []*afterhours.Profile{
		profileWith(t, "a", kiosk, tokenAt("pkg", "01:00", "UTC", 30*time.Minute)),
		profileWith(t, "b", kiosk, tokenAt("pkg", "01:10", "UTC", 30*time.Minute)),
	}
	// An interval of two days from 00:59:30 widens to whole minutes.
	start := time.Date(2026, 5, 5, 0, 59, 30, 0, time.UTC)
	l, err := LoadForecastInterval(ps, afterhours.Interval{Start: start, End: start.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if l.Minutes != 2*minutesPerDay+1 || !l.Start.Equal(start.Truncate(time.Minute)) {
		t.Fatalf("start %v, %d minutes", l.Start, l.Minutes)
	}
	tl := l.Token("pkg")
	if tl.Slots != 4 || tl.Peak != 2 || !tl.PeakAt.Equal(time.Date(2026, 5, 5, 1, 10, 0, 0, time.UTC)) || tl.Holders != 2 {
		t.Errorf("%+v", tl)
	}
	if l.Token("none") != nil {
		t.Error("a token nobody holds has a load")
	}

	bad := []afterhours.Interval{
		{Start: start, End: start},
		{Start: start, End: start.Add(-time.Hour)},
		{Start: start, End: start.Add(MaxLoadInterval + time.Minute)},
	}
	for _, iv := range bad {
		if _, err := LoadForecastInterval(ps, iv); !errors.Is(err, ErrInvalidPeriod) {
			t.Errorf("%v-%v: error %v; want ErrInvalidPeriod", iv.Start, iv.End, err)
		}
	}
	if _, err := LoadForecast([]*afterhours.Profile{nil}, date(2026, 1, 1)); err == nil {
		t.Error("a nil profile: no error")
	}
	raw := &afterhours.Profile{Client: "raw", Sharing: []*afterhours.Token{tokenAt("pkg", "01:00", "UTC", time.Minute)}}
	if _, err := LoadForecast([]*afterhours.Profile{raw}, date(2026, 1, 1)); !errors.Is(err, afterhours.ErrNotValidated) {
		t.Errorf("an unvalidated profile: error %v; want ErrNotValidated", err)
	}
}
