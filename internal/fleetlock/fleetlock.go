// Package fleetlock is the client side of the FleetLock protocol of Fedora
// CoreOS's Zincati, shared by the agent's FleetLock constraint (package
// afterhours) and a rollout's FleetLock semaphore (package fleet).
package fleetlock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ErrFull is the server's answer when every slot of the group is held
// (the error kind "failed_lock_semaphore_full").
var ErrFull = errors.New("every slot is held")

// Call makes one FleetLock request: POST base + "/v1/" + op (op is
// "pre-reboot" or "steady-state"), with the header
// "fleet-lock-protocol: true" and the body
// {"client_params":{"id":...,"group":...}}. It returns nil for a 200
// answer, an error wrapping [ErrFull] for "failed_lock_semaphore_full",
// and otherwise an error holding the status and the answer's kind and
// value. The request is bounded by ctx and by client's own timeout.
func Call(ctx context.Context, client *http.Client, base, op, group, id string) error {
	var body struct {
		Params struct {
			ID    string `json:"id"`
			Group string `json:"group"`
		} `json:"client_params"`
	}
	body.Params.ID, body.Params.Group = id, group
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/"+op, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("fleet-lock-protocol", "true")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("fleetlock %s: %w", op, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var e struct{ Kind, Value string }
	if json.Unmarshal(answer, &e) == nil && e.Kind != "" {
		if e.Kind == "failed_lock_semaphore_full" {
			return fmt.Errorf("%w (%s)", ErrFull, e.Value)
		}
		return fmt.Errorf("fleetlock %s: %s: %s: %s", op, resp.Status, e.Kind, e.Value)
	}
	return fmt.Errorf("fleetlock %s: %s", op, resp.Status)
}
