package agentlink

import "errors"

// ErrUnauthorized is returned when the server answers 401 or 403: the
// token is wrong or revoked. The loop that met it stops; the executor is
// never stopped.
var ErrUnauthorized = errors.New("agentlink: unauthorized (bad or revoked token)")

// ErrUnknownClient is returned when the server answers 404 for the
// client: it was removed from the fleet. The loop that met it stops.
var ErrUnknownClient = errors.New("agentlink: client unknown to the server")

// ErrNoCredentials is returned by [LoadCredentials] when the store holds
// none: the agent has not enrolled yet.
var ErrNoCredentials = errors.New("agentlink: not enrolled")
