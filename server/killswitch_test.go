package server

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// killFleet is testConfig with leeds-1 and leeds-2 at leeds (uk, retail)
// and austin-1 at austin (us, kiosk).
func killFleet(t *testing.T, store Store) *Fleet {
	t.Helper()
	f := testFleet(t, store, testConfig)
	_, err := f.Register(Client{ID: "austin-1", Site: "austin"}, Client{ID: "leeds-1", Site: "leeds"}, Client{ID: "leeds-2", Site: "leeds"})
	require.NoError(t, err)
	return f
}

func killed(t *testing.T, f *Fleet) []string {
	t.Helper()
	ids, err := f.KilledClients()
	require.NoError(t, err)
	return ids
}

// The fleet-wide switch holds every client, a tag's switch the clients
// whose site has it; a client's state says why, and off releases them.
func TestKillSwitchFleetAndTags(t *testing.T) {
	f := killFleet(t, NewMemStore())
	require.Empty(t, killed(t, f))
	ck, etagOff, err := f.ClientKill("leeds-1")
	require.NoError(t, err)
	require.Equal(t, ClientKill{}, ck)

	ks, err := f.KillTag("uk", "  bad openssl build \n", "operate")
	require.NoError(t, err)
	since := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	require.Equal(t, KillSwitch{Reason: "bad openssl build", By: "operate", Since: since}, ks)
	require.Equal(t, []string{"leeds-1", "leeds-2"}, killed(t, f))
	ck, etagUK, err := f.ClientKill("leeds-1")
	require.NoError(t, err)
	require.Equal(t, ClientKill{On: true, Reason: "bad openssl build", Since: since, Tags: []string{"uk"}}, ck)
	require.NotEqual(t, etagOff, etagUK)
	ck, _, err = f.ClientKill("austin-1")
	require.NoError(t, err)
	require.False(t, ck.On)

	// A tag no site has yet is allowed: a site that gets it is held.
	_, err = f.KillTag("eu", "not yet", "operate")
	require.NoError(t, err)
	require.Equal(t, []string{"leeds-1", "leeds-2"}, killed(t, f))

	_, err = f.KillFleet("incident 42", "admin")
	require.NoError(t, err)
	require.Equal(t, []string{"austin-1", "leeds-1", "leeds-2"}, killed(t, f))
	ck, _, err = f.ClientKill("leeds-1")
	require.NoError(t, err)
	require.Equal(t, ClientKill{On: true, Reason: "incident 42", Since: since, Fleet: true, Tags: []string{"uk"}}, ck)

	st, err := f.Status()
	require.NoError(t, err)
	for _, s := range st {
		require.True(t, s.KillSwitch, s.Client)
	}

	require.NoError(t, f.ResumeFleet())
	require.NoError(t, f.ResumeFleet(), "off twice is no error")
	require.Equal(t, []string{"leeds-1", "leeds-2"}, killed(t, f))
	require.NoError(t, f.ResumeTag("uk"))
	require.Empty(t, killed(t, f))
	st, err = f.Status()
	require.NoError(t, err)
	for _, s := range st {
		require.False(t, s.KillSwitch, s.Client)
	}
	_, etag, err := f.ClientKill("leeds-1")
	require.NoError(t, err)
	require.Equal(t, etagOff, etag, "the same state has the same ETag")

	_, _, err = f.ClientKill("nobody")
	require.ErrorIs(t, err, ErrNoClient)
}

// Turning on a switch that is on replaces its reason and keeps its since;
// when tags alone hold a client, the one switched on first gives the
// reason.
func TestKillSwitchAgain(t *testing.T) {
	clk := fixedClock()
	f, err := OpenFleet(NewMemStore(), WithClock(clk))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.NoError(t, f.SetConfig([]byte(testConfig)))
	_, err = f.Register(Client{ID: "leeds-1", Site: "leeds"})
	require.NoError(t, err)
	t0 := clk.Now().UTC()
	_, err = f.KillTag("retail", "first", "operate")
	require.NoError(t, err)
	clk.Add(time.Hour)
	_, err = f.KillTag("uk", "second", "operate")
	require.NoError(t, err)
	ck, _, err := f.ClientKill("leeds-1")
	require.NoError(t, err)
	require.Equal(t, ClientKill{On: true, Reason: "first", Since: t0, Tags: []string{"retail", "uk"}}, ck)

	ks, err := f.KillTag("retail", "first, reworded", "admin")
	require.NoError(t, err)
	require.Equal(t, KillSwitch{Reason: "first, reworded", By: "admin", Since: t0}, ks)
}

// Reasons and tags are checked, each problem with its path.
func TestKillSwitchProblems(t *testing.T) {
	f := killFleet(t, NewMemStore())
	tests := []struct {
		tag, reason string
		paths       []string
	}{
		{"uk", "", []string{"reason"}},
		{"uk", " \t ", []string{"reason"}},
		{"uk", strings.Repeat("x", MaxKillReason+1), []string{"reason"}},
		{"!uk", "why", []string{"tag"}},
		{"", "", []string{"tag", "reason"}},
		{strings.Repeat("t", 201), "why", []string{"tag"}},
	}
	for _, tt := range tests {
		_, err := f.KillTag(tt.tag, tt.reason, "operate")
		require.Equal(t, tt.paths, problemPaths(t, err), "tag %q reason %q", tt.tag, tt.reason)
	}
	_, err := f.KillFleet("", "operate")
	require.Equal(t, []string{"reason"}, problemPaths(t, err))
	_, err = f.KillFleet(strings.Repeat("é", MaxKillReason/2), "operate")
	require.NoError(t, err, "500 bytes is the limit, not more")
	require.Equal(t, []string{"tag"}, problemPaths(t, f.ResumeTag("!uk")))
	ks, err := f.KillSwitches()
	require.NoError(t, err)
	require.Empty(t, ks.Tags, "nothing stored of a refused switch")
}

// A config change that gives a site a switched-on tag holds its clients,
// and one that takes it away releases them; a waiting long-poll sees both.
func TestKillSwitchFollowsSiteTags(t *testing.T) {
	f := killFleet(t, NewMemStore())
	_, err := f.KillTag("eu", "eu incident", "operate")
	require.NoError(t, err)
	_, etag, err := f.ClientKill("austin-1")
	require.NoError(t, err)

	type answer struct {
		ck      ClientKill
		etag    string
		changed bool
		err     error
	}
	wait := func(etag string) <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			ck, tag, changed, err := f.WaitClientKill(context.Background(), "austin-1", etag, time.Hour)
			ch <- answer{ck, tag, changed, err}
		}()
		return ch
	}
	ch := wait(etag)
	austin := strings.Replace(siteJSON(t, f, "austin"), `"kiosk"`, `"kiosk", "eu"`, 1)
	require.NoError(t, f.PutSite("austin", []byte(austin)))
	a := receiveAnswer(t, ch)
	require.NoError(t, a.err)
	require.True(t, a.changed)
	require.Equal(t, ClientKill{On: true, Reason: "eu incident", Since: fixedClock().Now().UTC(), Tags: []string{"eu"}}, a.ck)
	require.Equal(t, []string{"austin-1"}, killed(t, f))

	ch = wait(a.etag)
	austin = strings.Replace(austin, `, "eu"`, ``, 1)
	require.NoError(t, f.PutSite("austin", []byte(austin)))
	a = receiveAnswer(t, ch)
	require.NoError(t, a.err)
	require.True(t, a.changed)
	require.False(t, a.ck.On)
	require.Equal(t, etag, a.etag)
}

// siteJSON returns the site's JSON from the fleet's config, without its
// name (as PUT /v1/sites/{name} takes it).
func siteJSON(t *testing.T, f *Fleet, name string) string {
	t.Helper()
	i := f.Config().siteIndex(name)
	require.GreaterOrEqual(t, i, 0)
	return string(f.Config().sites[i].raw)
}

func receiveAnswer[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case a := <-ch:
		return a
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
	var zero T
	return zero
}

// A long-poll ends at once when the state differs from the ETag it names,
// when a switch changes, and after its wait on the fleet's clock.
func TestWaitClientKill(t *testing.T) {
	clk := fixedClock()
	f, err := OpenFleet(NewMemStore(), WithClock(clk))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	require.NoError(t, f.SetConfig([]byte(testConfig)))
	_, err = f.Register(Client{ID: "leeds-1", Site: "leeds"})
	require.NoError(t, err)
	_, etag, err := f.ClientKill("leeds-1")
	require.NoError(t, err)

	ck, tag, changed, err := f.WaitClientKill(context.Background(), "leeds-1", `"stale"`, time.Hour)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, etag, tag)
	require.False(t, ck.On)

	type answer struct {
		ck      ClientKill
		changed bool
		err     error
	}
	wait := func() <-chan answer {
		ch := make(chan answer, 1)
		go func() {
			ck, _, changed, err := f.WaitClientKill(context.Background(), "leeds-1", etag, time.Minute)
			ch <- answer{ck, changed, err}
		}()
		return ch
	}
	ch := wait()
	_, err = f.KillFleet("stop", "operate")
	require.NoError(t, err)
	a := receiveAnswer(t, ch)
	require.NoError(t, a.err)
	require.True(t, a.changed)
	require.True(t, a.ck.On)
	require.NoError(t, f.ResumeFleet())

	// No change: the wait ends on the fake clock. The poll may not wait
	// yet when the clock moves, so it moves until the answer comes.
	ch = wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case a := <-ch:
			require.NoError(t, a.err)
			require.False(t, a.changed)
			require.False(t, a.ck.On)
			return
		case <-time.After(5 * time.Millisecond):
			require.True(t, time.Now().Before(deadline), "no answer")
			clk.Add(time.Minute)
		}
	}
}

// The switches are durable: a fleet reopened on the same bbolt file has
// them, and its clients are held.
func TestKillSwitchDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	s, err := OpenBoltStore(path)
	require.NoError(t, err)
	f := killFleet(t, s)
	_, err = f.KillTag("kiosk", "kiosk firmware", "operate")
	require.NoError(t, err)
	_, err = f.KillFleet("all stop", "admin")
	require.NoError(t, err)
	require.NoError(t, f.ResumeFleet())
	want, err := f.KillSwitches()
	require.NoError(t, err)
	require.NoError(t, s.Close())

	s, err = OpenBoltStore(path)
	require.NoError(t, err)
	defer s.Close()
	f, err = OpenFleet(s, WithClock(fixedClock()))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	got, err := f.KillSwitches()
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Nil(t, got.Fleet)
	require.Equal(t, []string{"austin-1"}, killed(t, f))
}

// A tag's switch holds the clients whose site has the tag; the fleet-wide
// switch holds every client and gives the reason.
func ExampleFleet_KillTag() {
	f, _ := OpenFleet(NewMemStore(), WithClock(fixedClock()))
	defer f.Close()
	_ = f.SetConfig([]byte(`{"sites": [
	  {"name": "leeds", "timezone": "Europe/London", "tags": ["uk"], "business_hours": {"mon": ["08:00-18:00"]}},
	  {"name": "austin", "timezone": "America/Chicago", "tags": ["us"], "business_hours": {"mon": ["08:00-18:00"]}}]}`))
	_, _ = f.Register(Client{ID: "leeds-1", Site: "leeds"}, Client{ID: "austin-1", Site: "austin"})

	_, _ = f.KillTag("uk", "bad openssl build", "operate")
	ids, _ := f.KilledClients()
	fmt.Println(ids)
	ck, _, _ := f.ClientKill("leeds-1")
	fmt.Printf("%t %q %v\n", ck.On, ck.Reason, ck.Tags)

	_, _ = f.KillFleet("incident 42", "admin")
	ck, _, _ = f.ClientKill("leeds-1")
	fmt.Printf("%t %q fleet=%t %v\n", ck.On, ck.Reason, ck.Fleet, ck.Tags)

	_ = f.ResumeFleet()
	_ = f.ResumeTag("uk")
	ids, _ = f.KilledClients()
	fmt.Println(ids)
	// Output:
	// [leeds-1]
	// true "bad openssl build" [uk]
	// true "incident 42" fleet=true [uk]
	// []
}
