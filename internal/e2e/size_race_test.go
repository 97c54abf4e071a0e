//go:build race

package e2e_test

// fleetSize is the number of agents of the simulated week under the race
// detector, which makes everything about ten times slower: fewer agents,
// the same week, the same checks.
const fleetSize = 100
