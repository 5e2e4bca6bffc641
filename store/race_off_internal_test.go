//go:build !race

package store

// RaceBuild: see race_on_internal_test.go.
const RaceBuild = false
