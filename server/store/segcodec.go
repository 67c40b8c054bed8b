package store

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
)

// The stored form of one segment of one channel. Recorders store integers
// (ADC units) and readers turn them into physical values as
// float64(k)/gain, so most segments are stored back as those integers,
// delta-coded in varints: a 24-hour ECG takes about the size of its .dat
// file instead of eight bytes per sample. Where that does not give back
// every value bit for bit (EDF's affine scaling, decimals without a gain),
// a segment with few distinct values (any quantised recording: a 16-bit
// EDF has at most 65,536) is stored as a sorted palette of its values and
// delta-coded ranks into it, which a monotonic scaling makes as small as
// the ADC deltas; anything else as raw float64. Every decode equals what
// was encoded, with NaN (missing) and signed zero made canonical as
// everywhere else (canon.Float64Bits).
const (
	segRaw     = 0 // uvarint n, then n little-endian float64 bits
	segScaled  = 1 // float64 gain, uvarint n, then n uvarints: 0 missing, else zigzag(k−previous k)+1
	segPalette = 2 // uvarint m, m float64 bits ascending, uvarint n, then n uvarints: 0 missing, else zigzag(rank−previous rank)+1
)

// encodeSegment appends the stored form of samples to dst.
func encodeSegment(dst []byte, samples []float64, gain float64) []byte {
	if b, ok := encodeScaled(dst, samples, gain); ok {
		return b
	}
	if b, ok := encodePalette(dst, samples); ok {
		return b
	}
	dst = append(dst, segRaw)
	dst = binary.AppendUvarint(dst, uint64(len(samples)))
	for _, v := range samples {
		dst = binary.LittleEndian.AppendUint64(dst, canon.Float64Bits(v))
	}
	return dst
}

// maxExactInt bounds the integers of the scaled form: beyond 2^53 float64
// no longer holds every integer.
const maxExactInt = 1 << 53

func encodeScaled(dst []byte, samples []float64, gain float64) ([]byte, bool) {
	if !(gain > 0) || math.IsInf(gain, 0) {
		return nil, false
	}
	start := len(dst)
	dst = append(dst, segScaled)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(gain))
	dst = binary.AppendUvarint(dst, uint64(len(samples)))
	var prev int64
	for _, v := range samples {
		if v != v {
			dst = append(dst, 0)
			continue
		}
		f := math.Round(v * gain)
		if !(math.Abs(f) < maxExactInt) {
			return dst[:start], false
		}
		k := int64(f)
		// Neither side is NaN here, so == is Float64Bits equality (both
		// zeros are one canonical zero).
		if float64(k)/gain != v {
			return dst[:start], false
		}
		dst = appendDelta(dst, k, prev)
		prev = k
	}
	return dst, true
}

// encodePalette stores samples as ranks into their sorted distinct values,
// when there are few enough of them for that to pay.
func encodePalette(dst []byte, samples []float64) ([]byte, bool) {
	values := make([]float64, 0, len(samples))
	for _, v := range samples {
		if v == v {
			values = append(values, math.Float64frombits(canon.Float64Bits(v)))
		}
	}
	slices.Sort(values)
	values = slices.Compact(values)
	// A palette entry costs 8 bytes; a rank saves about 6 per sample.
	if len(values) == 0 || 8*len(values) > 4*len(samples) {
		return nil, false
	}
	dst = append(dst, segPalette)
	dst = binary.AppendUvarint(dst, uint64(len(values)))
	for _, v := range values {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
	}
	dst = binary.AppendUvarint(dst, uint64(len(samples)))
	var prev int64
	for _, v := range samples {
		if v != v {
			dst = append(dst, 0)
			continue
		}
		r, _ := slices.BinarySearch(values, math.Float64frombits(canon.Float64Bits(v)))
		dst = appendDelta(dst, int64(r), prev)
		prev = int64(r)
	}
	return dst, true
}

// decodeSegment appends the samples of one stored segment to dst. at names
// the segment in errors.
func decodeSegment(dst []float64, b []byte, at string) ([]float64, error) {
	if len(b) == 0 {
		return dst, fmt.Errorf("segment %s: empty", at)
	}
	mode, b := b[0], b[1:]
	var gain float64
	var palette []byte // m float64s
	switch mode {
	case segScaled:
		if len(b) < 8 {
			return dst, fmt.Errorf("segment %s: truncated gain", at)
		}
		gain, b = math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:]
	case segPalette:
		m, w := binary.Uvarint(b)
		if w <= 0 || m == 0 || m > SegmentSamples || uint64(len(b)-w) < 8*m {
			return dst, fmt.Errorf("segment %s: bad palette", at)
		}
		palette, b = b[w:w+8*int(m)], b[w+8*int(m):]
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || n > SegmentSamples {
		return dst, fmt.Errorf("segment %s: bad sample count", at)
	}
	b = b[w:]
	switch mode {
	case segRaw:
		if uint64(len(b)) != 8*n {
			return dst, fmt.Errorf("segment %s: %d bytes for %d raw samples, want %d", at, len(b), n, 8*n)
		}
		for i := range int(n) {
			dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
		return dst, nil
	case segPalette:
		m := int64(len(palette) / 8)
		return decodeDeltas(dst, b, int(n), at, func(r int64) (float64, error) {
			if r < 0 || r >= m {
				return 0, fmt.Errorf("rank %d outside the palette of %d", r, m)
			}
			return math.Float64frombits(binary.LittleEndian.Uint64(palette[8*r:])), nil
		})
	case segScaled:
		return decodeScaled(dst, b, int(n), gain, at)
	}
	return dst, fmt.Errorf("segment %s: unknown mode %d", at, mode)
}

// appendDelta appends one sample of the delta-coded forms: 0 for a missing
// one, else zigzag(k − previous k) + 1.
func appendDelta(dst []byte, k, prev int64) []byte {
	d := k - prev
	u := uint64(d<<1^d>>63) + 1
	if u < 0x80 {
		return append(dst, byte(u))
	}
	return binary.AppendUvarint(dst, u)
}

// decodeScaled is decodeDeltas for the scaled form, written out: it is most
// of what splitting a long recording costs.
func decodeScaled(dst []float64, b []byte, n int, gain float64, at string) ([]float64, error) {
	dst = slices.Grow(dst, n)
	var k int64
	for i := range n {
		var u uint64
		if len(b) > 0 && b[0] < 0x80 {
			u, b = uint64(b[0]), b[1:]
		} else {
			var w int
			if u, w = binary.Uvarint(b); w <= 0 {
				return dst, fmt.Errorf("segment %s: sample %d: truncated", at, i)
			}
			b = b[w:]
		}
		if u == 0 {
			dst = append(dst, math.NaN())
			continue
		}
		u--
		k += int64(u>>1) ^ -int64(u&1)
		dst = append(dst, float64(k)/gain)
	}
	if len(b) != 0 {
		return dst, fmt.Errorf("segment %s: %d bytes after the last sample", at, len(b))
	}
	return dst, nil
}

// decodeDeltas decodes n samples of a delta-coded form (appendDelta),
// turning each running integer into its value.
func decodeDeltas(dst []float64, b []byte, n int, at string, value func(k int64) (float64, error)) ([]float64, error) {
	var k int64
	for i := range n {
		u, w := binary.Uvarint(b)
		if w <= 0 {
			return dst, fmt.Errorf("segment %s: sample %d: truncated", at, i)
		}
		b = b[w:]
		if u == 0 {
			dst = append(dst, math.NaN())
			continue
		}
		u--
		k += int64(u>>1) ^ -int64(u&1)
		v, err := value(k)
		if err != nil {
			return dst, fmt.Errorf("segment %s: sample %d: %w", at, i, err)
		}
		dst = append(dst, v)
	}
	if len(b) != 0 {
		return dst, fmt.Errorf("segment %s: %d bytes after the last sample", at, len(b))
	}
	return dst, nil
}

// SummaryBlock is how many samples one entry of a segment's summary
// covers: previews and trends of a whole recording read summaries, not
// samples.
const SummaryBlock = 1 << 10

// BlockSummary describes SummaryBlock consecutive samples of a channel
// (fewer at its end).
type BlockSummary struct {
	Min, Max float64 // NaN when every sample is missing
	Sum      float64 // of the present samples, in order
	Count    int     // present samples
	Samples  int     // samples, present or missing
}

const summaryEntry = 8 + 8 + 8 + 4 + 4

// encodeSummary summarises samples block by block.
func encodeSummary(dst []byte, samples []float64) []byte {
	for lo := 0; lo < len(samples); lo += SummaryBlock {
		blk := samples[lo:min(lo+SummaryBlock, len(samples))]
		s := BlockSummary{Min: math.NaN(), Max: math.NaN(), Samples: len(blk)}
		for _, v := range blk {
			if v != v {
				continue
			}
			if s.Count == 0 || v < s.Min {
				s.Min = v
			}
			if s.Count == 0 || v > s.Max {
				s.Max = v
			}
			s.Sum += v
			s.Count++
		}
		dst = binary.LittleEndian.AppendUint64(dst, canon.Float64Bits(s.Min))
		dst = binary.LittleEndian.AppendUint64(dst, canon.Float64Bits(s.Max))
		dst = binary.LittleEndian.AppendUint64(dst, canon.Float64Bits(s.Sum))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(s.Count))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(s.Samples))
	}
	return dst
}

// decodeSummary appends a segment's summaries to dst.
func decodeSummary(dst []BlockSummary, b []byte, at string) ([]BlockSummary, error) {
	if len(b)%summaryEntry != 0 {
		return dst, fmt.Errorf("summary of segment %s: %d bytes, not a multiple of %d", at, len(b), summaryEntry)
	}
	for ; len(b) > 0; b = b[summaryEntry:] {
		dst = append(dst, BlockSummary{
			Min:     math.Float64frombits(binary.LittleEndian.Uint64(b)),
			Max:     math.Float64frombits(binary.LittleEndian.Uint64(b[8:])),
			Sum:     math.Float64frombits(binary.LittleEndian.Uint64(b[16:])),
			Count:   int(binary.LittleEndian.Uint32(b[24:])),
			Samples: int(binary.LittleEndian.Uint32(b[28:])),
		})
	}
	return dst, nil
}
