package main

import (
	"bytes"
	"fmt"
	"os"
)

// lockName is the lock file inside the data directory; it holds the pid
// of the serve that holds the lock, for the message of a refused one.
const lockName = "lock"

// lockOwner is " (pid N)" from the lock file, or "" when it names none.
// The pid starts at pidOffset: on Windows the first byte is the locked
// range, which another process cannot read.
func lockOwner(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, pidOffset)
	if pid := bytes.TrimSpace(b[:n]); len(pid) > 0 {
		return " (pid " + string(pid) + ")"
	}
	return ""
}

func errDataDirInUse(dir, owner string) error {
	return fmt.Errorf("another pulsegrid serve%s is using the data directory %s: stop it first, or give this one another --data", owner, dir)
}
