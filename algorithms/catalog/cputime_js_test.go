//go:build js && wasm

package catalog

import "syscall/js"

// cpuNanos is the CPU time the process has used (node's
// process.cpuUsage: user and system, all of V8's threads), so that
// BenchmarkAlgorithms can report CPU time per run beside wall time on a
// machine whose cores are shared.
func cpuNanos() int64 {
	u := js.Global().Get("process").Call("cpuUsage")
	return int64(u.Get("user").Float()+u.Get("system").Float()) * 1000
}
