package afterhours

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/load"
	"github.com/shirou/gopsutil/v3/mem"
)

// Constraint is a condition the machine must meet before a step or a slot
// task starts: the site's business hours, the load average, free memory or
// disk, an admin service that answers. The executor asks every constraint,
// in order, before each start; the first that does not allow decides.
//
// A constraint's Check may take time (a disk-busy reading spans an
// interval, a probe waits for an answer): the executor runs checks on a
// goroutine of their own and keeps running commands and timers meanwhile.
// Check must return when ctx is done. Commands and timers are never
// checked: commands are often the fix for a full disk.
type Constraint interface {
	// Name is a short word a program can match ("max-load"); a refused or
	// timed-out step is deferred with the reason "constraint:" + Name.
	Name() string
	// Check gives the verdict for the start described by c.
	Check(ctx context.Context, c Check) Verdict
}

// Releaser is a [Constraint] that holds something for each start it
// allows, such as a slot of a reboot semaphore ([FleetLock]), until the
// run ends. The executor calls Release once for each Check that returned
// Allow, with the same Check:
//   - when the run it allowed ends, whatever its outcome;
//   - or at once when the start does not happen after all: a constraint
//     after it in the order did not allow; the task was deferred,
//     re-planned or killed before it started; or the executor stopped
//     first.
//
// A start that is checked again (the executor checks before each start,
// and again after a wake between the check and the start) calls Check
// again without a Release in between: a Releaser holds one thing per task
// and takes it again at no cost, as FleetLock's recursive locks do.
// Release runs on a goroutine of its own, with a context that ends after
// [ReleaseTimeout]; it must return when the context is done.
type Releaser interface {
	Constraint
	Release(ctx context.Context, c Check)
}

// ReleaseTimeout bounds each [Releaser.Release] call.
const ReleaseTimeout = 30 * time.Second

// Check describes a start a [Constraint] is asked about.
type Check struct {
	// Task is the task about to start: a housekeeping, update or
	// self-update step, or a slot task.
	Task *Task
	// Day is the site-local date of the cycle.
	Day string
	// Start is now, and End the projected end: Start plus the estimate
	// (for a slot task, at most the slot's end).
	Start, End time.Time
	// Anytime is set for the task of a slot whose token may run in
	// business hours.
	Anytime bool
}

// Decision is a constraint's answer.
type Decision int

// The decisions of a [Verdict].
const (
	// Allow lets the start go ahead.
	Allow Decision = iota
	// Wait asks the executor to check again later, with a backoff from 30
	// seconds up to 5 minutes of the executor's clock. A step that can no
	// longer fit in its window while it waits is deferred.
	Wait
	// Refuse defers the task for the cycle.
	Refuse
)

// String returns "allow", "wait" or "refuse".
func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Wait:
		return "wait"
	case Refuse:
		return "refuse"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// Verdict is a constraint's answer and why, for people.
type Verdict struct {
	Decision Decision
	Reason   string
}

// Allowed, WaitFor and Refused make verdicts.
func Allowed() Verdict { return Verdict{Decision: Allow} }

// WaitFor asks to check again later, saying why.
func WaitFor(format string, args ...any) Verdict {
	return Verdict{Decision: Wait, Reason: fmt.Sprintf(format, args...)}
}

// Refused refuses the start for the cycle, saying why.
func Refused(format string, args ...any) Verdict {
	return Verdict{Decision: Refuse, Reason: fmt.Sprintf(format, args...)}
}

// ConstraintFunc makes a [Constraint] of a name and a function.
func ConstraintFunc(name string, check func(ctx context.Context, c Check) Verdict) Constraint {
	return funcConstraint{name, check}
}

type funcConstraint struct {
	name  string
	check func(context.Context, Check) Verdict
}

func (f funcConstraint) Name() string                               { return f.name }
func (f funcConstraint) Check(ctx context.Context, c Check) Verdict { return f.check(ctx, c) }

// BusinessHours refuses a start whose projected run [Start, End)
// intersects the site's business time, except for the task of an anytime
// slot. The executor always checks it first.
func BusinessHours(s *Site) Constraint {
	return ConstraintFunc("business-hours", func(_ context.Context, c Check) Verdict {
		if c.Anytime {
			return Allowed()
		}
		if s.overlapsBusiness(Interval{c.Start, c.End}) {
			next := s.nextBusiness(c.Start, c.End)
			return Refused("business hours from %s", next.In(s.loc).Format("2006-01-02 15:04 MST"))
		}
		return Allowed()
	})
}

// reading is one measure of the machine. An error means the reading is
// unavailable; the constraint then waits, and the step is deferred when it
// no longer fits, with the error in its detail.
type reading[T any] func(ctx context.Context) (T, error)

// MaxLoad waits while the one-minute load average (as uptime(1) prints it,
// not divided by the number of CPUs) is above limit.
func MaxLoad(limit float64) Constraint {
	return maxLoad(limit, func(ctx context.Context) (float64, error) {
		a, err := load.AvgWithContext(ctx)
		if err != nil {
			return 0, err
		}
		return a.Load1, nil
	})
}

func maxLoad(limit float64, read reading[float64]) Constraint {
	return ConstraintFunc("max-load", func(ctx context.Context, _ Check) Verdict {
		v, err := read(ctx)
		switch {
		case err != nil:
			return WaitFor("load average unavailable: %v", err)
		case v > limit:
			return WaitFor("load average %.2f above %.2f", v, limit)
		}
		return Allowed()
	})
}

// MinFreeMemory waits while the memory available to new work (MemAvailable
// on Linux) is below min bytes.
func MinFreeMemory(min uint64) Constraint {
	return minFreeMemory(min, func(ctx context.Context) (uint64, error) {
		v, err := mem.VirtualMemoryWithContext(ctx)
		if err != nil {
			return 0, err
		}
		return v.Available, nil
	})
}

func minFreeMemory(min uint64, read reading[uint64]) Constraint {
	return ConstraintFunc("min-free-memory", func(ctx context.Context, _ Check) Verdict {
		v, err := read(ctx)
		switch {
		case err != nil:
			return WaitFor("free memory unavailable: %v", err)
		case v < min:
			return WaitFor("free memory %s below %s", ByteSize(v), ByteSize(min))
		}
		return Allowed()
	})
}

// MinFreeDisk waits while the free space of the file system holding path is
// below min bytes.
func MinFreeDisk(path string, min uint64) Constraint {
	return minFreeDisk(path, min, func(ctx context.Context) (uint64, error) {
		u, err := disk.UsageWithContext(ctx, path)
		if err != nil {
			return 0, err
		}
		return u.Free, nil
	})
}

func minFreeDisk(path string, min uint64, read reading[uint64]) Constraint {
	return ConstraintFunc("min-free-disk", func(ctx context.Context, _ Check) Verdict {
		v, err := read(ctx)
		switch {
		case err != nil:
			return WaitFor("free disk on %s unavailable: %v", path, err)
		case v < min:
			return WaitFor("free disk on %s %s below %s", path, ByteSize(v), ByteSize(min))
		}
		return Allowed()
	})
}

// DefaultDiskBusyOver is the interval a disk-busy reading spans when the
// profile does not say.
const DefaultDiskBusyOver = 5 * time.Second

// MaxDiskBusy waits while a disk was busy more than percent of the time
// over an interval of real time (the %util of iostat(1), from the time
// spent doing I/O in /proc/diskstats). The busiest disk counts; loop and
// RAM devices do not. Each check takes the interval.
func MaxDiskBusy(percent float64, over time.Duration) Constraint {
	return maxDiskBusy(percent, func(ctx context.Context) (float64, error) {
		return diskBusy(ctx, over)
	})
}

func maxDiskBusy(percent float64, read reading[float64]) Constraint {
	return ConstraintFunc("max-disk-busy", func(ctx context.Context, _ Check) Verdict {
		v, err := read(ctx)
		switch {
		case err != nil:
			return WaitFor("disk busy time unavailable: %v", err)
		case v > percent:
			return WaitFor("disk busy %.0f%% of the time, above %.0f%%", v, percent)
		}
		return Allowed()
	})
}

// diskBusy returns the busiest disk's share of time spent doing I/O over
// an interval, in percent.
func diskBusy(ctx context.Context, over time.Duration) (float64, error) {
	before, err := disk.IOCountersWithContext(ctx)
	if err != nil {
		return 0, err
	}
	if len(before) == 0 {
		return 0, fmt.Errorf("no disks")
	}
	t0 := time.Now()
	t := time.NewTimer(over)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return 0, ctx.Err()
	}
	after, err := disk.IOCountersWithContext(ctx)
	if err != nil {
		return 0, err
	}
	elapsed := time.Since(t0).Milliseconds()
	if elapsed <= 0 {
		return 0, fmt.Errorf("no time elapsed")
	}
	busiest := 0.0
	for name, a := range after {
		b, ok := before[name]
		if !ok || strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "ram") || a.IoTime < b.IoTime {
			continue
		}
		busiest = max(busiest, float64(a.IoTime-b.IoTime)*100/float64(elapsed))
	}
	return busiest, nil
}

// DefaultProbeTimeout is how long a probe waits for its answer when the
// profile does not say.
const DefaultProbeTimeout = 5 * time.Second

// Probe waits until an HTTP GET of url answers with a 2xx status within
// timeout: the admin service must be up before maintenance starts.
// Connections are not kept between checks.
func Probe(url string, timeout time.Duration) Constraint {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	return ConstraintFunc("probe", func(ctx context.Context, _ Check) Verdict {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return Refused("probe %s: %v", url, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return WaitFor("probe %s: %v", url, err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return WaitFor("probe %s: %s", url, resp.Status)
		}
		return Allowed()
	})
}

// Constraints is the profile's "constraints" section: the built-in
// constraints it switches on. A zero field is no constraint.
//
//	"constraints": {"max_load": 1.5, "min_free_memory": "256MiB",
//	   "min_free_disk": {"/var": "1GiB"}, "max_disk_busy": 80,
//	   "probe": "http://127.0.0.1:8080/admin"}
type Constraints struct {
	// MaxLoad is the highest one-minute load average ([MaxLoad]).
	MaxLoad float64 `json:"max_load,omitempty"`
	// MinFreeMemory is the least available memory ([MinFreeMemory]).
	MinFreeMemory ByteSize `json:"min_free_memory,omitempty"`
	// MinFreeDisk maps absolute paths to the least free space of their
	// file systems ([MinFreeDisk]).
	MinFreeDisk map[string]ByteSize `json:"min_free_disk,omitempty"`
	// MaxDiskBusy is the highest share of time, in percent, the busiest
	// disk may have spent doing I/O ([MaxDiskBusy]) over DiskBusyOver
	// (default [DefaultDiskBusyOver]).
	MaxDiskBusy  float64  `json:"max_disk_busy,omitempty"`
	DiskBusyOver Duration `json:"disk_busy_over,omitempty"`
	// Probe is an http or https URL that must answer 2xx ([Probe]) within
	// ProbeTimeout (default [DefaultProbeTimeout]).
	Probe        string   `json:"probe,omitempty"`
	ProbeTimeout Duration `json:"probe_timeout,omitempty"`
}

func (c *Constraints) compile(ps *problems, p string) {
	if c == nil {
		return
	}
	if c.MaxLoad < 0 {
		ps.add(p+".max_load", "must not be negative")
	}
	dirs := make([]string, 0, len(c.MinFreeDisk))
	for d := range c.MinFreeDisk {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, dir := range dirs {
		if !path.IsAbs(dir) {
			ps.add(join(p+".min_free_disk", dir), "%q is not an absolute path", dir)
		}
	}
	if c.MaxDiskBusy < 0 || c.MaxDiskBusy > 100 {
		ps.add(p+".max_disk_busy", "%v out of range: want a percentage from 0 to 100", c.MaxDiskBusy)
	}
	if c.DiskBusyOver < 0 || time.Duration(c.DiskBusyOver) > time.Minute {
		ps.add(p+".disk_busy_over", "%v out of range: want up to 1m", time.Duration(c.DiskBusyOver))
	}
	if c.Probe != "" {
		u, err := url.Parse(c.Probe)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ps.add(p+".probe", "%q is not an http or https URL", c.Probe)
		}
	}
	if c.ProbeTimeout < 0 {
		ps.add(p+".probe_timeout", "must not be negative")
	}
}

// List returns the built-in constraints the section switches on, in a
// fixed order: load, memory, disk space (by path), disk busy time, probe.
func (c *Constraints) List() []Constraint {
	if c == nil {
		return nil
	}
	var out []Constraint
	if c.MaxLoad > 0 {
		out = append(out, MaxLoad(c.MaxLoad))
	}
	if c.MinFreeMemory > 0 {
		out = append(out, MinFreeMemory(uint64(c.MinFreeMemory)))
	}
	dirs := make([]string, 0, len(c.MinFreeDisk))
	for d := range c.MinFreeDisk {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		out = append(out, MinFreeDisk(d, uint64(c.MinFreeDisk[d])))
	}
	if c.MaxDiskBusy > 0 {
		over := time.Duration(c.DiskBusyOver)
		if over == 0 {
			over = DefaultDiskBusyOver
		}
		out = append(out, MaxDiskBusy(c.MaxDiskBusy, over))
	}
	if c.Probe != "" {
		timeout := time.Duration(c.ProbeTimeout)
		if timeout == 0 {
			timeout = DefaultProbeTimeout
		}
		out = append(out, Probe(c.Probe, timeout))
	}
	return out
}

// ByteSize is a number of bytes that reads from JSON as a number or as a
// string with a unit: "512MB", "256MiB", "1GiB", "10KB", "1TB" (KB, MB, GB
// and TB are powers of 1000, KiB, MiB, GiB and TiB powers of 1024).
type ByteSize uint64

var byteUnits = []struct {
	suffix string
	mult   uint64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
}

func parseByteSize(s string) (ByteSize, error) {
	bad := fmt.Errorf("invalid size %q: want a number of bytes or a size such as \"256MiB\" or \"1GB\"", s)
	num, mult := s, uint64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || !(v >= 0) || v*float64(mult) >= 1<<63 { // !(v >= 0): negative, or NaN
		return 0, bad
	}
	return ByteSize(v * float64(mult)), nil
}

// String formats the size with the largest binary unit it reaches:
// "256MiB", "1.5GiB", "300B".
func (b ByteSize) String() string {
	for i := 3; i >= 0; i-- { // TiB down to KiB
		m, suffix := ByteSize(byteUnits[i].mult), byteUnits[i].suffix
		if b >= m {
			if b%m == 0 {
				return strconv.FormatUint(uint64(b/m), 10) + suffix
			}
			return strconv.FormatFloat(float64(b)/float64(m), 'f', 1, 64) + suffix
		}
	}
	return strconv.FormatUint(uint64(b), 10) + "B"
}

// MarshalJSON encodes the size as a string such as "256MiB" when that is
// exact, else as a number of bytes.
func (b ByteSize) MarshalJSON() ([]byte, error) {
	if s := b.String(); !strings.Contains(s, ".") {
		return json.Marshal(s)
	}
	return json.Marshal(uint64(b))
}

// UnmarshalJSON decodes a number of bytes or a string such as "1GiB".
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		s = string(data)
	}
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// checkByteSize validates a decoded JSON value for a ByteSize field.
func checkByteSize(v any) error {
	switch v := v.(type) {
	case string:
		_, err := parseByteSize(v)
		return err
	case json.Number:
		_, err := parseByteSize(v.String())
		return err
	}
	return fmt.Errorf("want a size such as \"256MiB\" or a number of bytes")
}
