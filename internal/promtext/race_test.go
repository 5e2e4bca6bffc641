//go:build race

package promtext

// raceEnabled: the race detector makes allocations of its own.
const raceEnabled = true
