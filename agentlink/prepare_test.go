package agentlink

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// WithPrepare gives the application each fetched profile before it is
// applied: Go actions set there go with it; a profile prepare refuses is
// not applied.
func TestLinkPrepare(t *testing.T) {
	fl := newFleet(t)
	creds, err := Enroll(context.Background(), fl.srv.URL, fl.code, nil)
	require.NoError(t, err)
	exec := newExecutor(t, []byte(localProfile))
	rotate := afterhours.ActionFunc(func(context.Context) error { return nil })
	var mu sync.Mutex
	var prepared []*afterhours.Profile
	refused := make(chan struct{}, 1)
	prepare := func(p *afterhours.Profile) error {
		if p.Task("vacuum") != nil {
			refused <- struct{}{}
			return errors.New("no action for a task named vacuum")
		}
		p.Task("rotate-logs").Action = rotate
		mu.Lock()
		prepared = append(prepared, p)
		mu.Unlock()
		return nil
	}
	l, err := New(exec, afterhours.NewMemoryStore(), creds, WithLogger(quiet()), WithClock(clock.NewMock()), WithPrepare(prepare))
	require.NoError(t, err)
	running(t, l)
	require.Eventually(t, func() bool { return accepts(exec, "retail") }, 10*time.Second, 5*time.Millisecond)
	mu.Lock()
	require.Len(t, prepared, 1)
	require.True(t, prepared[0].Validated(), "validated again after prepare")
	require.NotNil(t, prepared[0].Task("rotate-logs").Action)
	mu.Unlock()

	// A profile with a task prepare refuses is not applied: its new tag
	// is not the executor's.
	withVacuum := strings.Replace(fleetConfig, `"estimate": "2m"}]`, `"estimate": "2m"}, {"name": "vacuum", "run": ["/usr/bin/vacuum"]}]`, 1)
	withVacuum = strings.Replace(withVacuum, `"retail"]`, `"retail", "south"]`, 1)
	require.NoError(t, fl.f.SetConfig([]byte(withVacuum)))
	select {
	case <-refused:
	case <-time.After(10 * time.Second):
		t.Fatal("the profile with vacuum never reached prepare")
	}
	require.False(t, accepts(exec, "south"))
	require.True(t, accepts(exec, "retail"))
}
