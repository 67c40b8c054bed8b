// Package blockstest holds what the streaming tests of formats, wfdb and
// edf share: setting the block size and reading a stream to its end while
// checking its blocks.
package blockstest

import (
	"io"
	"runtime"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/internal/blocks"
)

// SetSize sets the block size for the rest of the test.
func SetSize(tb testing.TB, n int) {
	tb.Helper()
	saved := blocks.Size
	blocks.Size = n
	tb.Cleanup(func() { blocks.Size = saved })
}

// Stream is what every format's stream offers.
type Stream interface {
	Next() ([][]float64, error)
	Lengths() []int64
}

// Collect reads a stream of the given number of channels to its end into
// one slice per channel, checking that every block has every channel and
// is not much larger than the block size, that the end is io.EOF without a
// block (and stays so), and that the blocks add up to Lengths.
func Collect(tb testing.TB, s Stream, channels int) [][]float64 {
	tb.Helper()
	out := make([][]float64, channels)
	for {
		block, err := s.Next()
		if err == io.EOF {
			if block != nil {
				tb.Fatal("Next returned a block with io.EOF")
			}
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if len(block) != len(out) {
			tb.Fatalf("block of %d channels, want %d", len(block), len(out))
		}
		total := 0
		for i, b := range block {
			out[i] = append(out[i], b...)
			total += len(b)
		}
		if total == 0 || total > 2*blocks.Size+len(out) {
			tb.Fatalf("block of %d samples with block size %d and %d channels", total, blocks.Size, len(out))
		}
	}
	if _, err := s.Next(); err != io.EOF {
		tb.Fatalf("Next after the end: got %v, want io.EOF", err)
	}
	for i, n := range s.Lengths() {
		if int64(len(out[i])) != n {
			tb.Fatalf("channel %d: blocks add up to %d samples, Lengths says %d", i, len(out[i]), n)
		}
	}
	return out
}

// Allocated is how many bytes of heap f allocated.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Drain reads a stream to its end without keeping it and returns how many
// samples it had, and how many of them were missing.
func Drain(tb testing.TB, s Stream) (samples, missing int64) {
	tb.Helper()
	for {
		block, err := s.Next()
		if err == io.EOF {
			return samples, missing
		}
		if err != nil {
			tb.Fatal(err)
		}
		for _, b := range block {
			samples += int64(len(b))
			for _, v := range b {
				if v != v {
					missing++
				}
			}
		}
	}
}
