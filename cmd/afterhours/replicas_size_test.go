//go:build !race

package main

// replicaAgents is the number of agents of the replicas' acceptance test.
const replicaAgents = 1000
