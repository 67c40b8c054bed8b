package formats

import (
	"io"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/csvlog"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/edf"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/internal/blocks"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Stream is a recording opened by Open: everything but the samples, which
// Next yields block by block.
type Stream struct {
	// Recording holds everything but the samples: each Channel has its
	// Name, Unit, Rate and Gain, and Samples nil; Identity (FileNames
	// included), Annotations and AnnotationRate are as ReadWith gives them.
	Recording *signal.Recording
	blocks    blockReader
}

// blockReader is what the format packages' streams have in common.
type blockReader interface {
	Next() ([][]float64, error)
	Lengths() []int64
}

// Next returns the next samples of every channel: out[i] continues channel
// i, so that the blocks of channel i, joined, are ReadWith's
// Channels[i].Samples bit for bit. Lengths differ between channels at
// different rates and between calls; a block holds about 2^16 samples in
// all, over about the same stretch of time on every channel. After the last
// block Next returns nil and io.EOF. The slices are the Stream's own and
// are overwritten by the next call: copy what must be kept.
func (s *Stream) Next() ([][]float64, error) { return s.blocks.Next() }

// Lengths returns the number of samples of each channel, known from the
// headers before any block is read: what the blocks of channel i add up
// to. The slice is the Stream's own; do not modify it.
func (s *Stream) Lengths() []int64 { return s.blocks.Lengths() }

// collect reads the rest of the stream into the Recording's channels.
func (s *Stream) collect() (*signal.Recording, error) {
	chans := s.Recording.Signal.Channels
	if c, ok := s.blocks.(*csvBlocks); ok {
		for i := range chans {
			chans[i].Samples = c.samples[i]
		}
		return s.Recording, nil
	}
	if err := blocks.Collect(chans, s.Lengths(), s.Next); err != nil {
		return nil, err
	}
	return s.Recording, nil
}

// openEDF opens an EDF, EDF+ or BDF file.
func openEDF(f File) (*Stream, error) {
	s, err := edf.Open(f.Name, f.Data)
	if err != nil {
		return nil, err
	}
	return &Stream{Recording: s.Recording, blocks: s}, nil
}

// streamCSVLog opens a CSV log as csvlog's Stream: checked in one reading
// that keeps no samples, placed on the grid block by block in another.
func streamCSVLog(f File, opt csvlog.Options) (*Stream, error) {
	s, err := csvlog.Open(f.Name, f.Data, opt)
	if err != nil {
		return nil, err
	}
	return &Stream{Recording: s.Recording, blocks: s}, nil
}

// openCSV parses a CSV log whole and hands its samples out in blocks:
// ReadWith's way, which keeps them anyway.
func openCSV(f File, opt csvlog.Options) (*Stream, error) {
	rec, err := csvlog.Read(f.Name, f.Data, opt)
	if err != nil {
		return nil, err
	}
	c := &csvBlocks{}
	per := make([]int64, len(rec.Signal.Channels))
	srcs := make([]blocks.Source, len(rec.Signal.Channels))
	for i := range rec.Signal.Channels {
		ch := &rec.Signal.Channels[i]
		c.samples = append(c.samples, ch.Samples)
		c.lengths = append(c.lengths, int64(len(ch.Samples)))
		per[i], srcs[i] = 1, &blocks.Slice{S: ch.Samples}
		ch.Samples = nil
	}
	c.cut = blocks.NewCutter(per)
	c.cut.Reset(c.lengths, srcs)
	return &Stream{Recording: rec, blocks: c}, nil
}

// csvBlocks hands out the samples of a parsed CSV log in blocks.
type csvBlocks struct {
	samples [][]float64
	lengths []int64
	cut     *blocks.Cutter
}

func (c *csvBlocks) Lengths() []int64 { return c.lengths }

func (c *csvBlocks) Next() ([][]float64, error) {
	if out := c.cut.Next(); out != nil {
		return out, nil
	}
	return nil, io.EOF
}
