//go:build !(js && wasm)

package catalog

import "syscall"

// cpuNanos is the CPU time the process has used (user and system, all
// threads), so that BenchmarkAlgorithms can report CPU time per run
// beside wall time on a machine whose cores are shared.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
