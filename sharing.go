package afterhours

import (
	"cmp"
	"slices"
	"time"

	"github.com/afterhours-go/afterhours/internal/wallclock"
)

// Location returns the zone the token's base is read in: UTC, or the site's
// zone for a token whose zone is "site". The token must be validated.
func (tok *Token) Location() *time.Location { return tok.loc }

// SlotOn returns the token's slot on date d of its zone (see
// [Token.Location]), under the wall-clock rule: its buffer zone and run, in
// the token's zone. Its Tasks are the token's tasks, unfiltered. The fleet
// side uses it to count who holds a resource when. An unplaced token (see
// [Token.Unplaced]) has no slot: SlotOn returns the zero Slot with only the
// token's name and tasks, whose empty Run holds no minute.
func (tok *Token) SlotOn(d Date) Slot {
	if tok.Unplaced != "" {
		return Slot{Token: tok.Token, Tasks: tok.Tasks, tok: tok}
	}
	buffer, run := tok.occurrence(d)
	return Slot{Token: tok.Token, Buffer: buffer, Run: run, Tasks: tok.Tasks, tok: tok}
}

// occurrence returns the buffer zone and the slot of the token on date d of
// its zone, under the wall-clock rule.
func (tok *Token) occurrence(d Date) (buffer, run Interval) {
	start := wallclock.Resolve(d.Year, d.Month, d.Day, tok.base/60, tok.base%60, 0, tok.loc)
	run = Interval{Start: start, End: start.Add(time.Duration(tok.Duration))}
	buffer = Interval{Start: start.Add(-time.Duration(tok.Buffer)), End: start}
	return buffer, run
}

// slotsOf returns the slot occurrences whose start lies in the cycle's span,
// sorted by start (then by token order); the occurrences of neighbouring
// cycles whose holds overlap the window [from, c.Window.End) and are not
// void; and the holds of both that overlap it, sorted by start.
func (p *Profile) slotsOf(c Cycle, from time.Time) (slots, neighbours []Slot, holds []run) {
	loc := p.Site.loc
	for _, tok := range p.Sharing {
		if tok.Unplaced != "" {
			continue // no base: no slot, its tasks are deferred as no-slot
		}
		first := DateOf(c.Span.Start.In(tok.loc)).AddDays(-1)
		last := DateOf(c.Span.End.In(tok.loc)).AddDays(1)
		var prev time.Time
		for d := first; d.Compare(last) <= 0; d = d.AddDays(1) {
			buffer, slot := tok.occurrence(d)
			if slot.Start.Equal(prev) {
				continue // two dates resolved to one instant: it counts once
			}
			prev = slot.Start
			inSpan := c.Span.Contains(slot.Start)
			h := Interval{Start: buffer.Start, End: slot.End}
			touches := h.Start.Before(c.Window.End) && h.End.After(from)
			if !inSpan && !touches {
				continue
			}
			void := !tok.Anytime && p.Site.overlapsBusiness(slot)
			occ := Slot{
				Token:  tok.Token,
				Buffer: Interval{buffer.Start.In(loc), buffer.End.In(loc)},
				Run:    Interval{slot.Start.In(loc), slot.End.In(loc)},
				Void:   void,
				tok:    tok,
			}
			switch {
			case inSpan:
				slots = append(slots, occ)
			case touches && !void:
				neighbours = append(neighbours, occ)
			}
			if touches && !void {
				holds = append(holds, run{start: nanos(h.Start), end: nanos(h.End), res: &tok.res})
			}
		}
	}
	slices.SortStableFunc(slots, func(a, b Slot) int { return a.Run.Start.Compare(b.Run.Start) })
	slices.SortStableFunc(neighbours, func(a, b Slot) int { return a.Run.Start.Compare(b.Run.Start) })
	slices.SortStableFunc(holds, func(a, b run) int { return cmp.Compare(a.start, b.start) })
	return slots, neighbours, holds
}
