package main

import (
	"strings"
	"testing"
)

func TestExport(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		code      int
		golden    string
		out, errs []string
	}{
		{"example crontab", []string{exampleProfile, "-crontab", "-at", "2026-11-24T21:00"}, exitOK, "example.crontab.golden",
			[]string{"CRON_TZ=Europe/London\n",
				"\n0 4 * * 0 AFTERHOURS_TASK=fsck-archive AFTERHOURS_KIND=housekeeping /usr/lib/agent/fsck /srv/archive --afterhours-task=fsck-archive\n",
				"\n5,20,35,50 * * * * AFTERHOURS_TASK=inventory AFTERHOURS_KIND=timer /usr/lib/agent/inventory --afterhours-task=inventory\n"}, nil},
		{"example systemd", []string{exampleProfile, "-systemd", "-at", "2026-11-24T21:00"}, exitOK, "example.systemd.golden",
			[]string{"### afterhours-inventory.timer\n", "OnCalendar=*-*-* *:05,20,35,50:00 UTC\n", "Environment=AFTERHOURS_TASK=inventory\n",
				"ExecStart=/usr/lib/agent/inventory --afterhours-task=inventory\n"}, nil},
		// A task the target cannot express is named on stderr with the
		// reason; the others are printed and the exit status is 3.
		{"partial crontab", []string{exportProfile, "-crontab", "-at", "2026-11-24T21:00"}, exitPartial, "partial.crontab.golden",
			[]string{`--note 'it'\''s 100\% done' --afterhours-task=vacuum-db`, "(runs as postgres: install in that user's crontab)"},
			[]string{`housekeeping "archive" not exported: task "archive" starts at 2027-01-04T03:00:00Z, and the target cannot wait for an absolute start`,
				`timer "migrate-once" not exported: task "migrate-once" runs once, and a crontab line repeats`}},
		{"partial systemd", []string{exportProfile, "-systemd", "-at", "2026-11-24T21:00"}, exitPartial, "partial.systemd.golden",
			[]string{`ExecStart=/usr/lib/agent/vacuum --note "it's 100%% done" --afterhours-task=vacuum-db`, "User=postgres\n",
				"OnCalendar=2026-12-01 04:00:00 UTC\n"},
			[]string{`housekeeping "archive" not exported: task "archive" starts at 2027-01-04T03:00:00Z`}},
		// Once its start has passed, the weekly task is exported.
		{"start passed", []string{exportProfile, "-systemd", "-at", "2027-01-05T12:00"}, exitOK, "",
			[]string{"### afterhours-archive.timer\n", "OnCalendar=Mon *-*-* 03:00:00 Europe/London\n"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runArgs(append([]string{"export"}, c.args...)...)
			r.check(t, c.code, c.out, c.errs)
			if c.golden != "" {
				golden(t, c.golden, r.stdout)
			}
			if c.code == exitOK && r.stderr != "" {
				t.Errorf("stderr %q", r.stderr)
			}
			if n := strings.Count(r.stderr, "not exported"); c.code == exitPartial && n != len(c.errs) {
				t.Errorf("%d tasks reported, want %d:\n%s", n, len(c.errs), r.stderr)
			}
		})
	}
}

func TestExportUsage(t *testing.T) {
	runArgs("export", exampleProfile).check(t, exitUsage, nil, []string{"give one of -crontab and -systemd"})
	runArgs("export", exampleProfile, "-crontab", "-systemd").check(t, exitUsage, nil, []string{"give one of -crontab and -systemd"})
}

func TestQuoting(t *testing.T) {
	cases := []struct{ in, cron, systemd string }{
		{"/usr/bin/find", "/usr/bin/find", "/usr/bin/find"},
		{"", "''", `""`},
		{"a b", "'a b'", `"a b"`},
		{"it's", `'it'\''s'`, `"it's"`},
		{"100%", `'100\%'`, `"100%%"`},
		{"$HOME", `'$HOME'`, `"$$HOME"`},
		{`say "hi"\n`, `'say "hi"\n'`, `"say \"hi\"\\n"`},
	}
	for _, c := range cases {
		if got := cronQuote(c.in); got != c.cron {
			t.Errorf("cronQuote(%q) = %s, want %s", c.in, got, c.cron)
		}
		if got := systemdWord(c.in); got != c.systemd {
			t.Errorf("systemdWord(%q) = %s, want %s", c.in, got, c.systemd)
		}
	}
	for in, want := range map[string]string{"inventory": "inventory", "fsck-archive": "fsck-archive", "a b/c": `a\x20b\x2fc`, ".x": `\x2ex`, "-x": `\x2dx`} {
		if got := unitEscape(in); got != want {
			t.Errorf("unitEscape(%q) = %s, want %s", in, got, want)
		}
	}
}
