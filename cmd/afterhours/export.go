package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours"
)

// taskArg is the argument every exported command line ends with, after
// the task's own arguments: "--afterhours-task=NAME" names the task that
// started it (seed 003: "pass a standard argument to the action to identify
// the schedule object"), as AFTERHOURS_TASK does in its environment.
const taskArg = "--afterhours-task="

// runExport is "afterhours export FILE -crontab|-systemd [-at TIME]": the
// recurring tasks of the profile (housekeeping with a schedule or a repeat,
// and timers; the rest runs in the after-hours window, which neither
// target knows) as crontab lines ([afterhours.Profile.Crontab]) or as
// systemd timer and service units ([afterhours.Profile.OnCalendar]), as of
// TIME. Each line or unit carries the task's name in AFTERHOURS_TASK and
// its kind in AFTERHOURS_KIND, as the executor sets them, and as the
// argument --afterhours-task=NAME after the task's own. A task the target
// cannot express exactly is named on stderr with the reason
// ([afterhours.ErrInexpressible]); the others are printed, and the exit
// status is 3.
func runExport(args []string, stdout, stderr io.Writer, now time.Time) int {
	f := newFlags("export", "export FILE -crontab|-systemd [-at TIME]")
	crontab := f.Bool("crontab", false, "print a crontab: a CRON_TZ line, then a line per task")
	systemd := f.Bool("systemd", false, "print a systemd .timer and .service unit per task")
	at := f.String("at", "", "export as of `TIME`: RFC 3339, or site-local such as 2026-11-24T21:00 (default now)")
	pos, code, stop := f.parse(args, 1, stdout, stderr)
	if stop {
		return code
	}
	if *crontab == *systemd {
		return f.usageError(stderr, "give one of -crontab and -systemd")
	}
	p, ok := load("export", pos[0], stderr)
	if !ok {
		return exitFailed
	}
	when, code, ok := instant(f, p, *at, now, stderr)
	if !ok {
		return code
	}
	var out strings.Builder
	refused := 0
	if *crontab {
		fmt.Fprintf(&out, "# afterhours: recurring tasks of %s, as of %s\n", p.Client, when.Format(time.RFC3339))
		fmt.Fprintf(&out, "# The fields are wall time in %s: install where cron runs in that zone, or where it reads CRON_TZ.\n", p.Site.Location())
		fmt.Fprintf(&out, "CRON_TZ=%s\n", p.Site.Location())
	}
	for _, t := range recurring(p) {
		var err error
		if *crontab {
			err = cronLines(&out, p, t, when)
		} else {
			err = systemdUnits(&out, p, t, when)
		}
		if err != nil {
			refused++
			msg := err.Error()
			if errors.Is(err, afterhours.ErrInexpressible) {
				msg = strings.TrimPrefix(msg, afterhours.ErrInexpressible.Error()+": ")
			}
			fmt.Fprintf(stderr, "afterhours export: %s %q not exported: %s\n", t.Kind(), t.Name, msg)
		}
	}
	if _, err := io.WriteString(stdout, out.String()); err != nil {
		return failed("export", stderr, err)
	}
	if refused > 0 {
		return exitPartial
	}
	return exitOK
}

// recurring returns the tasks that recur, in the profile's order:
// housekeeping with a schedule or repeat, then timers.
func recurring(p *afterhours.Profile) []*afterhours.Task {
	var ts []*afterhours.Task
	for _, t := range p.Housekeeping {
		if t.Schedule != "" || t.Repeat != "" {
			ts = append(ts, t)
		}
	}
	return append(ts, p.Timers...)
}

// cronLines writes a task's crontab line: its five fields, then the
// environment and the command, with the identifying argument.
func cronLines(w io.Writer, p *afterhours.Profile, t *afterhours.Task, now time.Time) error {
	line, err := p.Crontab(t.Name, now)
	if err != nil {
		return err
	}
	fields := strings.Fields(line)[:5] // the command after them is rebuilt below
	argv := append(append([]string(nil), t.Run...), taskArg+t.Name)
	fmt.Fprintf(w, "\n# %s %s%s\n", t.Kind(), t.Name, userNote(t))
	fmt.Fprintf(w, "%s AFTERHOURS_TASK=%s AFTERHOURS_KIND=%s %s\n", strings.Join(fields, " "),
		cronQuote(t.Name), cronQuote(t.Kind().String()), cronCommand(argv))
	return nil
}

func userNote(t *afterhours.Task) string {
	if t.User == "" {
		return ""
	}
	return fmt.Sprintf(" (runs as %s: install in that user's crontab)", t.User)
}

// cronCommand quotes argv for the shell cron runs a line with; % ends the
// command in a crontab, so it is escaped even inside quotes.
func cronCommand(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = cronQuote(a)
	}
	return strings.Join(words, " ")
}

func cronQuote(s string) string {
	if s != "" && strings.Trim(s, safeChars) == "" {
		return s
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, "'", `'\''`), "%", `\%`) + "'"
}

const safeChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@"

// systemdUnits writes a task's timer and service units, each after a
// "### name" line that names its file.
func systemdUnits(w io.Writer, p *afterhours.Profile, t *afterhours.Task, now time.Time) error {
	cals, err := p.OnCalendar(t.Name, now)
	if err != nil {
		return err
	}
	unit := "afterhours-" + unitEscape(t.Name)
	desc := fmt.Sprintf("afterhours %s %s of %s", t.Kind(), t.Name, p.Client)
	fmt.Fprintf(w, "### %s.timer\n[Unit]\nDescription=%s\n\n[Timer]\n", unit, systemdEscape(desc))
	for _, c := range cals {
		fmt.Fprintf(w, "OnCalendar=%s\n", c)
	}
	fmt.Fprintf(w, "Unit=%s.service\n\n[Install]\nWantedBy=timers.target\n\n", unit)

	fmt.Fprintf(w, "### %s.service\n[Unit]\nDescription=%s\n\n[Service]\nType=oneshot\n", unit, systemdEscape(desc))
	fmt.Fprintf(w, "Environment=%s\n", systemdWord("AFTERHOURS_TASK="+t.Name))
	fmt.Fprintf(w, "Environment=%s\n", systemdWord("AFTERHOURS_KIND="+t.Kind().String()))
	if t.User != "" {
		fmt.Fprintf(w, "User=%s\n", systemdEscape(t.User))
	}
	if t.Timeout > 0 {
		fmt.Fprintf(w, "TimeoutStartSec=%d\n", int64(time.Duration(t.Timeout)/time.Second))
	}
	argv := append(append([]string(nil), t.Run...), taskArg+t.Name)
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = systemdWord(a)
	}
	fmt.Fprintf(w, "ExecStart=%s\n\n", strings.Join(words, " "))
	return nil
}

// systemdEscape escapes the specifier character % and the variable
// character $ of a unit file's value.
func systemdEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "%", "%%"), "$", "$$")
}

// systemdWord is one word of ExecStart= or Environment=: as it is when
// plainly safe, else in double quotes with \ and " escaped (systemd's
// quoting), and % and $ escaped as everywhere in a unit.
func systemdWord(s string) string {
	if s != "" && strings.Trim(s, safeChars) == "" {
		return systemdEscape(s)
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + systemdEscape(r.Replace(s)) + `"`
}

// unitEscape makes a task name part of a unit name as systemd-escape does:
// bytes other than ASCII letters, digits, ":", "_" and "." become \xNN, and
// so does a leading ".".
func unitEscape(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == ':', c == '_', c == '-' && i > 0, c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}
