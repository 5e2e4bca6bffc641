//go:build !race

package webui_test

// raceBuild: see race_on_test.go.
const raceBuild = false
