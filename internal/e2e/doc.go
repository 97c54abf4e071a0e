// Package e2e holds the end-to-end acceptance test of the fleet server and
// the agent link (issue 12): a server on the bbolt store behind the real
// HTTP stack, 200 agents (an [afterhours.Executor] joined to it by an
// agentlink.Link each) in three zones, one manual clock shared by all of
// them, a week simulated with a server restart midway, and the checks of
// what the agents did and reported. It has no code of its own: everything
// is in its tests.
package e2e
