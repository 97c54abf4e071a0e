package agentlink

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/server"
	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/require"
)

// eventually is require.Eventually with the deadline these tests use.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 10*time.Second, 5*time.Millisecond, msg)
}

// savedKill returns the killswitch state the link saved in store.
func savedKill(t *testing.T, store afterhours.Store) (killState, bool) {
	t.Helper()
	data, err := store.Load(KillSwitchKey)
	if err != nil {
		return killState{}, false
	}
	var ks killState
	require.NoError(t, json.Unmarshal(data, &ks))
	return ks, true
}

// executorIn returns an executor of the local profile keeping its journal
// in store.
func executorIn(t *testing.T, store afterhours.Store) *afterhours.Executor {
	t.Helper()
	p, err := afterhours.ParseProfile([]byte(localProfile))
	require.NoError(t, err)
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
	e, err := afterhours.NewExecutor(p, afterhours.WithClock(clk), afterhours.WithStore(store))
	require.NoError(t, err)
	return e
}

// The fleet's switch kills the running executor (a report says so at
// once, and a command is refused "killed"), keeps it killed against a
// local Resume, and resumes it when it goes off.
func TestLinkKillSwitch(t *testing.T) {
	fl, creds, exec := runningAgent(t)

	store := afterhours.NewMemoryStore()
	l, err := New(exec, store, creds, WithLogger(quiet()), WithClock(clock.NewMock()))
	require.NoError(t, err)
	running(t, l)
	// The link has the server's state (off) before the switch comes on.
	eventually(t, func() bool { ks, ok := savedKill(t, store); return ok && ks.ETag != "" }, "first state")
	require.False(t, exec.Status().Killed)

	_, err = fl.f.KillTag("uk", "bad update", "operate")
	require.NoError(t, err)
	eventually(t, func() bool { return exec.Status().Killed }, "killed by the switch")
	require.Equal(t, KillReasonPrefix+"bad update", exec.Status().KillReason)
	eventually(t, func() bool { r := fl.lastReport(); return r != nil && r.Killed }, "a report says killed")

	_, _, err = fl.f.Queue(server.NewCommand{ID: "fix-1", Run: []string{"/bin/true"}, Clients: []string{"leeds-1"}})
	require.NoError(t, err)
	eventually(t, func() bool { return fl.state("fix-1").State == server.CommandRefused }, "command refused")
	require.Equal(t, "killed", fl.state("fix-1").Reason)

	// A local Resume does not outlast the fleet's switch.
	exec.Resume()
	eventually(t, func() bool { return exec.Status().Killed }, "killed again")

	// Another switch on changes the state, not the kill.
	_, err = fl.f.KillFleet("all stop", "operate")
	require.NoError(t, err)
	eventually(t, func() bool { ks, _ := savedKill(t, store); return ks.Fleet }, "fleet switch seen")
	require.Equal(t, KillReasonPrefix+"bad update", exec.Status().KillReason)
	require.NoError(t, fl.f.ResumeFleet())
	require.NoError(t, fl.f.ResumeTag("uk"))
	eventually(t, func() bool { return !exec.Status().Killed }, "resumed")
	eventually(t, func() bool { r := fl.lastReport(); return r != nil && !r.Killed }, "a report says resumed")
	ks, _ := savedKill(t, store)
	require.False(t, ks.On)
	require.Nil(t, ks.Applied)
}

// An executor the application killed itself stays killed when the fleet's
// switch goes off: the link resumes only its own kill.
func TestLinkKillSwitchLeavesLocalKill(t *testing.T) {
	fl := newFleet(t)
	creds, err := Enroll(context.Background(), fl.srv.URL, fl.code, nil)
	require.NoError(t, err)
	exec := newExecutor(t, []byte(localProfile))
	exec.Kill("local maintenance")
	store := afterhours.NewMemoryStore()
	l, err := New(exec, store, creds, WithLogger(quiet()), WithClock(clock.NewMock()))
	require.NoError(t, err)
	running(t, l)
	eventually(t, func() bool { ks, ok := savedKill(t, store); return ok && ks.ETag != "" }, "first state")

	_, err = fl.f.KillFleet("all stop", "operate")
	require.NoError(t, err)
	eventually(t, func() bool { ks, _ := savedKill(t, store); return ks.On }, "switch seen")
	ks, _ := savedKill(t, store)
	require.Nil(t, ks.Applied, "the kill is the application's")
	require.Equal(t, "local maintenance", exec.Status().KillReason)

	require.NoError(t, fl.f.ResumeFleet())
	eventually(t, func() bool { ks, _ := savedKill(t, store); return !ks.On }, "switch off seen")
	st := exec.Status()
	require.True(t, st.Killed)
	require.Equal(t, "local maintenance", st.KillReason)
}

// An agent restarted while the server is unreachable stays killed: the
// link applies the state it saved before reaching the server, whether the
// executor's own store kept the kill or not; and it still knows the kill
// as its own, so the switch going off resumes the executor.
func TestLinkKillSwitchRestartOffline(t *testing.T) {
	fl := newFleet(t)
	creds, err := Enroll(context.Background(), fl.srv.URL, fl.code, nil)
	require.NoError(t, err)
	store := afterhours.NewMemoryStore()
	exec := executorIn(t, afterhours.NewMemoryStore())
	l, err := New(exec, store, creds, WithLogger(quiet()), WithClock(clock.NewMock()))
	require.NoError(t, err)
	stop := running(t, l)
	_, err = fl.f.KillFleet("incident 7", "operate")
	require.NoError(t, err)
	eventually(t, func() bool { return exec.Status().Killed }, "killed")
	eventually(t, func() bool { ks, _ := savedKill(t, store); return ks.Applied != nil }, "kill saved")
	require.ErrorIs(t, stop(), context.Canceled)

	// Restart offline, with an executor whose store lost the kill.
	fl.down.Store(true)
	estore := afterhours.NewMemoryStore()
	exec2 := executorIn(t, estore)
	require.False(t, exec2.Status().Killed)
	clk := clock.NewMock()
	l2, err := New(exec2, store, creds, WithLogger(quiet()), WithClock(clk))
	require.NoError(t, err)
	stop2 := running(t, l2)
	eventually(t, func() bool { return exec2.Status().Killed }, "killed before the server answers")
	require.Equal(t, KillReasonPrefix+"incident 7", exec2.Status().KillReason)
	eventually(t, func() bool { clk.Add(time.Minute); return fl.aborted.Load() >= 4 }, "retrying")
	require.True(t, exec2.Status().Killed)
	require.ErrorIs(t, stop2(), context.Canceled)

	// Restart again, with the executor's store this time (it kept the
	// kill itself); the server is back and turns the switch off.
	exec3 := executorIn(t, estore)
	require.True(t, exec3.Status().Killed)
	fl.down.Store(false)
	require.NoError(t, fl.f.ResumeFleet())
	l3, err := New(exec3, store, creds, WithLogger(quiet()), WithClock(clock.NewMock()))
	require.NoError(t, err)
	running(t, l3)
	eventually(t, func() bool { return !exec3.Status().Killed }, "resumed: the kill was the link's")
}
