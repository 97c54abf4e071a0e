package fleet

import (
	"fmt"
	"strings"
	"time"

	"github.com/afterhours-go/afterhours"
)

// Client is a machine to give a slot to.
type Client struct {
	// ID names the client, as its profile's "client" does. IDs are unique.
	ID string
	// Site is where the client runs. It must be validated
	// ([afterhours.Site.Validate], or with its profile); it is only read.
	// Clients of one site should share one *Site, though equal sites are
	// recognised and computed once too.
	Site *afterhours.Site
	// LAN names the client's local network; "" for none.
	LAN string
}

// Resource is a shared resource whose slots [Allocate] hands out: a sharing
// token of the clients' profiles.
type Resource struct {
	// Token names the resource, as the "token" of a sharing entry.
	Token string
	// Zone is the zone bases are read in: "UTC" (the default: fleet-wide
	// resources such as a package repository) or "site" (each site's own
	// wall clock: local resources such as a site's LAN).
	Zone string
	// Duration is the slot's length; Buffer the length of the buffer zone
	// before it, in which the client starts no contending work.
	Duration, Buffer time.Duration
	// Capacity is the most clients in their slots at any instant: across
	// the fleet for a "UTC" resource, among the clients of one time zone
	// for a "site" resource. 0 means no limit.
	Capacity int
	// LANCapacity is the most clients of one LAN in their slots at any
	// instant, wherever the LAN's clients are. 0 means no limit.
	LANCapacity int
}

// Entry returns the sharing entry that gives a client the base, ready to
// go into its profile's Sharing with the tasks to run in the slot (and any
// Uses).
func (r Resource) Entry(base string) *afterhours.Token {
	return &afterhours.Token{
		Token:    r.Token,
		Base:     base,
		Zone:     r.zone(),
		Duration: afterhours.Duration(r.Duration),
		Buffer:   afterhours.Duration(r.Buffer),
	}
}

func (r Resource) zone() string {
	if r.Zone == "" {
		return "UTC"
	}
	return r.Zone
}

// Why a client has no base, or why its previous base was not kept: short
// words a program can match.
const (
	// ReasonNoWindow: no base keeps the slot inside the site's after-hours
	// windows on every date of the year (or, for a previous base, this one
	// no longer does).
	ReasonNoWindow = "no-window"
	// ReasonCapacity: every base that fits the windows is at capacity.
	ReasonCapacity = "capacity"
	// ReasonLANCapacity: every base that fits the windows and the fleet's
	// capacity is at the LAN's capacity.
	ReasonLANCapacity = "lan-capacity"
	// ReasonInvalidSite: the client has no site, or one not validated.
	ReasonInvalidSite = "invalid-site"
	// ReasonDuplicate: another client has the same ID; none of them is
	// placed.
	ReasonDuplicate = "duplicate-client"
	// ReasonNoID: the client has an empty ID.
	ReasonNoID = "no-id"
	// ReasonBadBase: the previous base is not an "HH:MM" time (a reason a
	// previous base was not kept; the client is placed as a new one).
	ReasonBadBase = "bad-base"
)

// Allocation is what [Allocate] decided.
type Allocation struct {
	// Resource is the resource allocated.
	Resource Resource
	// From and To bound the dates the allocation holds for: From to the day
	// before To, dates of the resource's zone.
	From, To afterhours.Date
	// Assigned lists the clients given a base, sorted by client ID.
	Assigned []Assignment
	// Unplaced lists the clients that could not be given one, sorted by
	// client ID.
	Unplaced []Unplaced
}

// Assignment is one client's base.
type Assignment struct {
	Client string
	// Base is the slot's start, "HH:MM" in the resource's zone.
	Base string
	// Kept is set when Base is the client's previous base.
	Kept bool
	// Moved says why the client's previous base was not kept (one of the
	// Reason constants); it is "" when it was kept or there was none.
	Moved string
	// HoldInWindow is set when the whole hold, buffer and slot, lies in
	// the windows on every date, not only the slot.
	HoldInWindow bool
}

// Unplaced is a client that could not be given a base.
type Unplaced struct {
	Client string
	// Reason is one of the Reason constants.
	Reason string
	// Detail says more, for a person.
	Detail string
}

// Bases returns the allocation as a map from client ID to base: the
// previous allocation of the next call.
func (a *Allocation) Bases() map[string]string {
	m := make(map[string]string, len(a.Assigned))
	for _, as := range a.Assigned {
		m[as.Client] = as.Base
	}
	return m
}

// Allocate gives each client a base time for the resource, for the year
// that starts on date from: the dates from to the day before the same date a
// year later (365 or 366 dates), read in the resource's zone. previous maps
// client IDs to the bases they had ("HH:MM"); it may be nil.
//
// # What a base guarantees
//
// A base is a whole minute, "HH:MM" in the resource's zone: UTC, or each
// site's own wall clock, where a time a DST change skips means the instant
// the gap moves it to and a repeated time its first occurrence (the rule the
// client plans its slots by). On each date the client's slot is [base,
// base+Duration) and its hold [base-Buffer, base+Duration). A base is given
// only if, on every date of the year, the slot lies inside the site's
// after-hours windows as [afterhours.Site.Cycle] computes them (business
// hours, closed dates and grace included). Every date is checked, so a UTC
// base holds through the weeks where a site's offset differs from the rest
// of the year: a site an hour further from UTC in summer offers the UTC
// minutes inside its windows in winter and in summer both. Windows that
// touch count as one (a slot may run past a kiosk's midnight); a slot that
// starts in the span of a cycle whose window is empty (no after hours at
// all that day) is not held to a window, the client voids it. Time outside
// business hours that is in no window is not after hours for this purpose:
// a lunch break, the grace, or the hours after a lone business interval
// (a night shift's morning after a closed date) that follow a cycle's
// window within its span. A base whose whole hold lies in the windows is
// preferred to one where only the slot does ([Assignment.HoldInWindow]).
//
// Capacity counts slots, not holds: the buffer is the client's own quiet
// time, the resource is used in the slot. At no instant are more than
// Capacity clients in their slots (for a "site" resource, no more than
// Capacity clients of one time zone), nor more than LANCapacity clients of
// one LAN. Counting is by instant over the year, DST days included; a slot
// occupies the minutes from its base to its base plus Duration rounded up
// to a minute.
//
// # How bases are chosen
//
// First, previous bases are kept when the base is an "HH:MM" time, still
// lies in the windows on every date of this year, fits the fleet's capacity
// beside the previous bases kept before it in ID order, and likewise its
// LAN's; otherwise the client is placed again, with [Assignment.Moved]
// saying why. The bases of an earlier allocation of the same resource fit
// together again, so adding or removing clients moves no other client;
// lowering a capacity moves the clients, latest IDs first, that no longer
// fit, and changing a site's hours those whose base left its windows.
//
// Then the new clients are placed, those with fewest possible bases first
// (then by ID), the clients of a LAN whose capacity needs counting
// together. Each goes to the base whose slot meets the fewest clients of
// the fleet at its busiest minute, then the fewest of its LAN, then the
// least load over its whole length; remaining ties go to the first such
// base after one drawn among the client's possible bases by a hash of its
// ID. So load spreads evenly over all of the available time instead of
// piling up at its start, and the busiest minute stays as low as the
// greedy order allows. A client no base fits is listed in
// [Allocation.Unplaced] with the reason.
//
// The result depends only on the arguments: not on the order of clients,
// nor on how many CPUs work on it. Sites are computed once each (equal
// sites once, and most of the work once for sites that differ only in
// their closed dates), in parallel. Allocate only reads its arguments and
// is safe for concurrent use. It returns an error wrapping
// [ErrInvalidResource] or [ErrInvalidPeriod] for a resource or date it
// cannot allocate for; problems of single clients are reported in Unplaced
// instead.
func Allocate(clients []Client, res Resource, from afterhours.Date, previous map[string]string) (*Allocation, error) {
	a, err := newAllocator(res, from)
	if err != nil {
		return nil, err
	}
	a.clients = clients
	batch, _ := a.add(clients, previous)
	return a.result(batch, false), nil
}

func (r Resource) validate() error {
	var msgs []string
	if r.Token == "" {
		msgs = append(msgs, "no token name")
	}
	switch r.Zone {
	case "", "UTC", "site":
	default:
		msgs = append(msgs, fmt.Sprintf("unknown zone %q: want \"UTC\" or \"site\"", r.Zone))
	}
	if r.Duration <= 0 {
		msgs = append(msgs, "duration must be positive")
	}
	if r.Buffer < 0 {
		msgs = append(msgs, "buffer must not be negative")
	}
	if r.Buffer+r.Duration > 24*time.Hour {
		msgs = append(msgs, "buffer and duration together exceed 24h")
	}
	if r.Capacity < 0 {
		msgs = append(msgs, "capacity must not be negative")
	}
	if r.LANCapacity < 0 {
		msgs = append(msgs, "LAN capacity must not be negative")
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%w %q: %s", ErrInvalidResource, r.Token, strings.Join(msgs, "; "))
	}
	return nil
}

// baseNames are the 1440 bases, "00:00" to "23:59".
var baseNames = func() (names [minutesPerDay]string) {
	for m := range names {
		names[m] = fmt.Sprintf("%02d:%02d", m/60, m%60)
	}
	return names
}()

// parseBase parses "HH:MM" into minutes of the day.
func parseBase(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}
