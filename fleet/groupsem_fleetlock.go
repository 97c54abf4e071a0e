package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/afterhours-go/afterhours/internal/fleetlock"
)

// FleetLockSemaphore is a [GroupSemaphore] that speaks the FleetLock
// protocol of Fedora CoreOS's Zincati to a server (such as the afterhours
// server with "fleetlock" groups in its config): Acquire is
// POST /v1/pre-reboot, Release is POST /v1/steady-state, each with the
// header "fleet-lock-protocol: true" and the body
// {"client_params":{"id":...,"group":...}}. A 200 answer is done; the
// error kind "failed_lock_semaphore_full" makes Acquire return false; any
// other answer is an error holding the status, kind and value. The
// protocol has no watch: a full group is asked again later (see
// [WithGroupSemaphore]).
//
// It holds no state of its own and is safe for concurrent use. Build one
// with [NewFleetLockSemaphore].
type FleetLockSemaphore struct {
	base   string
	client *http.Client
}

// NewFleetLockSemaphore returns the FleetLock semaphore of the server at
// baseURL, to which "/v1/pre-reboot" is added
// ("https://fleet.example.com"), asked through client (its TLS settings and
// timeout); nil means [http.DefaultClient]. Each call is also bounded by
// its context. A baseURL that is not an http or https URL is an error
// wrapping [ErrInvalidOption].
func NewFleetLockSemaphore(baseURL string, client *http.Client) (*FleetLockSemaphore, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: fleetlock server %q: want an http or https URL", ErrInvalidOption, baseURL)
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &FleetLockSemaphore{base: strings.TrimSuffix(u.String(), "/"), client: client}, nil
}

// Acquire takes a slot of group for id (POST /v1/pre-reboot): true when
// id holds one, false when every slot is held by others.
func (s *FleetLockSemaphore) Acquire(ctx context.Context, group, id string) (bool, error) {
	err := fleetlock.Call(ctx, s.client, s.base, "pre-reboot", group, id)
	if errors.Is(err, fleetlock.ErrFull) {
		return false, nil
	}
	return err == nil, err
}

// Release gives id's slot of group back (POST /v1/steady-state); the
// server answers 200 when id holds none.
func (s *FleetLockSemaphore) Release(ctx context.Context, group, id string) error {
	return fleetlock.Call(ctx, s.client, s.base, "steady-state", group, id)
}
