package afterhours

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestConstraintsFakeReadings(t *testing.T) {
	ctx := context.Background()
	fail := errors.New("no reading")
	f64 := func(v float64, err error) reading[float64] {
		return func(context.Context) (float64, error) { return v, err }
	}
	u64 := func(v uint64, err error) reading[uint64] {
		return func(context.Context) (uint64, error) { return v, err }
	}
	tests := []struct {
		c      Constraint
		want   Decision
		reason string
	}{
		{maxLoad(1.5, f64(0.4, nil)), Allow, ""},
		{maxLoad(1.5, f64(1.5, nil)), Allow, ""},
		{maxLoad(1.5, f64(3.25, nil)), Wait, "load average 3.25 above 1.50"},
		{maxLoad(1.5, f64(0, fail)), Wait, "load average unavailable: no reading"},
		{minFreeMemory(256<<20, u64(1<<30, nil)), Allow, ""},
		{minFreeMemory(256<<20, u64(100<<20, nil)), Wait, "free memory 100MiB below 256MiB"},
		{minFreeMemory(256<<20, u64(0, fail)), Wait, "unavailable"},
		{minFreeDisk("/var", 1<<30, u64(2<<30, nil)), Allow, ""},
		{minFreeDisk("/var", 1<<30, u64(512<<20, nil)), Wait, "free disk on /var 512MiB below 1GiB"},
		{minFreeDisk("/var", 1<<30, u64(0, fail)), Wait, "free disk on /var unavailable"},
		{maxDiskBusy(80, f64(12, nil)), Allow, ""},
		{maxDiskBusy(80, f64(95, nil)), Wait, "disk busy 95% of the time, above 80%"},
		{maxDiskBusy(80, f64(0, fail)), Wait, "disk busy time unavailable"},
	}
	for _, tt := range tests {
		v := tt.c.Check(ctx, Check{})
		if v.Decision != tt.want || !strings.Contains(v.Reason, tt.reason) {
			t.Errorf("%s: %v %q, want %v %q", tt.c.Name(), v.Decision, v.Reason, tt.want, tt.reason)
		}
	}
}

func TestBusinessHoursConstraint(t *testing.T) {
	p := mustParse(t, `{"client": "c", "site": {"timezone": "Europe/London", "business_hours": {"mon": ["08:00-18:00"]}}}`)
	c := BusinessHours(&p.Site)
	lon, _ := time.LoadLocation("Europe/London")
	at := func(h, m int) time.Time { return time.Date(2026, 11, 23, h, m, 0, 0, lon) }
	for _, tt := range []struct {
		start, end time.Time
		anytime    bool
		want       Decision
	}{
		{at(18, 0), at(19, 0), false, Allow},
		{at(6, 0), at(8, 0), false, Allow},
		{at(7, 30), at(8, 1), false, Refuse},
		{at(12, 0), at(12, 5), false, Refuse},
		{at(12, 0), at(12, 5), true, Allow},
	} {
		v := c.Check(context.Background(), Check{Start: tt.start, End: tt.end, Anytime: tt.anytime})
		if v.Decision != tt.want {
			t.Errorf("%s-%s anytime %v: %v %q, want %v", tt.start.Format("15:04"), tt.end.Format("15:04"), tt.anytime, v.Decision, v.Reason, tt.want)
		}
	}
}

func TestProbeConstraint(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
	}))
	defer srv.Close()
	c := Probe(srv.URL+"/admin", time.Second)
	if v := c.Check(context.Background(), Check{}); v.Decision != Allow {
		t.Errorf("200: %v %q", v.Decision, v.Reason)
	}
	status = http.StatusServiceUnavailable
	if v := c.Check(context.Background(), Check{}); v.Decision != Wait || !strings.Contains(v.Reason, "503") {
		t.Errorf("503: %v %q", v.Decision, v.Reason)
	}
	// Nothing listens: wait.
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	if v := Probe(url, time.Second).Check(context.Background(), Check{}); v.Decision != Wait {
		t.Errorf("closed port: %v %q", v.Decision, v.Reason)
	}
	// An answer later than the timeout: wait.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer slow.Close()
	if v := Probe(slow.URL, 50*time.Millisecond).Check(context.Background(), Check{}); v.Decision != Wait {
		t.Errorf("slow: %v %q", v.Decision, v.Reason)
	}
}

// The gopsutil-based constraints on this machine: skipped where a reading
// is unavailable.
func TestConstraintsSmoke(t *testing.T) {
	ctx := context.Background()
	huge := uint64(1) << 62
	for _, tt := range []struct {
		name        string
		lax, strict Constraint
	}{
		{"load", MaxLoad(1e9), MaxLoad(-1)},
		{"memory", MinFreeMemory(0), MinFreeMemory(huge)},
		{"disk", MinFreeDisk(os.TempDir(), 0), MinFreeDisk(os.TempDir(), huge)},
		{"disk busy", MaxDiskBusy(100, 20*time.Millisecond), MaxDiskBusy(-1, 20*time.Millisecond)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.lax.Check(ctx, Check{})
			if strings.Contains(v.Reason, "unavailable") {
				t.Skip(v.Reason)
			}
			if v.Decision != Allow {
				t.Errorf("lax %s: %v %q", tt.lax.Name(), v.Decision, v.Reason)
			}
			if v := tt.strict.Check(ctx, Check{}); v.Decision != Wait {
				t.Errorf("strict %s: %v %q", tt.strict.Name(), v.Decision, v.Reason)
			}
		})
	}
}

func TestByteSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want ByteSize
		str  string
	}{
		{`"256MiB"`, 256 << 20, "256MiB"},
		{`"1GiB"`, 1 << 30, "1GiB"},
		{`"1.5GiB"`, 3 << 29, "1.5GiB"},
		{`"512MB"`, 512e6, "488.3MiB"},
		{`"10KB"`, 10e3, "9.8KiB"},
		{`"300B"`, 300, "300B"},
		{`4096`, 4096, "4KiB"},
		{`"2 TiB"`, 2 << 40, "2TiB"},
	} {
		var b ByteSize
		if err := json.Unmarshal([]byte(tt.in), &b); err != nil || b != tt.want || b.String() != tt.str {
			t.Errorf("%s: %d %q %v, want %d %q", tt.in, b, b.String(), err, tt.want, tt.str)
		}
		out, _ := json.Marshal(b)
		var back ByteSize
		if err := json.Unmarshal(out, &back); err != nil || back != b {
			t.Errorf("%s: round trip through %s gives %d %v", tt.in, out, back, err)
		}
	}
	for _, bad := range []string{`"lots"`, `"-1MB"`, `"1XB"`, `true`} {
		var b ByteSize
		if err := json.Unmarshal([]byte(bad), &b); err == nil {
			t.Errorf("%s accepted as %d", bad, b)
		}
	}
}

func TestConstraintsSection(t *testing.T) {
	p := mustParse(t, `{"client": "c", "site": {"timezone": "UTC"}, "constraints": {"max_load": 1.5, "min_free_memory": "256MiB",
	   "min_free_disk": {"/var": "1GiB", "/srv": 1000}, "max_disk_busy": 80, "probe": "http://127.0.0.1:8080/admin"}}`)
	var names []string
	for _, c := range p.Constraints.List() {
		names = append(names, c.Name())
	}
	want := "max-load min-free-memory min-free-disk min-free-disk max-disk-busy probe"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("constraints %s, want %s", got, want)
	}
	if p.Constraints.MinFreeDisk["/srv"] != 1000 || p.Constraints.MinFreeMemory != 256<<20 {
		t.Errorf("decoded %+v", p.Constraints)
	}
	if (*Constraints)(nil).List() != nil {
		t.Error("no section, yet constraints")
	}
}

func mustParse(t testing.TB, profile string) *Profile {
	t.Helper()
	p, err := ParseProfile([]byte(profile))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
