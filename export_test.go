package afterhours

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestExport(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		zone       string
		task       string // a timer entry
		crontab    string // "" when inexpressible
		onCalendar []string
	}{
		// The conversion table of the seed's OS scheduler (§3.2.4).
		{"Europe/London", `"repeat": "minute", "start": "2026-11-01T00:05:00Z"`, "* * * * * /x", []string{"*-*-* *:*:00 UTC"}},
		{"Europe/London", `"repeat": "quarter-hourly", "start": "2026-11-01T00:50:00Z"`, "5,20,35,50 * * * * /x", []string{"*-*-* *:05,20,35,50:00 UTC"}},
		{"Europe/London", `"repeat": "hourly", "start": "2026-11-01T00:05:00Z"`, "5 * * * * /x", []string{"*-*-* *:05:00 UTC"}},
		{"Europe/London", `"repeat": "quarter-daily", "start": "2026-11-01T20:15:00Z"`, "15 2,8,14,20 * * * /x", []string{"*-*-* 02,08,14,20:15:00 Europe/London"}},
		{"Europe/London", `"repeat": "daily", "start": "2026-07-01T01:30:00Z"`, "30 2 * * * /x", []string{"*-*-* 02:30:00 Europe/London"}},
		{"Europe/London", `"repeat": "weekly", "start": "2026-11-01T03:00:00Z"`, "0 3 * * 0 /x", []string{"Sun *-*-* 03:00:00 Europe/London"}},
		{"Europe/London", `"repeat": "monthly", "start": "2026-01-31T22:00:00Z"`, "0 22 31 * * /x", []string{"*-*-31 22:00:00 Europe/London"}},
		// Kathmandu is +05:45: hourly by elapsed time from 00:05Z is :50 local.
		{"Asia/Kathmandu", `"repeat": "hourly", "start": "2026-11-01T00:05:00Z"`, "50 * * * * /x", []string{"*-*-* *:05:00 UTC"}},
		// Lord Howe moves by 30 minutes: an hourly repeat changes its local minute.
		{"Australia/Lord_Howe", `"repeat": "hourly", "start": "2026-11-01T00:05:00Z"`, "", []string{"*-*-* *:05:00 UTC"}},
		{"Australia/Lord_Howe", `"repeat": "quarter-hourly", "start": "2026-11-01T00:05:00Z"`, "5,20,35,50 * * * * /x", []string{"*-*-* *:05,20,35,50:00 UTC"}},
		// Cron specs keep their fields; day of week 7 is Sunday.
		{"Europe/London", `"schedule": "0 3 * * 7"`, "0 3 * * 0 /x", []string{"Sun *-*-* 03:00:00 Europe/London"}},
		{"Europe/London", `"schedule": "@monthly"`, "0 0 1 * * /x", []string{"*-*-01 00:00:00 Europe/London"}},
		{"Europe/London", `"schedule": "*/20 8-10 * jan,jul 1-5"`, "0,20,40 8,9,10 * 1,7 1,2,3,4,5 /x", []string{"Mon,Tue,Wed,Thu,Fri *-01,07-* 08,09,10:00,20,40:00 Europe/London"}},
		// Both day fields restricted: cron fires when either matches, so
		// systemd needs two values.
		{"Europe/London", `"schedule": "0 4 1,15 * 1"`, "0 4 1,15 * 1 /x", []string{"*-*-01,15 04:00:00 Europe/London", "Mon *-*-* 04:00:00 Europe/London"}},
		{"Europe/London", `"schedule": "0 4 1-31 * 1"`, "0 4 1-31 * 1 /x", []string{"*-*-* 04:00:00 Europe/London", "Mon *-*-* 04:00:00 Europe/London"}},
		// What cannot be expressed.
		{"Europe/London", `"repeat": "none", "start": "2026-12-01T03:00:00Z"`, "", []string{"2026-12-01 03:00:00 UTC"}},
		{"Europe/London", `"repeat": "daily", "start": "2026-12-01T03:00:00Z"`, "", nil},
		{"Europe/London", `"schedule": "0 3 * * *", "start": "2027-01-01T00:00:00Z"`, "", nil},
		{"Europe/London", `"repeat": "daily", "start": "2026-11-01T03:00:30Z"`, "", []string{"*-*-* 03:00:30 Europe/London"}},
	}
	for _, tt := range tests {
		t.Run(tt.zone+" "+tt.task, func(t *testing.T) {
			p, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"` + tt.zone + `"},"timers":[{"name":"t","run":["/x"],` + tt.task + `}]}`))
			require.NoError(t, err)
			line, err := p.Crontab("t", now)
			if tt.crontab == "" {
				require.True(t, errors.Is(err, ErrInexpressible), "crontab %q, %v", line, err)
			} else {
				require.NoError(t, err)
				require.Equal(t, tt.crontab, line)
			}
			cal, err := p.OnCalendar("t", now)
			if tt.onCalendar == nil {
				require.True(t, errors.Is(err, ErrInexpressible), "OnCalendar %q, %v", cal, err)
			} else {
				require.NoError(t, err)
				require.Equal(t, tt.onCalendar, cal)
			}
		})
	}
}

func TestExportQuotesTheCommand(t *testing.T) {
	p, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"UTC"},"housekeeping":[{"name":"t","schedule":"@daily",
		"run":["/usr/bin/find", "/var/tmp", "-name", "*.tmp", "-printf", "%p it's"]},
		{"name":"nl","schedule":"@daily","run":["/usr/bin/printf", "a\nb"]}]}`))
	require.NoError(t, err)
	line, err := p.Crontab("t", time.Now())
	require.NoError(t, err)
	require.Equal(t, `0 0 * * * /usr/bin/find /var/tmp -name '*.tmp' -printf '\%p it'\''s'`, line)
	_, err = p.Crontab("nl", time.Now())
	require.ErrorIs(t, err, ErrInexpressible)

	_, err = p.Crontab("nope", time.Now())
	require.Error(t, err)
	q, err := ParseProfile([]byte(`{"client":"c","site":{"timezone":"UTC"},"housekeeping":[{"name":"t","run":["/x"]}]}`))
	require.NoError(t, err)
	_, err = q.Crontab("t", time.Now())
	require.ErrorContains(t, err, "does not recur")
}
