package csvlog

import (
	"io"
	"slices"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/internal/blocks"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Stream is a CSV log read in blocks, for logs too long to hold whole (a
// 24-hour ECG exported as CSV is about a gigabyte of text). Open reads the
// rows once to check them and infer the sample rate, keeping no samples;
// Next reads them again and places them on the grid block by block. The
// blocks, joined, are Read's samples bit for bit.
type Stream struct {
	// Recording is Read's recording without samples.
	Recording *signal.Recording
	sc        *scanner // the second reading
	rate, t0  float64
	n         int64 // samples per channel
	pos       int64 // the next sample to hand out
	pending   bool  // a row read but not yet placed
	pIdx      int
	pValues   []float64
	prevIdx   int
	prevLine  int
	lengths   []int64
	out       [][]float64
}

// Open checks a CSV log as Read does, without keeping its samples, and
// returns a Stream of them. Everything Read reports is reported here,
// so Next does not fail. It reads the file twice (three times when
// duplicate times are rejected, to find rows that fall on one sample).
func Open(name string, data []byte, opt Options) (*Stream, error) {
	sc, err := newScanner(name, data, opt, opt.OnDrop)
	if err != nil {
		return nil, err
	}
	// First reading: the checks and the timeline, keeping no rows.
	var tl timeline
	for {
		line, t, _, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := tl.add(sc, line, t); err != nil {
			return nil, err
		}
	}
	rate, n, err := sc.grid(&tl)
	if err != nil {
		return nil, err
	}
	t0 := tl.t0
	if opt.Duplicates == RejectDuplicates {
		if err := checkCollisions(name, data, opt, t0, rate); err != nil {
			return nil, err
		}
	}
	rec := sc.recording()
	for _, c := range sc.channels {
		c.Rate = rate
		rec.Signal.Channels = append(rec.Signal.Channels, c)
	}
	// The second reading is Next's; it reports no duplicate time again.
	again, err := newScanner(name, data, opt, nil)
	if err != nil {
		return nil, err
	}
	s := &Stream{Recording: rec, sc: again, rate: rate, t0: t0, n: int64(n), prevIdx: -1}
	s.lengths = make([]int64, len(rec.Signal.Channels))
	for i := range s.lengths {
		s.lengths[i] = s.n
	}
	s.out = make([][]float64, len(rec.Signal.Channels))
	return s, nil
}

// checkCollisions reads the rows once more to find two that fall on one
// sample of the grid, which RejectDuplicates refuses.
func checkCollisions(name string, data []byte, opt Options, t0, rate float64) error {
	sc, err := newScanner(name, data, opt, nil)
	if err != nil {
		return err
	}
	prevIdx, prevLine := -1, 0
	for {
		line, t, _, err := sc.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		idx := gridIndex(t, t0, rate)
		if idx == prevIdx {
			return sc.collision(line, idx, rate, prevLine)
		}
		prevIdx, prevLine = idx, line
	}
}

// Lengths returns the samples of each channel (all the same).
func (s *Stream) Lengths() []int64 { return s.lengths }

// Next returns the next block of every channel (the slices are reused by
// the next call), or nil and io.EOF after the last.
func (s *Stream) Next() ([][]float64, error) {
	if s.pos >= s.n {
		return nil, io.EOF
	}
	frames := int64(max(1, blocks.Size/len(s.out)))
	end := min(s.pos+frames, s.n)
	for k := range s.out {
		s.out[k] = slices.Grow(s.out[k][:0], int(end-s.pos))[:end-s.pos]
		for j := range s.out[k] {
			s.out[k][j] = signal.Missing
		}
	}
	for {
		if !s.pending {
			line, t, values, err := s.sc.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err // Open read the same rows without error
			}
			idx := gridIndex(t, s.t0, s.rate)
			if idx == s.prevIdx {
				if err := s.sc.collision(line, idx, s.rate, s.prevLine); err != nil {
					return nil, err
				}
				continue
			}
			s.pending, s.pIdx, s.pValues = true, idx, values
			s.prevIdx, s.prevLine = idx, line
		}
		if int64(s.pIdx) >= end {
			break
		}
		for k := range s.out {
			s.out[k][int64(s.pIdx)-s.pos] = s.pValues[k]
		}
		s.pending = false
	}
	s.pos = end
	return s.out, nil
}
