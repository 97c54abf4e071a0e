package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxKillReason is the longest reason of a killswitch, in bytes.
const MaxKillReason = 500

const (
	killPrefix    = "killswitch/"      // every switch
	killFleetKey  = "killswitch/fleet" // the fleet-wide switch
	killTagPrefix = "killswitch/tags/" // "killswitch/tags/<tag>"
)

// KillSwitch is a switch of the fleet's killswitch that is on: why, who
// turned it on (the role of the admin token, or what the embedding
// application passes) and since when, on the fleet's clock, in UTC.
type KillSwitch struct {
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	Since  time.Time `json:"since"`
}

// KillSwitches is the state of the fleet's killswitch: the fleet-wide
// switch (nil when off) and the switches that are on by site tag. A client
// is held when the fleet-wide switch is on or when any of its site's tags
// is switched on.
type KillSwitches struct {
	Fleet *KillSwitch           `json:"fleet"`
	Tags  map[string]KillSwitch `json:"tags"`
}

// ClientKill is the killswitch as one client sees it (GET
// /v1/agent/clients/{id}/killswitch): whether it is held, and by what. When
// several switches hold it, Reason and Since are the fleet-wide switch's,
// else those of the tag switched on first (ties by tag name).
//
//	{"on": true, "reason": "bad update", "since": "2026-11-24T12:00:00Z", "tags": ["uk"]}
type ClientKill struct {
	On     bool      `json:"on"`
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	// Fleet is set when the fleet-wide switch holds the client.
	Fleet bool `json:"fleet,omitempty"`
	// Tags are the client's site's tags switched on, sorted.
	Tags []string `json:"tags,omitempty"`
}

// checkKill returns the trimmed reason, or the problems of reason and tag
// (tag is checked unless fleetWide).
func checkKill(tag, reason string, fleetWide bool) (string, error) {
	var ps problems
	if !fleetWide {
		checkKillTag(&ps, tag)
	}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		ps.add("reason", "required: say why the fleet is stopped")
	case len(reason) > MaxKillReason:
		ps.add("reason", "longer than %d bytes", MaxKillReason)
	case !utf8.ValidString(reason):
		ps.add("reason", "not valid UTF-8")
	}
	return reason, ps.err()
}

// checkKillTag adds the problems of a site tag named by a switch: the
// same rules as a site's tags, and at most 200 bytes.
func checkKillTag(ps *problems, tag string) {
	switch {
	case tag == "":
		ps.add("tag", "required")
	case strings.HasPrefix(tag, "!"):
		ps.add("tag", "a site tag cannot start with '!'")
	case len(tag) > 200 || !utf8.ValidString(tag):
		ps.add("tag", "want valid UTF-8 of at most 200 bytes")
	}
}

// KillFleet turns the fleet-wide killswitch on, by the given role or
// person, with the reason (trimmed: required, at most [MaxKillReason]
// bytes; else an [*afterhours.ValidationError] with the path "reason").
// Turning on a switch that is on replaces its reason and By, and keeps its
// Since. Every client's agent then kills its executor, and keeps it killed
// until the switch is off. The switch is stored durably before KillFleet
// returns; it returns the switch as stored.
func (f *Fleet) KillFleet(reason, by string) (KillSwitch, error) {
	reason, err := checkKill("", reason, true)
	if err != nil {
		return KillSwitch{}, err
	}
	return f.putKill(killFleetKey, reason, by)
}

// KillTag turns on the killswitch of a site tag, as [Fleet.KillFleet]
// does for the fleet: every client whose site has the tag is held, now and
// whenever a site gets the tag later. The tag need not be used by a site
// yet; it must be one a site could have (not empty, not starting with '!',
// at most 200 bytes; else a problem with the path "tag").
func (f *Fleet) KillTag(tag, reason, by string) (KillSwitch, error) {
	reason, err := checkKill(tag, reason, false)
	if err != nil {
		return KillSwitch{}, err
	}
	return f.putKill(killTagPrefix+tag, reason, by)
}

func (f *Fleet) putKill(key, reason, by string) (KillSwitch, error) {
	now := f.clk.Now().UTC()
	var ks KillSwitch
	err := f.store.Update(func(tx Tx) error {
		ks = KillSwitch{Reason: reason, By: by, Since: now} // the function may run more than once
		old, err := tx.Get(key)
		if err != nil {
			return err
		}
		if old != nil {
			var o KillSwitch
			if err := json.Unmarshal(old, &o); err != nil {
				return fmt.Errorf("server: stored %s: %w", key, err)
			}
			ks.Since = o.Since
		}
		data, err := json.Marshal(ks)
		if err != nil {
			return err
		}
		return tx.Put(key, data)
	})
	if err != nil {
		return KillSwitch{}, err
	}
	return ks, nil
}

// ResumeFleet turns the fleet-wide killswitch off; the agents resume their
// executors unless a tag switch still holds their client. Turning off a
// switch that is off is no error.
func (f *Fleet) ResumeFleet() error { return f.deleteKill(killFleetKey) }

// ResumeTag turns the killswitch of a site tag off, as [Fleet.ResumeFleet]
// does for the fleet. Turning off a switch that is off is no error; a tag
// no site could have is a problem with the path "tag".
func (f *Fleet) ResumeTag(tag string) error {
	var ps problems
	checkKillTag(&ps, tag)
	if err := ps.err(); err != nil {
		return err
	}
	return f.deleteKill(killTagPrefix + tag)
}

func (f *Fleet) deleteKill(key string) error {
	return f.store.Update(func(tx Tx) error {
		old, err := tx.Get(key)
		if err != nil || old == nil {
			return err // off already: nothing to write, no watch woken
		}
		return tx.Delete(key)
	})
}

// KillSwitches returns the state of the fleet's killswitch.
func (f *Fleet) KillSwitches() (KillSwitches, error) {
	ks := KillSwitches{Tags: map[string]KillSwitch{}}
	err := f.store.View(func(tx Tx) error {
		return tx.Scan(killPrefix, func(k string, v []byte) error {
			var s KillSwitch
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("server: stored %s: %w", k, err)
			}
			if tag, ok := strings.CutPrefix(k, killTagPrefix); ok {
				ks.Tags[tag] = s
			} else if k == killFleetKey {
				ks.Fleet = &s
			}
			return nil
		})
	})
	if err != nil {
		return KillSwitches{}, err
	}
	return ks, nil
}

// holds returns what of ks holds a client whose site has the given tags.
func (ks KillSwitches) holds(siteTags []string) ClientKill {
	var ck ClientKill
	var first *KillSwitch
	firstTag := ""
	for _, t := range siteTags {
		s, ok := ks.Tags[t]
		if !ok {
			continue
		}
		ck.Tags = append(ck.Tags, t)
		if first == nil || s.Since.Before(first.Since) || s.Since.Equal(first.Since) && t < firstTag {
			first, firstTag = &s, t
		}
	}
	slices.Sort(ck.Tags)
	if ks.Fleet != nil {
		ck.Fleet = true
		first = ks.Fleet
	}
	if first != nil {
		ck.On, ck.Reason, ck.Since = true, first.Reason, first.Since
	}
	return ck
}

// siteTags returns the tags of the site of each client of ids (of every
// client when ids is nil); a client the fleet lacks is left out.
func (f *Fleet) siteTags(ids ...string) map[string][]string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := map[string][]string{}
	add := func(rec *clientRecord) {
		var tags []string
		if i := f.cfg.siteIndex(rec.Site); i >= 0 {
			tags = f.cfg.sites[i].tags
		}
		out[rec.ID] = tags
	}
	if ids == nil {
		for _, rec := range f.clients {
			add(rec)
		}
	}
	for _, id := range ids {
		if rec := f.clients[id]; rec != nil {
			add(rec)
		}
	}
	return out
}

// ClientKill returns the killswitch as the client of the given ID sees it,
// and its ETag (a quoted hash: the same state, the same ETag). It fails
// with an error wrapping [ErrNoClient] for a client the fleet lacks.
func (f *Fleet) ClientKill(id string) (ClientKill, string, error) {
	ks, err := f.KillSwitches()
	if err != nil {
		return ClientKill{}, "", err
	}
	tags, ok := f.siteTags(id)[id]
	if !ok {
		return ClientKill{}, "", fmt.Errorf("%w: %q", ErrNoClient, id)
	}
	ck := ks.holds(tags)
	data, err := json.Marshal(ck)
	if err != nil {
		return ClientKill{}, "", err
	}
	sum := sha256.Sum256(data)
	return ck, `"` + hex.EncodeToString(sum[:16]) + `"`, nil
}

// WaitClientKill returns the killswitch as the client sees it (as
// [Fleet.ClientKill] does) once its ETag differs from etag: at once when
// it already does, else when a switch, the config (a site's tags) or the
// client's record changes it, or after wait on the fleet's clock, or when
// ctx is done; changed reports whether the ETag differs. An agent's
// long-poll for its killswitch is this call.
func (f *Fleet) WaitClientKill(ctx context.Context, id, etag string, wait time.Duration) (ck ClientKill, newTag string, changed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Watch before looking, so that no change falls between the two.
	sw := f.store.Watch(ctx, killPrefix)
	timeout := f.clk.After(wait)
	for {
		// Wait before looking, so that no change falls between the two.
		cfg, rec := f.bell.wait(id)
		ck, newTag, err = f.ClientKill(id)
		if err != nil || newTag != etag {
			return ck, newTag, err == nil, err
		}
		select {
		case <-sw:
		case <-cfg:
		case <-rec:
		case <-timeout:
			return ck, newTag, false, nil
		case <-ctx.Done():
			return ck, newTag, false, nil
		}
	}
}

// KilledClients returns the IDs of the clients the killswitch holds,
// sorted.
func (f *Fleet) KilledClients() ([]string, error) {
	ks, err := f.KillSwitches()
	if err != nil {
		return nil, err
	}
	return f.killedBy(ks), nil
}

// killedBy returns the IDs of the clients ks holds, sorted.
func (f *Fleet) killedBy(ks KillSwitches) []string {
	ids := []string{}
	for id, tags := range f.siteTags() {
		if ks.holds(tags).On {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// markKilled sets KillSwitch in each line of st.
func (f *Fleet) markKilled(st []ClientStatus) error {
	ks, err := f.KillSwitches()
	if err != nil {
		return err
	}
	if ks.Fleet == nil && len(ks.Tags) == 0 {
		return nil
	}
	tags := f.siteTags()
	for i := range st {
		st[i].KillSwitch = ks.holds(tags[st[i].Client]).On
	}
	return nil
}
