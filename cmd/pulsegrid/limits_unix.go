//go:build unix

package main

import "syscall"

// volunteerCap is how many volunteer connections the process can hold
// without running out of file descriptors for everything else.
func volunteerCap() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 {
		return 10000
	}
	// Raise the soft limit to the hard one: it costs nothing.
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			lim = raised
		}
	}
	return max(int(lim.Cur)-fdReserve, int(lim.Cur)/2)
}
