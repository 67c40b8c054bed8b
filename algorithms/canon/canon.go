// Package canon is the canonical binary encoding of chunk inputs and outputs.
//
// Two volunteers that computed the same thing must produce the same bytes, so
// the encoding has exactly one form for every value: fixed-width little-endian
// integers, IEEE-754 bit patterns for floats with every NaN written as the one
// canonical NaN and -0 written as +0, and length-prefixed strings and slices.
// The SHA-256 of those bytes is what the server compares.
package canon

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
)

// CanonicalNaN is the only NaN bit pattern the encoding writes.
const CanonicalNaN = 0x7FF8000000000001

// MaxLen bounds any single length prefix so a corrupt input cannot ask for
// gigabytes before the truncation is noticed.
const MaxLen = 1 << 28

// Digest is the lowercase hex SHA-256 of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Writer appends canonical encodings to a byte slice.
type Writer struct {
	buf []byte
}

// NewWriter returns a Writer that starts with the given magic tag, which
// names the kind of document and its version (e.g. "PGBEATS1").
func NewWriter(magic string) *Writer {
	w := &Writer{buf: make([]byte, 0, 256)}
	w.String(magic)
	return w
}

// Bytes returns the encoding so far.
func (w *Writer) Bytes() []byte { return w.buf }

// U8 writes one byte.
func (w *Writer) U8(v uint8) { w.buf = append(w.buf, v) }

// Bool writes false as 0 and true as 1.
func (w *Writer) Bool(v bool) {
	if v {
		w.U8(1)
	} else {
		w.U8(0)
	}
}

// U32 writes v in 4 bytes.
func (w *Writer) U32(v uint32) { w.buf = binary.LittleEndian.AppendUint32(w.buf, v) }

// U64 writes v in 8 bytes.
func (w *Writer) U64(v uint64) { w.buf = binary.LittleEndian.AppendUint64(w.buf, v) }

// I64 writes v in 8 bytes, two's complement.
func (w *Writer) I64(v int64) { w.U64(uint64(v)) }

// Int writes an int as 8 bytes.
func (w *Writer) Int(v int) { w.I64(int64(v)) }

// F64 writes the canonical bit pattern of v.
func (w *Writer) F64(v float64) { w.U64(Float64Bits(v)) }

// String writes a length-prefixed UTF-8 string.
func (w *Writer) String(s string) {
	w.U32(uint32(len(s)))
	w.buf = append(w.buf, s...)
}

// Blob writes a length-prefixed byte slice.
func (w *Writer) Blob(b []byte) {
	w.U32(uint32(len(b)))
	w.buf = append(w.buf, b...)
}

// Grow makes room for n more bytes, so that a large document is not
// copied again and again as it grows.
func (w *Writer) Grow(n int) { w.buf = slices.Grow(w.buf, n) }

// Len is how many bytes are written so far.
func (w *Writer) Len() int { return len(w.buf) }

// Truncate takes back what was written after the first n bytes (n from
// Len), for a writer that tried one form and must write another.
func (w *Writer) Truncate(n int) { w.buf = w.buf[:n] }

// Packed writes the length prefix of n values of size bytes each and
// returns the n·size bytes that follow it, for the caller to fill (the
// reading side is Reader.Packed). Every byte must be written.
func (w *Writer) Packed(n, size int) []byte {
	w.U32(uint32(n))
	w.Grow(n * size)
	lo := len(w.buf)
	w.buf = w.buf[:lo+n*size]
	return w.buf[lo:]
}

// F64s writes a length-prefixed slice of floats.
func (w *Writer) F64s(v []float64) {
	b := w.Packed(len(v), 8)
	for _, x := range v {
		binary.LittleEndian.PutUint64(b[:8], Float64Bits(x))
		b = b[8:]
	}
}

// I64s writes a length-prefixed slice of integers.
func (w *Writer) I64s(v []int64) {
	b := w.Packed(len(v), 8)
	for _, x := range v {
		binary.LittleEndian.PutUint64(b[:8], uint64(x))
		b = b[8:]
	}
}

// I16s writes a length-prefixed slice of 16-bit integers.
func (w *Writer) I16s(v []int16) {
	b := w.Packed(len(v), 2)
	for _, x := range v {
		binary.LittleEndian.PutUint16(b[:2], uint16(x))
		b = b[2:]
	}
}

// I32s writes a length-prefixed slice of 32-bit integers.
func (w *Writer) I32s(v []int32) {
	b := w.Packed(len(v), 4)
	for _, x := range v {
		binary.LittleEndian.PutUint32(b[:4], uint32(x))
		b = b[4:]
	}
}

// Float64Bits is math.Float64bits with NaN and signed zero made canonical.
func Float64Bits(v float64) uint64 {
	switch {
	case v != v:
		return CanonicalNaN
	case v == 0:
		return 0
	}
	return math.Float64bits(v)
}

// Reader decodes what a Writer wrote. The first error sticks: later calls
// return zero values, and Err reports the offset where decoding failed.
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader checks the magic tag and returns a Reader positioned after it.
func NewReader(b []byte, magic string) *Reader {
	r := &Reader{buf: b}
	if got := r.String(); r.err == nil && got != magic {
		r.err = fmt.Errorf("canon: byte 0: document tag %q, want %q", got, magic)
	}
	return r
}

// Fail records a value the caller found invalid (what names it) at the
// current offset, unless an error is already recorded.
func (r *Reader) Fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("canon: byte %d: invalid %s", r.off, what)
	}
}

// Err is the first decoding error, or nil.
func (r *Reader) Err() error { return r.err }

// Done returns Err, or an error if bytes are left over.
func (r *Reader) Done() error {
	if r.err == nil && r.off != len(r.buf) {
		r.err = fmt.Errorf("canon: byte %d: %d trailing bytes after the document", r.off, len(r.buf)-r.off)
	}
	return r.err
}

func (r *Reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.buf)-r.off < n {
		r.err = fmt.Errorf("canon: byte %d: truncated %s (need %d bytes, have %d)", r.off, what, n, len(r.buf)-r.off)
		return nil
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	b := r.take(1, "byte")
	if b == nil {
		return 0
	}
	return b[0]
}

// Bool reads a byte that must be 0 or 1.
func (r *Reader) Bool() bool {
	off := r.off
	v := r.U8()
	if v > 1 && r.err == nil {
		r.err = fmt.Errorf("canon: byte %d: boolean %d, want 0 or 1", off, v)
	}
	return v == 1
}

// U32 reads 4 bytes.
func (r *Reader) U32() uint32 {
	b := r.take(4, "uint32")
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// U64 reads 8 bytes.
func (r *Reader) U64() uint64 {
	b := r.take(8, "uint64")
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// I64 reads an 8-byte integer.
func (r *Reader) I64() int64 { return int64(r.U64()) }

// Int reads an 8-byte integer as int.
func (r *Reader) Int() int { return int(r.I64()) }

// F64 reads a float.
func (r *Reader) F64() float64 { return math.Float64frombits(r.U64()) }

func (r *Reader) length(what string) int {
	off := r.off
	n := r.U32()
	if r.err == nil && n > MaxLen {
		r.err = fmt.Errorf("canon: byte %d: %s length %d exceeds the limit %d", off, what, n, MaxLen)
		return 0
	}
	return int(n)
}

// String reads a length-prefixed string.
func (r *Reader) String() string {
	n := r.length("string")
	return string(r.take(n, "string"))
}

// Blob reads a length-prefixed byte slice (a copy).
func (r *Reader) Blob() []byte {
	n := r.length("blob")
	b := r.take(n, "blob")
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// F64s reads a length-prefixed slice of floats.
func (r *Reader) F64s() []float64 {
	n := r.length("float slice")
	b := r.take(8*n, "float slice")
	if b == nil {
		return nil
	}
	v := make([]float64, n)
	// Eight bytes at a time from a slice that shrinks by eight, with
	// the length checked once per value: the loop has no other bounds
	// checks, which matters on wasm where a task is mostly this slice.
	for i := range v {
		if len(b) < 8 {
			break
		}
		v[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[:8]))
		b = b[8:]
	}
	return v
}

// Packed reads a length-prefixed array of elements of size bytes each and
// returns how many there are and their bytes (not a copy), for decoders
// that turn a packed form straight into what they need.
func (r *Reader) Packed(size int, what string) (int, []byte) {
	n := r.length(what)
	b := r.take(size*n, what)
	if b == nil {
		return 0, nil
	}
	return n, b
}

// I16s reads a length-prefixed slice of 16-bit integers.
func (r *Reader) I16s() []int16 {
	n, b := r.Packed(2, "int16 slice")
	if b == nil {
		return nil
	}
	v := make([]int16, n)
	for i := range v {
		if len(b) < 2 {
			break
		}
		v[i] = int16(binary.LittleEndian.Uint16(b[:2]))
		b = b[2:]
	}
	return v
}

// I32s reads a length-prefixed slice of 32-bit integers.
func (r *Reader) I32s() []int32 {
	n, b := r.Packed(4, "int32 slice")
	if b == nil {
		return nil
	}
	v := make([]int32, n)
	for i := range v {
		if len(b) < 4 {
			break
		}
		v[i] = int32(binary.LittleEndian.Uint32(b[:4]))
		b = b[4:]
	}
	return v
}

// I64s reads a length-prefixed slice of integers.
func (r *Reader) I64s() []int64 {
	n := r.length("integer slice")
	b := r.take(8*n, "integer slice")
	if b == nil {
		return nil
	}
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return v
}
