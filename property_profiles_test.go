package afterhours

// propProfile is a profile the property tests plan over many instants,
// with the weeks around its zone's transitions.
type propProfile struct {
	name    string
	json    string
	weeks   []string // centres of the fortnights planned hour by hour
	nearDST []string // dates (and the day around each) the naive business model skips
}

var propProfiles = []propProfile{
	{
		name: "london-shop",
		json: `{
  "client": "prop-london",
  "resources": [
    {"name": "db", "downtimes": [{"days": ["sun", "wed"], "from": "01:00", "to": "03:00", "action": "postpone"},
                                  {"dates": ["2026-03-27"], "action": "anticipate"}]},
    {"name": "disk", "downtimes": [{"dates": ["2026-03-29", "2026-10-25"], "from": "00:30", "to": "02:30", "action": "hold"}]},
    {"name": "lan", "downtimes": [{"days": ["sat"], "action": "skip"}, {"dates": ["2026-03-30"], "from": "22:00", "to": "02:00", "action": "stop", "once": true}]},
    {"name": "network", "downtimes": [{"days": ["tue"], "from": "23:00", "to": "01:00", "action": "suppress", "ended": "2026-03-31T23:30:00+01:00"}]}
  ],
  "timers": [
    {"name": "inventory", "repeat": "quarter-hourly", "start": "2026-01-01T00:05:00Z", "run": ["/bin/inventory"]},
    {"name": "dst-cron", "schedule": "30 1 * * *", "run": ["/bin/dst"]},
    {"name": "kiosk-timer", "schedule": "@hourly", "run": ["/bin/k"], "tags": ["kiosk"]}
  ],
  "site": {"name": "leeds", "timezone": "Europe/London", "tags": ["uk", "retail"],
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-12:30", "13:30-18:00"],
      "thu": ["08:00-18:00"], "fri": ["08:00-18:00"], "sat": ["09:00-13:00"]},
    "closed": ["2026-04-03", "2026-04-06", "2026-12-25", "2026-12-28"], "grace": "30m"},
  "sharing": [
    {"token": "pkg-repo", "base": "01:40", "zone": "UTC", "duration": "20m", "buffer": "10m", "uses": ["network"],
     "tasks": [{"name": "fetch-packages", "run": ["/bin/fetch"]}, {"name": "fetch-kiosk", "run": ["/bin/fetch"], "tags": ["kiosk"]}]},
    {"token": "lan-leeds", "base": "01:30", "zone": "site", "duration": "30m", "buffer": "15m", "uses": ["lan"],
     "tasks": [{"name": "sync-catalog", "run": ["/bin/sync"], "on_failure": "stop"}]},
    {"token": "pos-sync", "base": "07:30", "zone": "UTC", "duration": "20m", "buffer": "20m", "uses": ["db"],
     "tasks": [{"name": "pos-export", "run": ["/bin/pos-export"]}]},
    {"token": "cctv", "base": "12:00", "zone": "site", "duration": "1h", "anytime": true, "uses": ["nas"],
     "tasks": [{"name": "cctv-archive", "run": ["/bin/cctv"]}]}
  ],
  "housekeeping": [
    {"name": "weekly-fsck", "schedule": "30 1 * * 0", "run": ["/bin/fsck"], "estimate": "25m", "uses": ["disk"]},
    {"name": "month-end", "repeat": "monthly", "start": "2026-01-31T01:30:00Z", "run": ["/bin/month-end"], "estimate": "10m", "uses": ["db"]},
    {"name": "rotate-logs", "run": ["/bin/rotate"], "estimate": "2m", "timeout": "10m", "uses": ["disk"]},
    {"name": "backup", "run": ["/bin/backup"], "estimate": "2h", "uses": ["lan", "nas"]},
    {"name": "vacuum-db", "run": ["/bin/vacuum"], "estimate": "20m", "uses": ["db"], "tags": ["retail", "!kiosk"]},
    {"name": "legacy", "run": ["/bin/legacy"], "estimate": "15m"},
    {"name": "upload-metrics", "run": ["/bin/metrics"], "timeout": "40m", "uses": ["network"]},
    {"name": "off", "run": ["/bin/off"], "enabled": false},
    {"name": "sweep", "run": ["/bin/sweep"], "uses": ["disk", "db"]}
  ],
  "updates": [
    {"name": "openssl", "run": ["/bin/apply", "openssl"], "estimate": "5m", "uses": ["network"], "on_failure": "stop"},
    {"name": "os-upgrade", "run": ["/bin/apply", "os"], "estimate": "9h", "uses": ["disk", "network"]},
    {"name": "kernel", "run": ["/bin/apply", "kernel"], "estimate": "30m", "uses": ["disk"]}
  ],
  "self_update": {"name": "agent", "run": ["/bin/selfupdate"], "estimate": "3m"},
  "parallel": 2
}`,
		weeks:   []string{"2026-03-29", "2026-10-25", "2026-12-25"},
		nearDST: []string{"2026-03-29", "2026-10-25"},
	},
	{
		name: "newyork-bar",
		json: `{
  "client": "prop-newyork",
  "site": {"name": "bushwick", "timezone": "America/New_York", "tags": ["us", "bar"],
    "business_hours": {
      "mon": ["16:00-24:00"],
      "tue": ["00:00-02:00", "16:00-24:00"], "wed": ["00:00-02:00", "16:00-24:00"],
      "thu": ["00:00-02:00", "16:00-24:00"], "fri": ["00:00-02:00", "16:00-24:00"],
      "sat": ["00:00-03:00", "12:00-24:00"], "sun": ["00:00-02:30", "12:00-20:00"]},
    "closed": ["2026-03-09", "2026-11-26", "2026-12-25"], "grace": "45m"},
  "sharing": [
    {"token": "pkg-repo", "base": "09:00", "zone": "UTC", "duration": "30m", "buffer": "15m", "uses": ["network"],
     "tasks": [{"name": "fetch-packages", "run": ["/bin/fetch"]}]},
    {"token": "bar-lan", "base": "02:30", "zone": "site", "duration": "20m", "buffer": "10m", "uses": ["lan"],
     "tasks": [{"name": "sync-tabs", "run": ["/bin/sync-tabs"]}]},
    {"token": "night-sync", "base": "01:30", "zone": "site", "duration": "40m", "buffer": "5m",
     "tasks": [{"name": "export-sales", "run": ["/bin/export"]}]}
  ],
  "housekeeping": [
    {"name": "weekday-report", "schedule": "30 2 * * 1-5", "run": ["/bin/report"], "estimate": "5m", "uses": ["db"]},
    {"name": "rotate-logs", "run": ["/bin/rotate"], "estimate": "2m", "uses": ["disk"]},
    {"name": "backup", "run": ["/bin/backup"], "estimate": "3h", "uses": ["lan"]},
    {"name": "reconcile", "run": ["/bin/reconcile"], "estimate": "45m", "uses": ["db", "network"], "on_failure": "stop"}
  ],
  "updates": [{"name": "pos-update", "run": ["/bin/apply", "pos"], "estimate": "20m", "uses": ["disk"]}],
  "self_update": {"name": "agent", "run": ["/bin/selfupdate"], "estimate": "5m"}
}`,
		weeks:   []string{"2026-03-08", "2026-11-01", "2026-11-26"},
		nearDST: []string{"2026-03-08", "2026-11-01"},
	},
	{
		name: "lordhowe-resort",
		json: `{
  "client": "prop-lordhowe",
  "resources": [{"name": "disk", "downtimes": [{"dates": ["2026-10-04", "2026-04-05"], "from": "01:30", "to": "02:30", "action": "postpone"},
                                                {"days": ["thu"], "from": "20:00", "to": "22:00", "action": "anticipate"}]}],
  "timers": [{"name": "overlap-timer", "schedule": "45 1 * * *", "run": ["/bin/o"]},
             {"name": "once", "repeat": "none", "start": "2026-10-04T02:15:00+10:30", "run": ["/bin/once"]}],
  "site": {"name": "island", "timezone": "Australia/Lord_Howe", "tags": ["au"],
    "business_hours": {"mon": ["08:00-17:00"], "tue": ["08:00-17:00"], "wed": ["08:00-17:00"],
      "thu": ["08:00-17:00"], "fri": ["08:00-17:00"], "sat": ["08:00-10:00", "10:00-12:00"],
      "sun": ["02:15-04:00", "09:00-12:00"]},
    "grace": "1h"},
  "sharing": [
    {"token": "island-link", "base": "02:15", "zone": "site", "duration": "20m", "buffer": "10m", "uses": ["satlink"],
     "tasks": [{"name": "upload-sales", "run": ["/bin/upload"]}]},
    {"token": "island-link-2", "base": "01:45", "zone": "site", "duration": "20m", "buffer": "10m", "uses": ["satlink"],
     "tasks": [{"name": "upload-bookings", "run": ["/bin/upload"]}]},
    {"token": "pkg-repo", "base": "16:00", "zone": "UTC", "duration": "30m", "buffer": "30m", "uses": ["satlink"],
     "tasks": [{"name": "fetch-packages", "run": ["/bin/fetch"]}]}
  ],
  "housekeeping": [
    {"name": "gap-job", "schedule": "15 2 * * *", "run": ["/bin/gap"], "estimate": "5m", "uses": ["disk"]},
    {"name": "quarter-daily", "repeat": "quarter-daily", "start": "2026-01-01T01:45:00+11:00", "run": ["/bin/qd"], "estimate": "5m", "uses": ["disk"]},
    {"name": "rotate-logs", "run": ["/bin/rotate"], "estimate": "2m", "uses": ["disk"]},
    {"name": "sync-bookings", "run": ["/bin/sync"], "estimate": "40m", "uses": ["satlink"]},
    {"name": "vacuum-db", "run": ["/bin/vacuum"], "estimate": "20m", "uses": ["db"]}
  ],
  "updates": [{"name": "pos", "run": ["/bin/apply", "pos"], "estimate": "1h", "uses": ["disk", "satlink"]}],
  "self_update": {"name": "agent", "run": ["/bin/selfupdate"], "estimate": "3m"},
  "parallel": 2
}`,
		weeks:   []string{"2026-04-05", "2026-10-04"},
		nearDST: []string{"2026-04-05", "2026-10-04"},
	},
	{
		name: "chicago-24h-weekend",
		json: `{
  "client": "prop-chicago",
  "site": {"name": "hospital-pharmacy", "timezone": "America/Chicago", "tags": ["us", "pharmacy"],
    "business_hours": {"mon": ["08:00-20:00"], "tue": ["08:00-20:00"], "wed": ["08:00-20:00"],
      "thu": ["08:00-20:00"], "fri": ["08:00-20:00", "22:00-24:00"],
      "sat": ["00:00-24:00"], "sun": ["00:00-24:00"]},
    "closed": ["2026-11-01"], "grace": "2h"},
  "sharing": [
    {"token": "pkg-repo", "base": "07:00", "zone": "UTC", "duration": "30m", "buffer": "15m", "uses": ["network"],
     "tasks": [{"name": "fetch-packages", "run": ["/bin/fetch"]}]},
    {"token": "emr-sync", "base": "02:00", "zone": "site", "duration": "45m", "buffer": "0s", "anytime": true, "uses": ["emr"],
     "tasks": [{"name": "sync-emr", "run": ["/bin/emr"]}]}
  ],
  "housekeeping": [
    {"name": "rotate-logs", "run": ["/bin/rotate"], "estimate": "2m", "uses": ["disk"]},
    {"name": "backup", "run": ["/bin/backup"], "estimate": "4h", "uses": ["emr", "disk"]}
  ],
  "updates": [{"name": "formulary", "run": ["/bin/apply", "formulary"], "estimate": "10m", "uses": ["network"]}],
  "self_update": {"name": "agent", "run": ["/bin/selfupdate"], "estimate": "3m"},
  "parallel": 4
}`,
		weeks:   []string{"2026-03-08", "2026-11-01"},
		nearDST: []string{"2026-03-08", "2026-11-01"},
	},
	{
		name: "kathmandu-kiosk",
		json: `{
  "client": "prop-kathmandu",
  "site": {"name": "airport", "timezone": "Asia/Kathmandu", "tags": ["np", "kiosk"]},
  "sharing": [
    {"token": "pkg-repo", "base": "20:00", "zone": "UTC", "duration": "30m", "buffer": "15m", "uses": ["network"],
     "tasks": [{"name": "fetch-packages", "run": ["/bin/fetch"]}]},
    {"token": "airport-wifi", "base": "03:00", "zone": "site", "duration": "1h", "buffer": "15m", "uses": ["wifi"],
     "tasks": [{"name": "fetch-flights", "run": ["/bin/flights"]}]}
  ],
  "housekeeping": [
    {"name": "hourly-sweep", "repeat": "hourly", "start": "2026-02-01T00:20:00Z", "run": ["/bin/sweep"], "estimate": "5m", "uses": ["disk"]},
    {"name": "rotate-logs", "run": ["/bin/rotate"], "estimate": "2m", "uses": ["disk"]},
    {"name": "refresh-ads", "run": ["/bin/ads"], "estimate": "20m", "uses": ["wifi", "disk"]},
    {"name": "long-scan", "run": ["/bin/scan"], "estimate": "20h", "uses": ["disk"]}
  ],
  "updates": [{"name": "browser", "run": ["/bin/apply", "browser"], "estimate": "30m", "uses": ["network", "disk"]}],
  "self_update": {"name": "agent", "run": ["/bin/selfupdate"], "estimate": "3m"}
}`,
		weeks: []string{"2026-03-29", "2026-10-25"},
	},
	{
		name: "paris-grace-12h",
		json: `{
  "client": "prop-paris",
  "site": {"name": "marais", "timezone": "Europe/Paris", "tags": ["fr"],
    "business_hours": {"mon": ["07:00-21:00"], "tue": ["07:00-21:00"], "wed": ["10:00-19:00"],
      "thu": ["07:00-21:00"], "fri": ["07:00-21:00"], "sat": ["07:00-13:00"]},
    "closed": ["2026-04-06", "2026-12-25"], "grace": "12h"},
  "sharing": [
    {"token": "pkg-repo", "base": "02:00", "zone": "UTC", "duration": "20m", "buffer": "10m", "uses": ["network"],
     "tasks": [{"name": "fetch-packages", "run": ["/bin/fetch"]}]},
    {"token": "lan-marais", "base": "02:30", "zone": "site", "duration": "30m", "buffer": "15m", "uses": ["lan"],
     "tasks": [{"name": "sync", "run": ["/bin/sync"]}]}
  ],
  "housekeeping": [
    {"name": "rotate-logs", "run": ["/bin/rotate"], "estimate": "2m", "uses": ["disk"]},
    {"name": "backup", "run": ["/bin/backup"], "estimate": "1h", "uses": ["lan"]}
  ],
  "updates": [{"name": "openssl", "run": ["/bin/apply", "openssl"], "estimate": "5m", "uses": ["network"]}],
  "self_update": {"name": "agent", "run": ["/bin/selfupdate"], "estimate": "3m"}
}`,
		weeks:   []string{"2026-03-29", "2026-10-25", "2026-12-25"},
		nearDST: []string{"2026-03-29", "2026-10-25"},
	},
}
