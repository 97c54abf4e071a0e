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
// killswitch changes; it follows the fleet's killswitch (below); given a
// [Notifier] ([WithNotices]), it posts the executor's notices from their
// outbox in the store. Network errors and 5xx answers are retried with
// [Backoff]; the executor never stops because the server cannot be
// reached.
//
// # Killswitch
//
// The fourth loop follows the fleet's killswitch for the client (the server's
// GET /v1/agent/clients/{id}/killswitch long-poll). When it is on, the link
// calls [afterhours.Executor.Kill] with [KillReasonPrefix] and the server's
// reason, and keeps the executor killed: one resumed by anything else while
// the switch is on is killed again at once. When it is off, the link calls
// [afterhours.Executor.Resume], but only to undo its own kill: the link
// records the kill it made (the reason and time the executor's Status
// reports after it), and resumes only while the executor's kill is still
// that one. An executor the application killed itself (Kill called by the
// embedder, before the switch came on or after a Resume) is left killed
// when the switch goes off.
//
// The last state from the server and the kill the link made are saved in
// the executor's store under [KillSwitchKey] at each change, and
// [Link.Run] applies the saved state before it reaches the server: an
// agent restarted while the server is unreachable stays killed. The report
// loop posts a report at once when the executor is killed or resumed.
package agentlink
