package fakeclock

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)

func TestFixed(t *testing.T) {
	c := Fixed(t0)
	require.Equal(t, t0, c.Now())
	require.Nil(t, c.After(time.Second))
}

func fired(ch <-chan time.Time) (time.Time, bool) {
	select {
	case at := <-ch:
		return at, true
	default:
		return time.Time{}, false
	}
}

// Timers fire when the clock reaches them, in any order they were set,
// and never when it goes back.
func TestManual(t *testing.T) {
	c := NewManual(t0)
	now := c.After(0)
	at, ok := fired(now)
	require.True(t, ok)
	require.Equal(t, t0, at)

	late, soon := c.After(time.Hour), c.After(time.Minute)
	c.WaitTimers(2)
	require.Equal(t, 2, c.Pending())
	c.Advance(30 * time.Second)
	_, ok = fired(soon)
	require.False(t, ok)
	c.Advance(45 * time.Second)
	at, ok = fired(soon)
	require.True(t, ok)
	require.Equal(t, t0.Add(75*time.Second), at, "fires with the clock's time")
	c.AdvanceTo(t0) // back: nothing moves
	require.Equal(t, t0.Add(75*time.Second), c.Now())
	_, ok = fired(late)
	require.False(t, ok)
	c.AdvanceTo(t0.Add(2 * time.Hour))
	_, ok = fired(late)
	require.True(t, ok)
	require.Equal(t, 0, c.Pending())
}

// WaitTimers returns once the code under test waits.
func TestManualWaitTimers(t *testing.T) {
	c := NewManual(t0)
	done := make(chan struct{})
	go func() {
		<-c.After(time.Minute)
		close(done)
	}()
	c.WaitTimers(1)
	c.Advance(time.Minute)
	<-done
}
