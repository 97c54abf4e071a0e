package afterhours

import (
	"bytes"
	_ "embed"
)

//go:embed profile.schema.json
var profileSchema []byte

// ProfileSchemaID is the "$id" of the profile's JSON Schema. It names the
// schema; nothing serves it at that address yet, so an editor that should
// complete and check profiles as they are typed maps it to a local copy of
// the schema (written by `afterhours schema > profile.schema.json`), or a
// profile names the local file in its top-level "$schema", which
// [ParseProfile] accepts and ignores.
const ProfileSchemaID = "https://afterhours-go.github.io/afterhours/profile.schema.json"

// ProfileSchema returns the JSON Schema (draft 2020-12) of the profile that
// [ParseProfile] reads: every field with its description, its type and its
// format (durations such as "20m", times of day "HH:MM", business intervals
// "HH:MM-HH:MM", IANA zone names, cron specs, dates, RFC 3339 instants,
// sizes), the enumerations (repeat, on_failure, a token's zone, downtime
// actions, weekdays) and unknown fields refused everywhere. It returns a
// new copy of the same bytes on each call.
//
// Whatever ParseProfile accepts, the schema accepts; whatever the schema
// rejects, ParseProfile rejects. The converse does not hold, because some
// of ParseProfile's rules are beyond a JSON Schema; the schema's top-level
// description lists them:
//   - a key given twice in one object, and a string holding a NUL byte;
//   - names unique across sections (task names across the profile,
//     resource names, tokens) and a selector with both "x" and "!x";
//   - business intervals of a day that overlap or end before they start,
//     and business hours that leave no after-hours window; a downtime
//     whose to equals its from;
//   - bounds on durations beyond their sign (grace up to 12h, a token's
//     buffer plus duration up to 24h, estimate up to timeout,
//     disk_busy_over up to 1m, sub-nanosecond or overflowing values);
//   - dates, instants and zones that must exist (2026-02-30, a zone name
//     that the time zone database lacks) and cron specs that robfig/cron
//     refuses or that can never fire, and probe URLs that net/url cannot
//     parse;
//   - numbers that must be whole in their JSON form ("parallel": 1.0) or fit
//     a float64, and JSON nested deeper than 64 levels.
func ProfileSchema() []byte { return bytes.Clone(profileSchema) }
