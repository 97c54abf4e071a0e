package afterhours

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInexpressible is returned by [Profile.Crontab] and [Profile.OnCalendar]
// when the target cannot express a recurrence exactly: rather than export a
// line that would run at other times, they refuse.
var ErrInexpressible = errors.New("afterhours: recurrence cannot be expressed exactly")

func inexpressible(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInexpressible, fmt.Sprintf(format, args...))
}

// exportable returns the recurrence of a task that can be exported, as of
// now: a recurrence whose start is still ahead cannot be, since neither cron
// nor systemd waits for an absolute start (the limitation the seed's OS
// scheduler had: it ran such jobs before their start).
func (p *Profile) exportable(task string, now time.Time) (*Task, *recurrence, error) {
	if p == nil || !p.validated {
		return nil, nil, ErrNotValidated
	}
	t := p.Task(task)
	if t == nil {
		return nil, nil, fmt.Errorf("afterhours: no task %q", task)
	}
	r := t.recur
	if r == nil {
		return nil, nil, fmt.Errorf("afterhours: task %q does not recur", task)
	}
	if len(t.Run) == 0 {
		return nil, nil, inexpressible("task %q is a Go action, not a command line", task)
	}
	if !r.once() && r.start.After(now) {
		return nil, nil, inexpressible("task %q starts at %s, and the target cannot wait for an absolute start", task, r.start.Format(time.RFC3339))
	}
	return t, r, nil
}

// Crontab returns a crontab line for a recurring task (housekeeping with a
// schedule or repeat, or a timer), as of the instant now: five fields and the
// command, its arguments quoted for the shell cron runs it with. Repeats
// follow the conversion table of the seed's OS scheduler: quarter-hourly as
// a sorted list of minutes, quarter-daily as a sorted list of hours, weekly
// as the start's day of the week, monthly as its day of the month.
//
// The fields are wall time in the site's zone: install the line where cron
// runs in that zone, or after a CRON_TZ= line where the cron daemon has it.
// This is exact except on DST days, a documented approximation: cron daemons
// differ from the wall-clock rule there (a job in a skipped hour may run at
// the jump or not at all, one in a repeated hour may run twice).
//
// It returns an error wrapping [ErrInexpressible] where cron cannot express
// the recurrence: a start still ahead of now, a "none" repeat, a start with
// seconds, an elapsed-time repeat (minute, quarter-hourly, hourly) in a zone
// whose offsets differ by other than whole steps of it (Lord Howe's
// 30-minute shift moves an hourly repeat to another minute of the hour), and
// a Go action, and a command with a line break.
func (p *Profile) Crontab(task string, now time.Time) (string, error) {
	t, r, err := p.exportable(task, now)
	if err != nil {
		return "", err
	}
	if r.once() {
		return "", inexpressible("task %q runs once, and a crontab line repeats", task)
	}
	c := r.cron
	if c.second != 0 {
		return "", inexpressible("task %q starts at second %d, and cron runs on whole minutes", task, c.second)
	}
	if r.elapsed() {
		if err := p.sameMinuteAllYear(r, now); err != nil {
			return "", err
		}
		c = elapsedSpec(r, r.start.In(p.Site.loc))
	}
	fields := []string{
		bitList(c.minute, 0, 59, false),
		bitList(uint64(c.hour), 0, 23, false),
		dayField(c.domStar, uint64(c.dom), 1, 31),
		bitList(uint64(c.month), 1, 12, false),
		dayField(c.dowStar, uint64(c.dow), 0, 6),
	}
	for _, a := range t.Run {
		if strings.ContainsAny(a, "\n\r") {
			return "", inexpressible("task %q has a line break in its command, and a crontab line cannot", task)
		}
	}
	return strings.Join(fields, " ") + " " + shellQuote(t.Run), nil
}

// elapsedSpec is an elapsed-time repeat as wall-clock minutes of the hour,
// where local is the start in the zone the spec is read in.
func elapsedSpec(r *recurrence, local time.Time) cronSpec {
	c := cronSpec{hour: 1<<24 - 1, dom: ^uint32(0) &^ 1, month: ^uint16(0) &^ 1, dow: 0x7f, domStar: true, dowStar: true,
		second: uint8(local.Second())}
	m := local.Minute()
	switch r.step() {
	case time.Minute:
		c.minute = 1<<60 - 1
	case 15 * time.Minute:
		for k := range 4 {
			c.minute |= 1 << uint((m+15*k)%60)
		}
	default:
		c.minute = 1 << uint(m)
	}
	return c
}

// sameMinuteAllYear checks that the site's offsets over the next two years
// all agree with the start's modulo the repeat's step, so that a wall-clock
// minute list keeps the elapsed-time rhythm through DST changes.
func (p *Profile) sameMinuteAllYear(r *recurrence, now time.Time) error {
	loc := p.Site.loc
	_, base := r.start.In(loc).Zone()
	t := laterOf(now, r.start)
	end := t.AddDate(2, 0, 0)
	for t.Before(end) {
		_, off := t.In(loc).Zone()
		if d := time.Duration(off-base) * time.Second; d%r.step() != 0 {
			return inexpressible("the zone %s moves by %v, and a %s repeat would change its minute of the hour in cron", loc, d, r.repeat)
		}
		_, next := t.In(loc).ZoneBounds()
		if next.IsZero() || !next.After(t) {
			break
		}
		t = next
	}
	return nil
}

// OnCalendar returns systemd OnCalendar= values for a recurring task, as of
// now: usually one, two for a cron spec that restricts both the day of the
// month and the day of the week (cron fires when either matches, systemd
// only when both do, so each becomes its own value; a timer unit may list
// several OnCalendar= lines). Wall-clock recurrences carry the site's zone;
// elapsed-time repeats are given in UTC, which keeps them exact through DST;
// a "none" repeat is its one instant.
//
// systemd's handling of times in a DST gap or overlap is its own: on those
// days the values are a documented approximation of the wall-clock rule.
// It returns an error wrapping [ErrInexpressible] for a start still ahead
// of now and for a Go action.
func (p *Profile) OnCalendar(task string, now time.Time) ([]string, error) {
	_, r, err := p.exportable(task, now)
	if err != nil {
		return nil, err
	}
	if r.once() {
		return []string{r.start.UTC().Format("2006-01-02 15:04:05") + " UTC"}, nil
	}
	if r.elapsed() {
		c := elapsedSpec(r, r.start.UTC())
		return []string{fmt.Sprintf("*-*-* *:%s:%02d UTC", bitList(c.minute, 0, 59, true), c.second)}, nil
	}
	c := r.cron
	zone := p.Site.loc.String()
	clock := fmt.Sprintf("%s:%s:%02d", bitList(uint64(c.hour), 0, 23, true), bitList(c.minute, 0, 59, true), c.second)
	month := bitList(uint64(c.month), 1, 12, true)
	value := func(dow, dom string) string {
		v := "*-" + month + "-" + dom + " " + clock + " " + zone
		if dow != "" {
			v = dow + " " + v
		}
		return v
	}
	dows := dowList(uint64(c.dow))
	doms := bitList(uint64(c.dom), 1, 31, true)
	switch {
	case c.domStar && c.dowStar:
		return []string{value("", "*")}, nil
	case c.domStar:
		return []string{value(dows, "*")}, nil
	case c.dowStar:
		return []string{value("", doms)}, nil
	default:
		return []string{value("", doms), value(dows, "*")}, nil
	}
}

// bitList lists the set bits of b in [lo, hi], "*" when all are set;
// padded to two digits for systemd.
func bitList(b uint64, lo, hi int, pad bool) string {
	var parts []string
	all := true
	for v := lo; v <= hi; v++ {
		if b&(1<<uint(v)) == 0 {
			all = false
			continue
		}
		s := strconv.Itoa(v)
		if pad && v < 10 {
			s = "0" + s
		}
		parts = append(parts, s)
	}
	if all {
		return "*"
	}
	return strings.Join(parts, ",")
}

// dayField is a day-of-month or day-of-week field: "*" only when the spec
// had *, since cron's OR rule for the two fields depends on it.
func dayField(star bool, b uint64, lo, hi int) string {
	switch s := bitList(b, lo, hi, false); {
	case star:
		return "*"
	case s == "*":
		return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
	default:
		return s
	}
}

var systemdDays = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

func dowList(b uint64) string {
	var parts []string
	for v := range 7 {
		if b&(1<<uint(v)) != 0 {
			parts = append(parts, systemdDays[v])
		}
	}
	return strings.Join(parts, ",")
}

// shellQuote quotes argv for a POSIX shell: each word in single quotes
// unless it is plainly safe.
func shellQuote(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@") == "" {
			words[i] = a
			continue
		}
		// % is special in crontab: it ends the command.
		words[i] = "'" + strings.ReplaceAll(strings.ReplaceAll(a, "'", `'\''`), "%", `\%`) + "'"
	}
	return strings.Join(words, " ")
}
