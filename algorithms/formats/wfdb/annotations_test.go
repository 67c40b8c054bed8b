package wfdb

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

func MustReadFile(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestAnnotations100(t *testing.T) {
	anns, err := ReadAnnotations("100.atr", MustReadFile(t, "testdata/100.atr"))
	if err != nil {
		t.Fatal(err)
	}
	beats := 0
	for _, a := range anns {
		if signal.IsQRS(a.Code) {
			beats++
		}
	}
	if len(anns) != 2274 || beats != 2273 {
		t.Fatalf("got %d annotations, %d beats; want 2274, 2273", len(anns), beats)
	}
	// rdann: "0:00.050 18 + 0 0 0 (N", then "0:00.214 77 N 0 0 0".
	if a := anns[0]; a.Sample != 18 || a.Code != signal.CodeRhythm || a.Aux != "(N\x00" {
		t.Errorf("annotation 0: got %+v, want sample 18, code +, aux (N", a)
	}
	if a := anns[1]; a.Sample != 77 || a.Code != signal.CodeNormal {
		t.Errorf("annotation 1: got %+v, want sample 77 N", a)
	}
	if a := anns[len(anns)-1]; a.Sample != 649991 || a.Code != signal.CodeNormal {
		t.Errorf("last annotation: got %+v, want sample 649991 N", a)
	}
}

// TestAnnotationRoundTrip writes every shared annotation file back and
// expects the very same bytes: our writer speaks WFDB's dialect exactly.
func TestAnnotationRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(sharedData, "*", "*.atr"))
	files = append(files, "testdata/100.atr")
	if len(files) < 10 {
		t.Logf("only %d annotation files found (shared recordings absent?)", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b := MustReadFile(t, f)
			anns, err := ReadAnnotations(filepath.Base(f), b)
			if err != nil {
				t.Fatal(err)
			}
			out, err := EncodeAnnotations(anns)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, b) {
				i := 0
				for i < len(out) && i < len(b) && out[i] == b[i] {
					i++
				}
				t.Fatalf("written file differs from the original at byte %d (lengths %d, %d)", i, len(out), len(b))
			}
		})
	}
}

// TestAnnotationEdgeCases round-trips what the MIT format makes awkward:
// long gaps (SKIP), out-of-order times, num/chan carried over, subtypes,
// odd-length aux, code 0 and signed fields.
func TestAnnotationEdgeCases(t *testing.T) {
	anns := []signal.Annotation{
		{Sample: 0, Code: 28, Aux: "(N"},
		{Sample: 1023, Code: 1},
		{Sample: 1024 + 1023, Code: 1, Num: 3},
		{Sample: 1 << 40, Code: 5, Chan: 200, Num: 3},
		{Sample: 5000, Code: 5, Chan: 1, Num: -7, Subtype: -1, Aux: "odd"},
		{Sample: 5000, Code: 0},
		{Sample: 5001, Code: 22, Subtype: 127, Aux: string([]byte{0, 255, 'x'})},
	}
	b, err := EncodeAnnotations(anns)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadAnnotations("edge.atr", b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, anns) {
		t.Fatalf("round trip:\ngot  %+v\nwant %+v", got, anns)
	}
	if !bytes.Equal(WriteAnnotations(anns), b) {
		t.Error("WriteAnnotations differs from EncodeAnnotations on valid input")
	}
	// The first annotation is at 0 with aux: word 0x7000, then AUX of 2 bytes.
	if want := []byte{0x00, 0x70, 0x02, 0xfc, '(', 'N'}; !bytes.Equal(b[:6], want) {
		t.Errorf("first bytes: got % x, want % x", b[:6], want)
	}
	if want := []byte{0, 0}; !bytes.Equal(b[len(b)-2:], want) {
		t.Errorf("file must end with the EOF word, ends % x", b[len(b)-2:])
	}
}

func TestEncodeAnnotationsErrors(t *testing.T) {
	long := string(make([]byte, 256))
	tests := []struct {
		name string
		ann  signal.Annotation
		want string
	}{
		{"ErrCode", signal.Annotation{Sample: 5, Code: 50}, "annotation 0 (sample 5): code 50 is outside 0–49"},
		{"ErrSample", signal.Annotation{Sample: -1, Code: 1}, "annotation 0: sample -1 is negative"},
		{"ErrSubtype", signal.Annotation{Sample: 5, Code: 1, Subtype: 128}, "annotation 0 (sample 5): subtype 128 is outside −128–127"},
		{"ErrNum", signal.Annotation{Sample: 5, Code: 1, Num: -129}, "annotation 0 (sample 5): num -129 is outside −128–127"},
		{"ErrChan", signal.Annotation{Sample: 5, Code: 1, Chan: 256}, "annotation 0 (sample 5): chan 256 is outside 0–255"},
		{"ErrAux", signal.Annotation{Sample: 5, Code: 1, Aux: long}, "annotation 0 (sample 5): aux text of 256 bytes; at most 255 fit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeAnnotations([]signal.Annotation{tt.ann})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			// WriteAnnotations never fails: it brings the annotation in range.
			got, err := ReadAnnotations("w.atr", WriteAnnotations([]signal.Annotation{tt.ann}))
			if err != nil || len(got) != 1 {
				t.Fatalf("WriteAnnotations output reads back as %v, %v", got, err)
			}
		})
	}
	got, _ := ReadAnnotations("w.atr", WriteAnnotations([]signal.Annotation{{Sample: 9, Code: 77}}))
	if got[0].Code != signal.CodeNote || got[0].Aux != "code 77" {
		t.Errorf("out-of-range code: got %+v, want a NOTE with aux \"code 77\"", got[0])
	}
}

func TestReadAnnotationsErrors(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"ErrOddLength", []byte{0x05, 0x04, 0x01}, "x.atr byte 2: file ends in the middle of a 16-bit annotation word"},
		{"ErrShortSkip", []byte{0x00, 0xec, 0x00, 0x00}, "x.atr byte 0: SKIP needs a 4-byte interval after it, but the file ends"},
		{"ErrShortAux", []byte{0x05, 0x04, 0x05, 0xfc, 'a', 'b'}, "x.atr byte 2: AUX announces 5 bytes of text, but the file ends after 2"},
		{"ErrLeadingNum", []byte{0x03, 0xf0, 0x05, 0x04}, "x.atr byte 0: NUM pseudo-annotation before the first annotation; expected an annotation or SKIP"},
		{"ErrLeadingSub", []byte{0x03, 0xf4}, "x.atr byte 0: SUB pseudo-annotation before the first annotation; expected an annotation or SKIP"},
		{"ErrLeadingChn", []byte{0x03, 0xf8}, "x.atr byte 0: CHN pseudo-annotation before the first annotation; expected an annotation or SKIP"},
		{"ErrLeadingAux", []byte{0x00, 0xfc}, "x.atr byte 0: AUX pseudo-annotation before the first annotation; expected an annotation or SKIP"},
		{"ErrNegativeTime", []byte{0x00, 0xec, 0xff, 0xff, 0xf6, 0xff, 0x00, 0x04}, "x.atr byte 6: annotation falls at sample -10; SKIP intervals before it add up to a negative time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadAnnotations("x.atr", tt.data)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %q", err, tt.want)
			}
		})
	}
	// Without the EOF word, and with reserved codes 50–58, WFDB still reads
	// the file; so do we.
	got, err := ReadAnnotations("x.atr", []byte{0x05, 0x04, 0x00, 0xd0, 0x03, 0x04})
	if err != nil || len(got) != 2 || got[1].Sample != 8 {
		t.Errorf("got %+v, %v; want two normal beats at 5 and 8", got, err)
	}
}

func FuzzReadAnnotations(f *testing.F) {
	f.Add(MustReadFile(f, "testdata/100.atr")[:200])
	f.Add([]byte{0x00, 0xec, 0xff, 0xff, 0xf6, 0xff, 0x00, 0x04})
	b, _ := EncodeAnnotations([]signal.Annotation{{Sample: 3, Code: 5, Chan: 2, Num: -1, Subtype: 4, Aux: "abc"}, {Sample: 1 << 33, Code: 0}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		anns, err := ReadAnnotations("f.atr", data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is not a *wfdb.Error", err)
			}
			return
		}
		// Whatever reads must write and read back to the same annotations.
		out, err := EncodeAnnotations(anns)
		if err != nil {
			t.Fatalf("cannot write what was read: %v", err)
		}
		again, err := ReadAnnotations("f2.atr", out)
		if err != nil {
			t.Fatalf("cannot read what was written: %v", err)
		}
		if len(anns) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(anns, again) {
			t.Fatalf("round trip changed annotations:\n%+v\n%+v", anns, again)
		}
	})
}
