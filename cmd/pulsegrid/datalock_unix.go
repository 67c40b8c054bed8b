//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// pidOffset is where the lock file's pid starts.
const pidOffset = 0

// lockDataDir takes an exclusive lock on DIR/lock for as long as serve
// runs, so that a second serve on the same data directory is refused
// instead of running two grids on one database. The other subcommands
// (user, backup) do not take it: they work while serve runs. The lock is
// flock(2)'s, which the kernel drops when the process ends however it
// ends (kill -9 included): a stale lock file never blocks a restart.
func lockDataDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errDataDirInUse(dir, lockOwner(name))
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}

// dataDirLocked reports whether another process holds the lock of dir,
// without creating anything: serve asks it when its port is taken, to
// say that the other process is a serve of the same data directory.
func dataDirLocked(dir string) (owner string, locked bool) {
	name := filepath.Join(dir, lockName)
	f, err := os.Open(name)
	if err != nil {
		return "", false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return "", false
	}
	return lockOwner(name), errors.Is(err, syscall.EWOULDBLOCK)
}
