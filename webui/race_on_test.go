//go:build race

package webui_test

// raceBuild: the tests run under the race detector, where SQLite (C
// turned into Go, every memory access checked) is some 30 times slower.
const raceBuild = true
