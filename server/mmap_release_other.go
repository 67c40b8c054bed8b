//go:build !linux

package server

// releasePages is a no-op where madvise is not used (see the Linux one).
func releasePages([]byte) {}
