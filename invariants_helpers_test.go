package afterhours

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours/internal/wallclock"
)

// What checkPlan recomputes from the profile on its own.

// invOccurrences recomputes the slot occurrences of every token whose dates
// (in the token's zone) lie around [from, to], each instant once per token.
// Void is computed from the exported business-time methods.
func invOccurrences(p *Profile, from, to time.Time) []invOccurrence {
	var out []invOccurrence
	for _, tok := range p.Sharing {
		if tok.Unplaced != "" {
			continue // the server gave it no base: it has no slot
		}
		zone := time.UTC
		if tok.Zone == "site" {
			zone = p.Site.Location()
		}
		hh, err1 := strconv.Atoi(tok.Base[:2])
		mm, err2 := strconv.Atoi(tok.Base[3:])
		if err1 != nil || err2 != nil {
			panic("invOccurrences: unvalidated base " + tok.Base)
		}
		seen := map[int64]bool{}
		last := DateOf(to.In(zone)).AddDays(1)
		for d := DateOf(from.In(zone)).AddDays(-1); d.Compare(last) <= 0; d = d.AddDays(1) {
			start := wallclock.Resolve(d.Year, d.Month, d.Day, hh, mm, 0, zone)
			if seen[start.UnixNano()] {
				continue
			}
			seen[start.UnixNano()] = true
			o := invOccurrence{
				tok:    tok,
				run:    Interval{start, start.Add(time.Duration(tok.Duration))},
				buffer: Interval{start.Add(-time.Duration(tok.Buffer)), start},
			}
			if !tok.Anytime {
				next, ok := p.Site.NextBusiness(o.run.Start)
				o.void = ok && next.Before(o.run.End)
			}
			out = append(out, o)
		}
	}
	return out
}

// invTokenOf returns the token whose tasks include t, or nil.
func invTokenOf(p *Profile, t *Task) *Token {
	for _, tok := range p.Sharing {
		if slices.Contains(tok.Tasks, t) {
			return tok
		}
	}
	return nil
}

// invAllTasks returns every task of the profile but the timers: slot
// tasks, housekeeping, updates and the self-update.
func invAllTasks(p *Profile) []*Task { return p.tasksInOrder() }

// invEstimate is rule 11: the longest of the three newest durations the
// history has, else the estimate, else the timeout, else 10m.
func invEstimate(t *Task, h History) time.Duration {
	if h != nil {
		var longest time.Duration
		for i, d := range h.Durations(t.Name) {
			if i == 3 {
				break
			}
			longest = max(longest, d)
		}
		if longest > 0 {
			return longest
		}
	}
	switch {
	case t.Estimate > 0:
		return time.Duration(t.Estimate)
	case t.Timeout > 0:
		return time.Duration(t.Timeout)
	}
	return 10 * time.Minute
}

// invTokenUses is what a token declares for contention: its uses and
// nothing else (not its name); none means unknown, which contends with all.
func invTokenUses(tok *Token) []string { return tok.Uses }

// invContends is the design's contention: unknown (no uses) contends with
// everything; otherwise the sets must be disjoint not to contend.
func invContends(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// invSelectorMatches is rule 12, case-sensitive.
func invSelectorMatches(sel, site []string) bool {
	for _, s := range sel {
		if neg, ok := strings.CutPrefix(s, "!"); ok {
			if slices.Contains(site, neg) {
				return false
			}
		} else if !slices.Contains(site, s) {
			return false
		}
	}
	return true
}

func invSameInterval(a, b Interval) bool { return a.Start.Equal(b.Start) && a.End.Equal(b.End) }

func invT(t time.Time) string {
	return t.Format("2006-01-02 15:04:05 MST") + " (" + t.UTC().Format("15:04Z") + ")"
}

func invIv(iv Interval) string { return "[" + invT(iv.Start) + ", " + invT(iv.End) + ")" }
