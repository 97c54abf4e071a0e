package server

import "errors"

// ErrNoClient is returned for a client ID the fleet does not have.
var ErrNoClient = errors.New("server: no such client")

// ErrBadClient is returned by [Fleet.Register] for a client whose ID, site
// or LAN is not acceptable; the error says which and why.
var ErrBadClient = errors.New("server: invalid client")

// ErrBadCode is returned by [Fleet.Enroll] for an enrolment code that is
// unknown or already used.
var ErrBadCode = errors.New("server: unknown or used enrolment code")

// ErrBadToken is returned by [Fleet.Authenticate] for a client token that is
// unknown (never issued, or its client removed).
var ErrBadToken = errors.New("server: unknown client token")

// ErrReadOnly is returned by [Tx.Put] and [Tx.Delete] in a transaction of
// [Store.View].
var ErrReadOnly = errors.New("server: read-only transaction")

// ErrClosed is returned by a [Store] used after Close.
var ErrClosed = errors.New("server: store closed")

// ErrBadAdminToken is returned by [New] for an admin token given with
// [WithAdminToken] that is too short or has an unknown role.
var ErrBadAdminToken = errors.New("server: invalid admin token")

// ErrNoCommand is returned for a command ID a client does not have.
var ErrNoCommand = errors.New("server: no such command")

// ErrConflict is returned for a change that contradicts what is stored: a
// command ID queued before with another command, or an acknowledgement
// whose result differs from the first one.
var ErrConflict = errors.New("server: conflicts with what is stored")

// ErrWebhookStatus is returned by [Webhook.Notify] when the receiver
// answers other than 2xx.
var ErrWebhookStatus = errors.New("server: webhook answered other than 2xx")
