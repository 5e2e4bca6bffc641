//go:build !race

package promtext

const raceEnabled = false
