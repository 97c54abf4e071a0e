//go:build !race

package e2e_test

// fleetSize is the number of agents of the simulated week: the 200.
const fleetSize = 200
