//go:build race

package main

// replicaAgents is the number of agents of the replicas' acceptance test
// under the race detector, which makes the test's own side (the agents,
// the balancer) about ten times slower: fewer agents, the same checks.
const replicaAgents = 100
