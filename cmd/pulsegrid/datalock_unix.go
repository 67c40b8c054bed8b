//go:build unix

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// lockDataDir takes an exclusive lock on DIR/lock for as long as serve
// runs, so that a second serve on the same data directory is refused
// instead of running two grids on one database. The other subcommands
// (user, backup) do not take it: they work while serve runs. The kernel
// drops the lock when the process ends, however it ends.
func lockDataDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	name := filepath.Join(dir, "lock")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner := ""
		if b, _ := os.ReadFile(name); len(bytes.TrimSpace(b)) > 0 {
			owner = " (pid " + string(bytes.TrimSpace(b)) + ")"
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another pulsegrid serve%s is using the data directory %s: stop it first, or give this one another --data", owner, dir)
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, nil
}
