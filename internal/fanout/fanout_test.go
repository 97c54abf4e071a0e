package fanout

import (
	"testing"

	"github.com/stretchr/testify/require"
)

type ev struct{ n, lost int }

func stamp(e *ev, n int) { e.lost = n }

func TestSlowSubscriberLosesAndIsTold(t *testing.T) {
	var s Set[ev]
	fast, _ := s.Add(10)
	slow, _ := s.Add(1)
	for i := range 4 {
		s.Send(ev{n: i}, stamp)
	}
	require.Equal(t, ev{n: 0}, <-slow)
	require.Len(t, slow, 0, "events 1 to 3 found it full")
	s.Send(ev{n: 4}, stamp)
	require.Equal(t, ev{n: 4, lost: 3}, <-slow)
	for i := range 5 {
		require.Equal(t, ev{n: i}, <-fast)
	}
}

func TestRemoveAndClose(t *testing.T) {
	var s Set[ev]
	a, subA := s.Add(1)
	b, _ := s.Add(1)
	require.Equal(t, 2, s.Len())
	s.Remove(subA)
	s.Remove(subA) // twice is fine
	_, open := <-a
	require.False(t, open)
	s.Close()
	_, open = <-b
	require.False(t, open)
	late, _ := s.Add(1)
	_, open = <-late
	require.False(t, open, "a subscription after Close gets a closed channel")
	s.Send(ev{}, stamp) // nobody left: no panic on a closed channel
	require.Equal(t, 0, s.Len())
}
