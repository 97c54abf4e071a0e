// Package agentlink connects an agent's [afterhours.Executor] to a fleet
// server (package server).
//
// [Enroll] trades a one-time code for [Credentials], which
// [SaveCredentials] keeps in the executor's own [afterhours.Store] under
// [CredentialsKey]: with an [afterhours.FileStore] that is a file of mode
// 0600, written atomically, in the state directory the executor locks.
//
// A [Link] runs loops: it long-polls the client's profile (with its
// ETag) and applies each new one with [afterhours.Executor.Update], keeping
// the last good one in the store ([LastProfile]) so that a restart without
// a network runs from it; it long-polls the commands, submits each to the
// executor and acknowledges it only after Submit returned; it posts a
// cycle report when a cycle closes, on a new failure and when the
// killswitch changes; given a [Notifier] ([WithNotices]), it posts the
// executor's notices from their outbox in the store. Network errors and 5xx answers are retried with
// [Backoff]; the executor never stops because the server cannot be
// reached.
package agentlink
