// Package e2e holds the end-to-end acceptance test of the fleet server and
// the agent link (issue 12): a server on the bbolt store behind the real
// HTTP stack, 200 agents (100 under the race detector), each an
// [afterhours.Executor] joined to the server by an agentlink.Link, in
// three zones, one manual clock shared by all of them, a week simulated
// with commands and a server restart midway, and the checks of what the
// agents did and what they reported. It has no code of its own: everything
// is in its tests (TestWeekOfFleet, and the tests of the harness: the
// clock, the tracking of requests, the reading of goroutine states).
package e2e
