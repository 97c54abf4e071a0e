package fleet

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestAppendEntry: appendEntry writes what json.Marshal writes for the
// entries the log holds.
func TestAppendEntry(t *testing.T) {
	at := time.Date(2026, 11, 24, 1, 0, 0, 500, time.FixedZone("CET", 3600))
	for _, e := range []claimEntry{
		{Kind: entryOpen, Run: "0123456789abcdef"},
		{Kind: entryOpen},
		{Kind: entryClaim, Target: "web-1", Phase: "drain", At: at},
		{Kind: entryPhase, Target: "web-1", Phase: "patch"},
		{Kind: entryEnd, Target: "web-1", Outcome: Failed, Phase: "patch", Attempts: 2, At: at, End: at.Add(time.Minute),
			Error: "dpkg: \"exit\" status 1\n\ttab \\ back\x01 ok é"},
		{Kind: entryEnd, Target: "web-2", Outcome: Pending},
		{Kind: entryEnd, Target: "web-3", Outcome: Interrupted, At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendEntry(nil, e); !bytes.Equal(got, want) {
			t.Errorf("appendEntry = %s\n    json.Marshal %s", got, want)
		}
	}
}

// FuzzAppendEntry: whatever an entry holds, encoding/json reads back from
// appendEntry what it reads back from json.Marshal.
func FuzzAppendEntry(f *testing.F) {
	f.Add("end", "web-1", uint8(3), "patch", 2, int64(1764000000), 500, "boom\n\"quoted\"")
	f.Add("claim", "\xff\xfe<&>", uint8(0), "\u2028", 0, int64(0), 0, "")
	f.Fuzz(func(t *testing.T, kind, target string, outcome uint8, phase string, attempts int, sec int64, nsec int, msg string) {
		var at time.Time
		if sec != 0 || nsec != 0 {
			at = time.Unix(sec%(200*365*86400), int64(nsec)).UTC()
		}
		e := claimEntry{Kind: kind, Target: target, Outcome: Outcome(outcome % uint8(len(outcomeNames))), Phase: phase,
			Attempts: attempts, At: at, Error: msg}
		want, err := json.Marshal(e)
		if err != nil {
			t.Skip(err) // a time json cannot write; a clock gives none
		}
		var a, b claimEntry
		if err := json.Unmarshal(want, &a); err != nil {
			t.Fatal(err)
		}
		got := appendEntry(nil, e)
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("appendEntry %s\n json.Marshal %s", got, want)
		}
	})
}
