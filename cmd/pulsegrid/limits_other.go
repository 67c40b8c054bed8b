//go:build !unix

package main

// volunteerCap is a fixed number of volunteer connections where the
// process has no file-descriptor limit to read.
func volunteerCap() int { return 10000 - fdReserve }
