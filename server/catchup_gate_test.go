package server

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// Requests that come while a catch-up runs share the one after it, and
// get its result; a request that comes after a catch-up ended runs its
// own: none takes a catch-up that began before it came.
func TestCatchUpGateShares(t *testing.T) {
	var g catchUpGate
	var runs atomic.Int32
	entered, release := make(chan struct{}), make(chan struct{})
	errSecond := errors.New("second catch-up")
	run := func() error {
		switch runs.Add(1) {
		case 1:
			close(entered)
			<-release
			return nil
		case 2:
			return errSecond
		}
		return nil
	}

	first := make(chan error)
	go func() { first <- g.wait(run) }()
	<-entered // the first catch-up has started, and runs

	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = g.wait(run) })
	}
	for g.waiting.Load() < n {
		runtime.Gosched() // until all of them came, after the first began
	}
	close(release)
	require.NoError(t, <-first)
	wg.Wait()
	require.EqualValues(t, 2, runs.Load(), "the requests that came during the first catch-up share one after it")
	for _, err := range errs {
		require.ErrorIs(t, err, errSecond, "each shares the result of the catch-up it waited for")
	}

	require.NoError(t, g.wait(run))
	require.EqualValues(t, 3, runs.Load(), "a request after the catch-ups ended runs its own")
}
