//go:build !linux

package promtext

// collectProcess supplies nothing: only Linux has the /proc it reads.
func collectProcess(*Scrape, *processFamilies) {}
