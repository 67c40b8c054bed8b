// Package blocks cuts the channels of a recording into blocks of samples
// that cover about the same stretch of time on every channel, for the
// streaming readers of package formats and its subpackages.
//
// A reader describes each channel by how many samples it has per unit of
// its file's layout (a WFDB frame, an EDF data record, a CSV row) and how
// many samples it has in all, and hands a Source per channel that writes
// the channel's samples in order. A Cutter then asks every Source for the
// next range of its channel, so that a block holds about Size samples in
// all: whole units when a unit is smaller than that, otherwise equal parts
// of one unit.
package blocks

import (
	"io"
	"math/bits"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Size is how many samples (all channels together) a block aims at. Tests
// lower it to exercise block boundaries; a Cutter reads it when it is made.
var Size = 1 << 16

// Source writes a channel's samples in order: each Fill continues where the
// previous one stopped.
type Source interface {
	Fill(dst []float64)
}

// Cutter hands out the blocks of a run of units in which every channel
// reads from one Source.
type Cutter struct {
	per   []uint64 // samples per unit of each channel
	parts uint64   // parts a unit is cut into (1 when a unit fits a block)
	step  uint64   // parts per block
	n     []int64  // samples of each channel in the run
	srcs  []Source
	q     uint64      // position in parts
	bufs  [][]float64 // grown on demand, so that a short recording takes little
	out   [][]float64
}

// NewCutter prepares blocks for channels with per[i] samples per unit
// (at least 1). Call Reset before the first Next.
func NewCutter(per []int64) *Cutter {
	c := &Cutter{per: make([]uint64, len(per)), out: make([][]float64, len(per)), bufs: make([][]float64, len(per))}
	var sum uint64
	for i, p := range per {
		c.per[i] = uint64(max(p, 1))
		sum += c.per[i]
	}
	size := uint64(max(Size, 1))
	c.parts = 1
	if sum > size {
		c.parts = (sum + size - 1) / size
	}
	hi, lo := bits.Mul64(size, c.parts)
	if hi == 0 && sum > 0 {
		c.step = max(lo/sum, 1)
	} else {
		c.step = 1
	}
	return c
}

// Reset starts a run in which channel i has n[i] samples, read from
// srcs[i]. The Cutter keeps both slices until the next Reset.
func (c *Cutter) Reset(n []int64, srcs []Source) {
	c.n, c.srcs, c.q = n, srcs, 0
}

// bound is the first sample of channel i at part q: ⌊q·per/parts⌋,
// computed without overflow.
func (c *Cutter) bound(q uint64, i int) int64 {
	hi, lo := bits.Mul64(q, c.per[i])
	if hi >= c.parts {
		return 1<<63 - 1
	}
	v, _ := bits.Div64(hi, lo, c.parts)
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

// Next returns the next block of the run: out[i] continues channel i. It
// returns nil when every channel is exhausted. The slices are the
// Cutter's own and are overwritten by the next call.
func (c *Cutter) Next() [][]float64 {
	for {
		done, total := true, 0
		for i := range c.n {
			from := min(c.bound(c.q, i), c.n[i])
			to := min(c.bound(c.q+c.step, i), c.n[i])
			if from < c.n[i] {
				done = false
			}
			if int64(cap(c.bufs[i])) < to-from {
				// A channel's range in one block is at most ⌈step·per/parts⌉
				// samples; a short run needs less.
				c.bufs[i] = make([]float64, max(to-from, min(c.bound(c.step, i)+1, c.n[i])))
			}
			c.out[i] = c.bufs[i][:to-from]
			total += int(to - from)
		}
		if done {
			return nil
		}
		c.q += c.step
		if total == 0 {
			continue
		}
		for i, b := range c.out {
			if len(b) > 0 {
				c.srcs[i].Fill(b)
			}
		}
		return c.out
	}
}

// Missing is a Source of missing samples (NaN).
type Missing struct{}

// Fill implements Source.
func (Missing) Fill(dst []float64) {
	for i := range dst {
		dst[i] = signal.Missing
	}
}

// Slice is a Source that copies out samples held in memory.
type Slice struct{ S []float64 }

// Fill implements Source.
func (s *Slice) Fill(dst []float64) {
	n := copy(dst, s.S)
	s.S = s.S[n:]
}

// Collect reads the rest of a stream (next, with lengths samples per
// channel) into chans' Samples: how the whole-file readers are the
// streaming ones with every block kept.
func Collect(chans []signal.Channel, lengths []int64, next func() ([][]float64, error)) error {
	for i, n := range lengths {
		chans[i].Samples = make([]float64, 0, n)
	}
	for {
		block, err := next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		for i, b := range block {
			chans[i].Samples = append(chans[i].Samples, b...)
		}
	}
}
