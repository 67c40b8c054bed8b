package canon

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	w := NewWriter("TEST1")
	w.U8(7)
	w.Bool(true)
	w.U32(1 << 31)
	w.I64(-5)
	w.F64(math.Pi)
	w.String("héllo")
	w.Blob([]byte{1, 2, 3})
	w.F64s([]float64{1.5, math.NaN(), -2})
	w.I64s([]int64{-1, 0, math.MaxInt64})
	w.I16s([]int16{math.MinInt16, -1, 0, math.MaxInt16})
	w.I32s([]int32{math.MinInt32, -1, math.MaxInt32})

	r := NewReader(w.Bytes(), "TEST1")
	if got := r.U8(); got != 7 {
		t.Errorf("U8: got %d, want 7", got)
	}
	if got := r.Bool(); !got {
		t.Errorf("Bool: got false, want true")
	}
	if got := r.U32(); got != 1<<31 {
		t.Errorf("U32: got %d", got)
	}
	if got := r.I64(); got != -5 {
		t.Errorf("I64: got %d, want -5", got)
	}
	if got := r.F64(); got != math.Pi {
		t.Errorf("F64: got %v", got)
	}
	if got := r.String(); got != "héllo" {
		t.Errorf("String: got %q", got)
	}
	if got := r.Blob(); string(got) != "\x01\x02\x03" {
		t.Errorf("Blob: got %v", got)
	}
	fs := r.F64s()
	if len(fs) != 3 || fs[0] != 1.5 || !math.IsNaN(fs[1]) || fs[2] != -2 {
		t.Errorf("F64s: got %v", fs)
	}
	is := r.I64s()
	if len(is) != 3 || is[2] != math.MaxInt64 {
		t.Errorf("I64s: got %v", is)
	}
	if got := r.I16s(); !slices.Equal(got, []int16{math.MinInt16, -1, 0, math.MaxInt16}) {
		t.Errorf("I16s: got %v", got)
	}
	if got := r.I32s(); !slices.Equal(got, []int32{math.MinInt32, -1, math.MaxInt32}) {
		t.Errorf("I32s: got %v", got)
	}
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
}

// Every NaN and both zeros must encode to one bit pattern each, or two
// volunteers computing the same value could disagree.
func TestCanonicalFloats(t *testing.T) {
	nans := []float64{math.NaN(), math.Float64frombits(0x7FF0000000000001), math.Float64frombits(0xFFF8000000000000)}
	for _, n := range nans {
		if got := Float64Bits(n); got != CanonicalNaN {
			t.Errorf("NaN %#x: got %#x, want %#x", math.Float64bits(n), got, uint64(CanonicalNaN))
		}
	}
	if Float64Bits(math.Copysign(0, -1)) != Float64Bits(0) {
		t.Errorf("-0 and +0 encode differently")
	}
}

func TestReaderErrors(t *testing.T) {
	w := NewWriter("TEST1")
	w.F64s([]float64{1, 2, 3})
	full := w.Bytes()
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"ErrWrongMagic", NewWriter("OTHER").Bytes(), `document tag "OTHER", want "TEST1"`},
		{"ErrTruncatedMagic", full[:3], "byte 0: truncated uint32"},
		{"ErrTruncatedSlice", full[:len(full)-4], "truncated float slice (need 24 bytes, have 20)"},
		{"ErrTrailing", append(append([]byte(nil), full...), 0), "1 trailing bytes"},
		{"ErrHugeLength", append(NewWriter("TEST1").Bytes(), 0xff, 0xff, 0xff, 0xff), "exceeds the limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewReader(tc.in, "TEST1")
			r.F64s()
			err := r.Done()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestBoolRejectsOtherBytes(t *testing.T) {
	w := NewWriter("B")
	w.U8(2)
	r := NewReader(w.Bytes(), "B")
	r.Bool()
	if r.Err() == nil {
		t.Fatal("got no error for boolean byte 2")
	}
}

func FuzzReader(f *testing.F) {
	w := NewWriter("F")
	w.String("abc")
	w.F64s([]float64{1, 2})
	w.I64s([]int64{3})
	w.I16s([]int16{-4})
	w.I32s([]int32{5})
	f.Add(w.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b, "F")
		s := r.String()
		fs := r.F64s()
		is := r.I64s()
		i16 := r.I16s()
		i32 := r.I32s()
		if r.Done() != nil {
			return
		}
		// Whatever decoded cleanly must re-encode to the same bytes, except
		// for non-canonical NaNs and negative zeros, which are normalized.
		w := NewWriter("F")
		w.String(s)
		w.F64s(fs)
		w.I64s(is)
		w.I16s(i16)
		w.I32s(i32)
		again := NewReader(w.Bytes(), "F")
		if again.String() != s || len(again.F64s()) != len(fs) || len(again.I64s()) != len(is) ||
			!slices.Equal(again.I16s(), i16) || !slices.Equal(again.I32s(), i32) || again.Done() != nil {
			t.Fatalf("re-encoding changed the document")
		}
	})
}

// TestSlicesAreTheirValuesInTurn: a slice is its length and then each
// value as its scalar writer writes it (the slice writers fill the bytes in
// place; this is the form they must keep).
func TestSlicesAreTheirValuesInTurn(t *testing.T) {
	f := []float64{1.5, math.NaN(), math.Copysign(0, -1), -2, math.Inf(1)}
	i64 := []int64{-1, 0, math.MaxInt64, math.MinInt64}
	i16 := []int16{math.MinInt16, -1, 0, 258, math.MaxInt16}
	i32 := []int32{math.MinInt32, -1, 65536, math.MaxInt32}
	got := NewWriter("T")
	got.F64s(f)
	got.I64s(i64)
	got.I16s(i16)
	got.I32s(i32)
	got.F64s(nil)
	want := NewWriter("T")
	want.U32(uint32(len(f)))
	for _, v := range f {
		want.F64(v)
	}
	want.U32(uint32(len(i64)))
	for _, v := range i64 {
		want.I64(v)
	}
	want.U32(uint32(len(i16)))
	for _, v := range i16 {
		want.buf = append(want.buf, byte(v), byte(uint16(v)>>8))
	}
	want.U32(uint32(len(i32)))
	for _, v := range i32 {
		want.U32(uint32(v))
	}
	want.U32(0)
	if !slices.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("slices encode as\n%x, want\n%x", got.Bytes(), want.Bytes())
	}
}
