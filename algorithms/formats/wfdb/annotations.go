package wfdb

import (
	"fmt"
	"math"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// MIT annotation file layout (annot(5)): a stream of little-endian 16-bit
// words, the top 6 bits a code, the low 10 bits a time increment or datum.
const (
	acMax    = 49 // highest annotation code; 50–58 are reserved and skipped, as WFDB does
	codeSkip = 59 // followed by a 32-bit interval (high word first)
	codeNum  = 60 // sets num of this and later annotations
	codeSub  = 61 // sets subtyp of this annotation
	codeChn  = 62 // sets chan of this and later annotations
	codeAux  = 63 // followed by that many bytes of aux text, padded to even
	maxRR    = 1023
)

// MaxAnnotations bounds the annotations of one file (each costs about 60
// bytes in memory): a beat annotation every 0.3 s for 3.6 days, where a
// 24-hour Holter record has about 100,000.
const MaxAnnotations = 1 << 20

// ReadAnnotations decodes an MIT-format annotation file (.atr, .qrs, ...)
// called name (used in error messages). Sample is in sample intervals of the
// record's frame rate; Num and Chan carry over from one annotation to the
// next as WFDB defines.
func ReadAnnotations(name string, data []byte) ([]signal.Annotation, error) {
	var out []signal.Annotation
	var t int64
	num, chn := 0, 0
	pos := 0
	word := func(p int) uint16 { return uint16(data[p]) | uint16(data[p+1])<<8 }
	for pos < len(data) {
		if pos+2 > len(data) {
			return nil, byteErr(name, int64(pos), "file ends in the middle of a 16-bit annotation word")
		}
		w := word(pos)
		if w == 0 {
			break // logical end of file; WFDB ignores anything after it
		}
		code, datum := int(w>>10), int(w&0x3ff)
		last := len(out) - 1
		needPrev := func(what string) error {
			return byteErr(name, int64(pos), "%s pseudo-annotation before the first annotation; expected an annotation or SKIP", what)
		}
		switch {
		case code == codeSkip:
			if pos+6 > len(data) {
				return nil, byteErr(name, int64(pos), "SKIP needs a 4-byte interval after it, but the file ends")
			}
			t += int64(int32(uint32(word(pos+2))<<16 | uint32(word(pos+4))))
			pos += 6
			continue
		case code == codeNum:
			if last < 0 {
				return nil, needPrev("NUM")
			}
			num = int(int8(datum))
			out[last].Num = num
		case code == codeSub:
			if last < 0 {
				return nil, needPrev("SUB")
			}
			out[last].Subtype = int(int8(datum))
		case code == codeChn:
			if last < 0 {
				return nil, needPrev("CHN")
			}
			chn = int(uint8(datum))
			out[last].Chan = chn
		case code == codeAux:
			if last < 0 {
				return nil, needPrev("AUX")
			}
			n := datum & 0xff
			padded := (n + 1) &^ 1
			if pos+2+padded > len(data) {
				return nil, byteErr(name, int64(pos), "AUX announces %d bytes of text, but the file ends after %d", n, len(data)-pos-2)
			}
			out[last].Aux = string(data[pos+2 : pos+2+n])
			pos += padded
		case code > acMax:
			// Reserved pseudo-annotation codes: WFDB skips them.
		default:
			t += int64(datum)
			if t < 0 {
				return nil, byteErr(name, int64(pos), "annotation falls at sample %d; SKIP intervals before it add up to a negative time", t)
			}
			if len(out) == MaxAnnotations {
				return nil, byteErr(name, int64(pos), "more than %d annotations, more than this reader accepts", MaxAnnotations)
			}
			out = append(out, signal.Annotation{Sample: t, Code: code, Num: num, Chan: chn})
		}
		pos += 2
	}
	return out, nil
}

// EncodeAnnotations writes annotations as an MIT-format annotation file, word
// for word as WFDB's putann and oannclose do, so that rdann and bxb read it.
// It rejects what the format cannot hold: codes outside 0–49, negative
// samples, Subtype or Num outside −128–127, Chan outside 0–255, and aux text
// longer than 255 bytes.
func EncodeAnnotations(anns []signal.Annotation) ([]byte, error) {
	out := make([]byte, 0, 2*len(anns)+2)
	put16 := func(w uint16) { out = append(out, byte(w), byte(w>>8)) }
	skip := func(d int64) {
		// One SKIP holds a signed 32-bit interval; longer gaps take several.
		for d != 0 {
			step := max(min(d, math.MaxInt32), math.MinInt32)
			put16(codeSkip << 10)
			u := uint32(int32(step))
			put16(uint16(u >> 16))
			put16(uint16(u))
			d -= step
		}
	}
	var prevT int64
	prevNum, prevChan := 0, 0
	for i, a := range anns {
		switch {
		case a.Code < 0 || a.Code > acMax:
			return nil, fmt.Errorf("annotation %d (sample %d): code %d is outside 0–%d", i, a.Sample, a.Code, acMax)
		case a.Sample < 0:
			return nil, fmt.Errorf("annotation %d: sample %d is negative", i, a.Sample)
		case a.Subtype < -128 || a.Subtype > 127:
			return nil, fmt.Errorf("annotation %d (sample %d): subtype %d is outside −128–127", i, a.Sample, a.Subtype)
		case a.Num < -128 || a.Num > 127:
			return nil, fmt.Errorf("annotation %d (sample %d): num %d is outside −128–127", i, a.Sample, a.Num)
		case a.Chan < 0 || a.Chan > 255:
			return nil, fmt.Errorf("annotation %d (sample %d): chan %d is outside 0–255", i, a.Sample, a.Chan)
		case len(a.Aux) > 255:
			return nil, fmt.Errorf("annotation %d (sample %d): aux text of %d bytes; at most 255 fit", i, a.Sample, len(a.Aux))
		}
		delta := a.Sample - prevT
		if a.Code == 0 {
			// A code-0 word with time 0 would read as the end of file, so
			// WFDB lands one sample early and steps by 1.
			skip(delta - 1)
			delta = 1
		} else if delta > maxRR || delta < 0 {
			skip(delta)
			delta = 0
		}
		put16(uint16(a.Code)<<10 | uint16(delta))
		if a.Subtype != 0 {
			put16(codeSub<<10 | uint16(a.Subtype)&0x3ff)
		}
		if a.Chan != prevChan {
			put16(codeChn<<10 | uint16(a.Chan)&0x3ff)
		}
		if a.Num != prevNum {
			put16(codeNum<<10 | uint16(a.Num)&0x3ff)
		}
		if a.Aux != "" {
			put16(codeAux<<10 | uint16(len(a.Aux)))
			out = append(out, a.Aux...)
			if len(a.Aux)%2 == 1 {
				out = append(out, 0)
			}
		}
		prevT, prevNum, prevChan = a.Sample, a.Num, a.Chan
	}
	put16(0)
	return out, nil
}

// WriteAnnotations is EncodeAnnotations for annotations that may not fit the
// format: rather than fail an export, it writes an out-of-range code as a
// comment annotation (NOTE, 22) whose aux names the code, clamps fields to
// their ranges and cuts aux text to 255 bytes.
func WriteAnnotations(anns []signal.Annotation) []byte {
	fixed := make([]signal.Annotation, len(anns))
	for i, a := range anns {
		if a.Code < 0 || a.Code > acMax {
			if a.Aux == "" {
				a.Aux = fmt.Sprintf("code %d", a.Code)
			}
			a.Code = signal.CodeNote
		}
		a.Sample = max(a.Sample, 0)
		a.Subtype = min(max(a.Subtype, -128), 127)
		a.Num = min(max(a.Num, -128), 127)
		a.Chan = min(max(a.Chan, 0), 255)
		if len(a.Aux) > 255 {
			a.Aux = a.Aux[:255]
		}
		fixed[i] = a
	}
	b, err := EncodeAnnotations(fixed)
	if err != nil {
		panic("wfdb: WriteAnnotations: " + err.Error()) // unreachable: every field was brought in range
	}
	return b
}
