//go:build windows

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/windows"
)

// lockDataDir takes an exclusive LockFileEx lock on DIR/lock for as long
// as serve runs, as flock does on Unix: Windows drops it when the process
// ends however it ends, so a stale lock file never blocks a restart.
func lockDataDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f, windows.LOCKFILE_EXCLUSIVE_LOCK); err != nil {
		f.Close()
		if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return nil, errDataDirInUse(dir, lockOwner(name))
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	// The pid goes past the locked byte range, which other processes
	// could not read otherwise.
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), pidOffset)
	return func() { f.Close() }, nil
}

// lockedBytes is the range locked; the pid follows it.
const (
	lockedBytes = 1
	pidOffset   = lockedBytes
)

func lockFile(f *os.File, flags uint32) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()), flags|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, lockedBytes, 0, &ol)
}

// dataDirLocked reports whether another process holds the lock of dir.
func dataDirLocked(dir string) (owner string, locked bool) {
	name := filepath.Join(dir, lockName)
	f, err := os.Open(name)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if err := lockFile(f, 0); err != nil {
		return lockOwner(name), errors.Is(err, windows.ERROR_LOCK_VIOLATION)
	}
	var ol windows.Overlapped
	windows.UnlockFileEx(windows.Handle(f.Fd()), 0, lockedBytes, 0, &ol)
	return "", false
}
