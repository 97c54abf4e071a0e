package server

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours"
	"github.com/afterhours-go/afterhours/fleet"
)

// The states of a queued command.
const (
	CommandQueued   = "queued"   // not acknowledged yet: delivered on every poll
	CommandAccepted = "accepted" // the agent stored it: it runs once, never delivered again
	CommandRefused  = "refused"  // the agent would not run it; Reason says why
)

// commandsPrefix keys a client's commands: "commands/<client>/<command>".
const commandsPrefix = "commands/"

// NewCommand is a command to queue with [Fleet.Queue]: what an agent runs
// (see [afterhours.Command]), and the clients it is for, by ID or by a
// selector of their sites' tags (one of the two).
type NewCommand struct {
	// ID identifies the command; a random one when empty.
	ID      string              `json:"id,omitempty"`
	Name    string              `json:"name,omitempty"`
	Run     []string            `json:"run"`
	User    string              `json:"user,omitempty"`
	Timeout afterhours.Duration `json:"timeout,omitempty"`
	Clients []string            `json:"clients,omitempty"`
	Tags    []string            `json:"tags,omitempty"`
}

// QueuedCommand is a command as a client's queue keeps it.
type QueuedCommand struct {
	afterhours.Command
	// Queued is when it was queued, on the fleet's clock.
	Queued time.Time `json:"queued"`
	// State is [CommandQueued], [CommandAccepted] or [CommandRefused].
	State string `json:"state"`
	// Reason is why the agent refused it.
	Reason string `json:"reason,omitempty"`
	// Acked is when the agent acknowledged it.
	Acked time.Time `json:"acked,omitzero"`
}

var commandID = clientID

// check reports the problems of c, with their paths in the request.
func (c *NewCommand) check() error {
	var ps problems
	if c.ID != "" && !commandID.MatchString(c.ID) {
		ps.add("id", "want 1 to 128 letters, digits, '.', '_' or '-'")
	}
	switch {
	case len(c.Run) == 0:
		ps.add("run", "required: an absolute path and its arguments")
	case !path.IsAbs(c.Run[0]):
		ps.add("run[0]", "%q is not an absolute path", c.Run[0])
	}
	for i, s := range c.Run {
		if strings.IndexByte(s, 0) >= 0 {
			ps.add(fmt.Sprintf("run[%d]", i), "contains a NUL byte")
		}
	}
	for _, f := range []struct{ path, s string }{{"name", c.Name}, {"user", c.User}} {
		if strings.IndexByte(f.s, 0) >= 0 {
			ps.add(f.path, "contains a NUL byte")
		}
	}
	if c.Timeout < 0 {
		ps.add("timeout", "must not be negative")
	}
	switch {
	case len(c.Clients) > 0 && len(c.Tags) > 0:
		ps.add("tags", "give clients or tags, not both")
	case len(c.Clients) == 0 && len(c.Tags) == 0:
		ps.add("clients", "required: the client IDs, or tags selecting their sites")
	case len(c.Tags) > 0:
		if _, err := fleet.NewSelector(c.Tags...); err != nil {
			ps.add("tags", "%v", err)
		}
	}
	for i, id := range c.Clients {
		if slices.Contains(c.Clients[:i], id) {
			ps.add(fmt.Sprintf("clients[%d]", i), "client %q repeated", id)
		}
	}
	return ps.err()
}

// targets returns the IDs of the clients c is for, sorted: those it names
// (each must exist, else an error wrapping [ErrNoClient]), or every client
// whose site's tags the selector matches (possibly none).
func (f *Fleet) targets(c *NewCommand) ([]string, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if len(c.Clients) > 0 {
		for _, id := range c.Clients {
			if f.clients[id] == nil {
				return nil, fmt.Errorf("%w: %q", ErrNoClient, id)
			}
		}
		return slices.Sorted(slices.Values(c.Clients)), nil
	}
	sel, err := fleet.NewSelector(c.Tags...)
	if err != nil {
		return nil, err
	}
	var ids []string
	for id, rec := range f.clients {
		if i := f.cfg.siteIndex(rec.Site); i >= 0 && sel.Matches(f.cfg.sites[i].tags) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Queue validates c (an absolute path, no NUL byte, a target; the
// problems as an [*afterhours.ValidationError]) and queues it, in one
// transaction, for each client it is for; it returns the command's ID and
// the clients'. Queuing again a command of the same ID for a client that
// has it is no change when it is the same command (a retried request),
// and fails with [ErrConflict] when it is another. A selector that matches
// no client is a problem too: a command for nobody is a mistake. The
// selector picks the clients registered when the command is queued; a
// client registered later does not get it.
func (f *Fleet) Queue(c NewCommand) (id string, clients []string, err error) {
	if err := c.check(); err != nil {
		return "", nil, err
	}
	if c.ID == "" {
		if c.ID, err = secret(); err != nil {
			return "", nil, err
		}
	}
	ids, err := f.targets(&c)
	if err != nil {
		return "", nil, err
	}
	if len(ids) == 0 {
		var ps problems
		ps.add("tags", "no client's site matches %q", strings.Join(c.Tags, ","))
		return "", nil, ps.err()
	}
	cmd := afterhours.Command{ID: c.ID, Name: c.Name, Run: c.Run, User: c.User, Timeout: c.Timeout}
	now := f.clk.Now().UTC()
	err = f.store.Update(func(tx Tx) error {
		for _, client := range ids {
			if err := clientExists(tx, client); err != nil {
				return err
			}
			key := commandsPrefix + client + "/" + c.ID
			old, err := tx.Get(key)
			if err != nil {
				return err
			}
			if old != nil {
				var q QueuedCommand
				if err := json.Unmarshal(old, &q); err != nil {
					return fmt.Errorf("server: stored command %s: %w", key, err)
				}
				if !reflect.DeepEqual(q.Command, cmd) {
					return fmt.Errorf("%w: client %q has another command of ID %q", ErrConflict, client, c.ID)
				}
				continue
			}
			data, err := json.Marshal(QueuedCommand{Command: cmd, Queued: now, State: CommandQueued})
			if err != nil {
				return err
			}
			if err := tx.Put(key, data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return c.ID, ids, nil
}

// Commands returns the commands queued for the client of the given ID, in
// the order of their IDs, with their states; pending keeps only those not
// acknowledged yet. It fails with [ErrNoClient] for a client the fleet
// lacks.
func (f *Fleet) Commands(id string, pending bool) ([]QueuedCommand, error) {
	if _, err := f.Client(id); err != nil {
		return nil, err
	}
	out := []QueuedCommand{}
	err := f.store.View(func(tx Tx) error {
		return tx.Scan(commandsPrefix+id+"/", func(key string, value []byte) error {
			var q QueuedCommand
			if err := json.Unmarshal(value, &q); err != nil {
				return fmt.Errorf("server: stored command %s: %w", key, err)
			}
			if !pending || q.State == CommandQueued {
				out = append(out, q)
			}
			return nil
		})
	})
	return out, err
}

// WaitCommands returns the client's commands not acknowledged yet (as
// Commands does with pending): at once when it has some, else when one is
// queued, or after wait on the fleet's clock, or when ctx is done (then
// none). A long-poll of an agent for its commands is this call.
func (f *Fleet) WaitCommands(ctx context.Context, id string, wait time.Duration) ([]QueuedCommand, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Watch before looking, so that no command falls between the two.
	ch := f.store.Watch(ctx, commandsPrefix+id+"/")
	timeout := f.clk.After(wait)
	for {
		cmds, err := f.Commands(id, true)
		if err != nil || len(cmds) > 0 {
			return cmds, err
		}
		select {
		case <-ch:
		case <-timeout:
			return cmds, nil
		case <-ctx.Done():
			return cmds, nil
		}
	}
}

// Ack records the agent's result for the client's command: [CommandAccepted],
// or [CommandRefused] with a reason (else an [*afterhours.ValidationError]).
// An acknowledged command is never delivered again. The same result again is
// no change (the first reason stays); another one fails with [ErrConflict];
// an unknown command fails with [ErrNoCommand].
func (f *Fleet) Ack(client, command, result, reason string) (QueuedCommand, error) {
	var ps problems
	switch {
	case result != CommandAccepted && result != CommandRefused:
		ps.add("result", "want %q or %q", CommandAccepted, CommandRefused)
	case result == CommandRefused && reason == "":
		ps.add("reason", "required for a refusal")
	case result == CommandAccepted && reason != "":
		ps.add("reason", "only a refusal has a reason")
	}
	if len(reason) > 1024 {
		ps.add("reason", "longer than 1024 bytes")
	}
	if err := ps.err(); err != nil {
		return QueuedCommand{}, err
	}
	if _, err := f.Client(client); err != nil {
		return QueuedCommand{}, err
	}
	now := f.clk.Now().UTC()
	var q QueuedCommand
	err := f.store.Update(func(tx Tx) error {
		q = QueuedCommand{} // the function may run more than once
		if err := clientExists(tx, client); err != nil {
			return err
		}
		key := commandsPrefix + client + "/" + command
		data, err := tx.Get(key)
		if err != nil {
			return err
		}
		if data == nil {
			return fmt.Errorf("%w: client %q has no command %q", ErrNoCommand, client, command)
		}
		if err := json.Unmarshal(data, &q); err != nil {
			return fmt.Errorf("server: stored command %s: %w", key, err)
		}
		switch q.State {
		case result:
			return nil
		case CommandQueued:
		default:
			return fmt.Errorf("%w: command %q was %s before", ErrConflict, command, q.State)
		}
		q.State, q.Reason, q.Acked = result, reason, now
		if data, err = json.Marshal(q); err != nil {
			return err
		}
		if err := tx.Put(key, data); err != nil {
			return err
		}
		if err := pruneAcked(tx, client); err != nil {
			return err
		}
		return f.seen.write(tx, client, now)
	})
	if err != nil {
		return q, err
	}
	f.seen.set(client, now)
	return q, nil
}

// KeepAcked is how many acknowledged commands the server keeps per client,
// to list them with their results; older ones are deleted as others are
// acknowledged. Commands not acknowledged yet are always kept.
const KeepAcked = 100

// pruneAcked deletes in tx the client's acknowledged commands but the
// KeepAcked acknowledged last.
func pruneAcked(tx Tx, client string) error {
	type acked struct {
		key string
		at  time.Time
	}
	var list []acked
	err := tx.Scan(commandsPrefix+client+"/", func(k string, v []byte) error {
		var q QueuedCommand
		if err := json.Unmarshal(v, &q); err != nil {
			return fmt.Errorf("server: stored command %s: %w", k, err)
		}
		if q.State != CommandQueued {
			list = append(list, acked{k, q.Acked})
		}
		return nil
	})
	if err != nil || len(list) <= KeepAcked {
		return err
	}
	slices.SortStableFunc(list, func(a, b acked) int { return a.at.Compare(b.at) })
	for _, a := range list[:len(list)-KeepAcked] {
		if err := tx.Delete(a.key); err != nil {
			return err
		}
	}
	return nil
}
