package grid

// Credit is granted by the server, not claimed: each agreeing replica of a
// verified chunk gets the same amount, the server's estimate of the CPU
// time the chunk takes — its payload size times the algorithm's measured
// cost per byte on the server's own trusted workers (a default until they
// have run one). What a volunteer reports as cpu_ms is kept as a statistic
// only, capped by the lease's wall time.

// defaultCostPerByte is the native CPU time per payload byte before any
// measurement, in µs: ecg.beats takes about 5.7 ms for a 45 KB chunk
// (docs/benchmarks.md).
const defaultCostPerByte = 0.125

type cost struct{ usPerByte float64 }

// creditLocked is the credit, in µs of CPU time, for a chunk of n payload bytes.
func (g *Grid) creditLocked(alg string, n int) int64 {
	c := g.costs[alg]
	per := defaultCostPerByte
	if c != nil {
		per = c.usPerByte
	}
	return int64(per * float64(n))
}

// measureCostLocked learns an algorithm's cost from a trusted worker's run.
func (g *Grid) measureCostLocked(alg string, n int, cpuMS float64) {
	if n <= 0 || cpuMS <= 0 {
		return
	}
	per := cpuMS * 1000 / float64(n)
	c := g.costs[alg]
	if c == nil {
		g.costs[alg] = &cost{per}
		return
	}
	c.usPerByte = 0.9*c.usPerByte + 0.1*per
}
