package afterhours

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/afterhours-go/afterhours/internal/fleetlock"
)

// RebootResource is the resource a task names in its "uses" when it
// reboots the machine (or restarts what users depend on): the steps that
// use it take a slot of a FleetLock group first ([FleetLock]).
const RebootResource = "reboot"

// FleetLock returns a [Releaser] that coordinates reboots across machines
// with a FleetLock server (the fleet server's POST /v1/pre-reboot and
// /v1/steady-state, or any server of the protocol Fedora CoreOS's Zincati
// speaks, such as airlock): before a step or slot task that uses
// [RebootResource] starts, it takes a slot of group for the client id; it
// releases the slot when that run ends. Other tasks are allowed at once.
//
// While every slot is held by other machines, or the server cannot be
// reached, the start waits ([Wait]: the executor checks again with a
// backoff up to 5 minutes) rather than fails; a step that waits until it no
// longer fits its window is deferred with the reason "constraint:fleetlock".
// At its first check after the agent starts, it first releases any slot
// id may still hold from before (an agent stopped or crashed while a
// reboot step ran), as Zincati does; until that release succeeds, reboot
// steps wait. A release when a run ends is tried until it succeeds or
// [ReleaseTimeout] passes; a slot that stays held is released at the next
// start, or by an operator.
//
// baseURL is the server's address, to which "/v1/pre-reboot" is added
// ("https://fleet.example.com"); id names this machine (its client id) and
// group its reboot group (letters, digits, '.' and '-'). client is the
// HTTP client (TLS settings); nil means http.DefaultClient.
func FleetLock(baseURL, id, group string, client *http.Client) (Releaser, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("afterhours: fleetlock: server %q: want an http or https URL", baseURL)
	}
	if id == "" || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, fmt.Errorf("afterhours: fleetlock: id %q: want printable ASCII without spaces", id)
	}
	if group == "" || strings.ContainsFunc(group, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-')
	}) {
		return nil, fmt.Errorf("afterhours: fleetlock: group %q: want letters, digits, '.' and '-'", group)
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &fleetLock{base: strings.TrimSuffix(u.String(), "/"), id: id, group: group, client: client}, nil
}

type fleetLock struct {
	base, id, group string
	client          *http.Client

	mu      sync.Mutex
	started bool // the release of what an earlier start held succeeded
}

func (f *fleetLock) Name() string { return "fleetlock" }

func usesReboot(t *Task) bool { return t != nil && slices.Contains(t.Uses, RebootResource) }

// Check takes a slot for a task that uses the reboot resource.
func (f *fleetLock) Check(ctx context.Context, c Check) Verdict {
	if !usesReboot(c.Task) {
		return Allowed()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started {
		if err := f.call(ctx, "steady-state"); err != nil {
			return WaitFor("fleetlock: releasing what %s held before it started: %v", f.id, err)
		}
		f.started = true
	}
	if err := f.call(ctx, "pre-reboot"); err != nil {
		return WaitFor("fleetlock: group %s: %v", f.group, err)
	}
	return Allowed()
}

// Release gives the slot back, trying until ctx ends.
func (f *fleetLock) Release(ctx context.Context, c Check) {
	if !usesReboot(c.Task) {
		return
	}
	for wait := time.Second; ; wait = min(2*wait, 10*time.Second) {
		f.mu.Lock()
		err := f.call(ctx, "steady-state")
		f.mu.Unlock()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// call makes one FleetLock request, bounded to 30 seconds.
func (f *fleetLock) call(ctx context.Context, op string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return fleetlock.Call(ctx, f.client, f.base, op, f.group, f.id)
}
