package afterhours

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A planned event counts its steps, slots and timer runs in words that
// read right for one as for several.
func TestEventStringPlural(t *testing.T) {
	at := time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC)
	one := &Plan{Day: "2026-11-23", Steps: make([]Step, 1), Slots: make([]Slot, 1), Timers: make([]TimerRun, 1)}
	require.Equal(t, "2026-11-24 09:30:00 UTC planned cycle 2026-11-23: 1 step, 1 slot, 1 timer run, 0 deferred",
		Event{Kind: EventPlanned, At: at, Plan: one}.String())
	two := &Plan{Day: "2026-11-23", Slots: make([]Slot, 2), Timers: make([]TimerRun, 96), Deferred: make([]Deferral, 6)}
	require.Equal(t, "2026-11-24 09:30:00 UTC planned cycle 2026-11-23: 0 steps, 2 slots, 96 timer runs, 6 deferred",
		Event{Kind: EventPlanned, At: at, Plan: two}.String())
}
