//go:build !unix && !windows

package main

import "os"

// lockDataDir only makes the directory where advisory file locks are not
// available: two serve processes on one data directory are not detected.
func lockDataDir(dir string) (release func(), err error) {
	return func() {}, os.MkdirAll(dir, 0o700)
}

// dataDirLocked cannot tell without advisory locks.
func dataDirLocked(string) (owner string, locked bool) { return "", false }

const pidOffset = 0
