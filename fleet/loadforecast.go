package fleet

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/afterhours-go/afterhours"
)

// MaxLoadInterval is the longest interval [LoadForecastInterval] covers.
const MaxLoadInterval = 31 * 24 * time.Hour

// Load is the fleet's use of its shared resources, minute by minute.
type Load struct {
	// Start is the first minute, in UTC.
	Start time.Time
	// Minutes is how many minutes the forecast covers.
	Minutes int
	// Tokens has one entry per sharing token of the profiles, sorted by
	// token name.
	Tokens []TokenLoad
}

// TokenLoad is one token's concurrency over the forecast.
type TokenLoad struct {
	Token string
	// Holders is how many profiles hold the token.
	Holders int
	// Slots is how many slot occurrences touch the interval and run;
	// Void how many more touch it but do not run, because they intersect
	// their site's business time and the token is not anytime (the client
	// defers their tasks).
	Slots, Void int
	// Concurrency is, for each minute from Start, the number of slots that
	// run during some of that minute. With whole-minute bases and
	// durations (what [Allocate] hands out) that is the number of clients
	// in their slots at every instant of the minute; otherwise an upper
	// bound.
	Concurrency []int
	// Peak is the largest Concurrency, first reached at PeakAt.
	Peak   int
	PeakAt time.Time
}

// Token returns the load of the named token, or nil.
func (l *Load) Token(name string) *TokenLoad {
	i, ok := slices.BinarySearchFunc(l.Tokens, name, func(t TokenLoad, n string) int {
		switch {
		case t.Token < n:
			return -1
		case t.Token > n:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return &l.Tokens[i]
}

// LoadForecast returns, for each sharing token of the profiles, how many of
// their slots run at each minute of the UTC date day: the fleet's load on
// each shared resource, to show that no minute is over capacity. It is
// [LoadForecastInterval] over [day 00:00 UTC, day+1 00:00 UTC).
func LoadForecast(profiles []*afterhours.Profile, day afterhours.Date) (*Load, error) {
	start := time.Date(day.Year, day.Month, day.Day, 0, 0, 0, 0, time.UTC)
	return LoadForecastInterval(profiles, afterhours.Interval{Start: start, End: start.Add(24 * time.Hour)})
}

// LoadForecastInterval returns, for each sharing token of the profiles, how
// many of their slots run at each minute of iv, widened to whole minutes.
//
// Slots are computed as the clients compute them ([afterhours.Token.SlotOn],
// under the wall-clock rule, in UTC or each site's zone), each instant once
// where two dates resolve to one. Only the slot counts, not its buffer:
// the resource is used in the slot. A slot that intersects its site's
// business time does not run unless its token is anytime (the client voids
// it); it is counted in [TokenLoad.Void], not in the concurrency.
//
// Profiles must be validated ([afterhours.ErrNotValidated] otherwise); nil
// profiles are an error too. iv must be non-empty and at most
// [MaxLoadInterval] long ([ErrInvalidPeriod]). The work is spread over
// GOMAXPROCS goroutines; the result does not depend on it. Profiles are
// only read.
func LoadForecastInterval(profiles []*afterhours.Profile, iv afterhours.Interval) (*Load, error) {
	start := iv.Start.UTC().Truncate(time.Minute)
	end := iv.End.UTC()
	if t := end.Truncate(time.Minute); !t.Equal(end) {
		end = t.Add(time.Minute)
	}
	if iv.Empty() || iv.End.Sub(iv.Start) > MaxLoadInterval {
		return nil, fmt.Errorf("%w: load forecast over [%v, %v): want a non-empty interval of at most %v", ErrInvalidPeriod, iv.Start, iv.End, MaxLoadInterval)
	}
	minutes := int(end.Sub(start) / time.Minute)

	// Token indices, in name order, and holders.
	holders := map[string]int{}
	for i, p := range profiles {
		if p == nil {
			return nil, fmt.Errorf("fleet: load forecast: profile %d is nil", i)
		}
		if !p.Validated() {
			return nil, fmt.Errorf("fleet: load forecast: profile %d (%q): %w", i, p.Client, afterhours.ErrNotValidated)
		}
		for _, tok := range p.Sharing {
			holders[tok.Token]++
		}
	}
	names := slices.Sorted(mapKeys(holders))
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}

	// Each worker counts a share of the profiles into difference arrays.
	type tally struct {
		diff        [][]int32 // per token, minutes+1 entries
		slots, void []int
	}
	workers := max(1, min(len(profiles)/256, runtime.GOMAXPROCS(0)))
	tallies := make([]tally, workers)
	parallel(workers, func(w int) {
		t := tally{diff: make([][]int32, len(names)), slots: make([]int, len(names)), void: make([]int, len(names))}
		for i := range t.diff {
			t.diff[i] = make([]int32, minutes+1)
		}
		lo, hi := w*len(profiles)/workers, (w+1)*len(profiles)/workers
		for _, p := range profiles[lo:hi] {
			for _, tok := range p.Sharing {
				k := index[tok.Token]
				countToken(p, tok, start, end, func(run afterhours.Interval, void bool) {
					if void {
						t.void[k]++
						return
					}
					t.slots[k]++
					a := int(run.Start.Sub(start) / time.Minute)
					if run.Start.Before(start) {
						a = 0
					}
					b := minutes
					if run.End.Before(end) {
						b = int((run.End.Sub(start) + time.Minute - 1) / time.Minute)
					}
					t.diff[k][a]++
					t.diff[k][b]--
				})
			}
		}
		tallies[w] = t
	})

	load := &Load{Start: start, Minutes: minutes, Tokens: make([]TokenLoad, len(names))}
	for k, name := range names {
		tl := TokenLoad{Token: name, Holders: holders[name], Concurrency: make([]int, minutes)}
		run := 0
		for m := range minutes {
			for w := range tallies {
				run += int(tallies[w].diff[k][m])
			}
			tl.Concurrency[m] = run
			if run > tl.Peak {
				tl.Peak, tl.PeakAt = run, start.Add(time.Duration(m)*time.Minute)
			}
		}
		if tl.Peak == 0 {
			tl.PeakAt = start
		}
		for w := range tallies {
			tl.Slots += tallies[w].slots[k]
			tl.Void += tallies[w].void[k]
		}
		load.Tokens[k] = tl
	}
	return load, nil
}

// countToken calls f with the run of every slot occurrence of tok that
// intersects [start, end), and whether it is void.
func countToken(p *afterhours.Profile, tok *afterhours.Token, start, end time.Time, f func(run afterhours.Interval, void bool)) {
	loc := tok.Location()
	// A slot lasts at most a day, so the occurrence of two dates before
	// start's may still run.
	last := afterhours.DateOf(end.In(loc))
	var prev time.Time
	for d := afterhours.DateOf(start.In(loc)).AddDays(-2); d.Compare(last) <= 0; d = d.AddDays(1) {
		run := tok.SlotOn(d).Run
		if run.Start.Equal(prev) {
			continue // two dates resolved to one instant: it counts once
		}
		prev = run.Start
		if !run.Start.Before(end) || !run.End.After(start) {
			continue
		}
		void := false
		if !tok.Anytime {
			next, ok := p.Site.NextBusiness(run.Start)
			void = ok && next.Before(run.End)
		}
		f(run, void)
	}
}
