//go:build race

package store

// RaceBuild: the tests run under the race detector, which makes SQLite
// (C turned into Go, every memory access checked) some 30 times slower.
const RaceBuild = true
