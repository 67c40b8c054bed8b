package pipeline

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// LocalOptions tune RunLocal.
type LocalOptions struct {
	Split SplitOptions
	// Workers is the number of chunks computed at once; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, is called after each chunk with chunks done of total.
	Progress func(done, total int)
}

// RunLocal runs an algorithm on this machine: Split, Run every chunk (in
// parallel), Merge. It is the reference that grid results must equal.
func RunLocal(ctx context.Context, alg Algorithm, chunks []Chunk, params []byte, opt LocalOptions) (Result, error) {
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	outs := make([][]byte, len(chunks))
	errs := make([]error, len(chunks))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range min(workers, max(len(chunks), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				outs[i], errs[i] = alg.Run(&chunks[i].Task, NoYield{Ctx: ctx})
				if opt.Progress != nil {
					mu.Lock()
					done++
					opt.Progress(done, len(chunks))
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range chunks {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	parts := make([]Part, len(chunks))
	for i := range chunks {
		if errs[i] != nil {
			return nil, fmt.Errorf("chunk %d: %w", i, errs[i])
		}
		parts[i] = Part{Spec: chunks[i].Spec, Output: outs[i]}
	}
	return alg.Merge(params, parts)
}
