package synth

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
)

// ECGWriters are where WriteECG writes the files of a record. CSV and
// BeatsCSV may be nil: those files are then not made.
type ECGWriters struct {
	Header      io.Writer // NAME.hea
	Signal      io.Writer // NAME.dat, format 212
	Annotations io.Writer // NAME.atr
	Truth       io.Writer // NAME.truth.json
	CSV         io.Writer // NAME.csv: the leads, pulsegrid's CSV dialect
	BeatsCSV    io.Writer // NAME.beats.csv: sample,time_s,code,symbol
}

// ECGBlock is how many samples per lead WriteECG generates at a time: 11 s
// at 360 Hz, 64 KB of float64s for both leads.
const ECGBlock = 4096

// WriteECG generates a record block by block and streams its files: the
// same bytes as NewECG followed by Files, in memory that does not grow with
// the record's length (the planned beats excepted, about 60 bytes each).
// The annotations and the truth are written first, then the signal, then
// the header, whose checksums need every sample. It stops with ctx's error
// between blocks.
func WriteECG(ctx context.Context, o ECGOptions, w ECGWriters) (*Truth, error) {
	return writeECG(ctx, o, w, ECGBlock)
}

func writeECG(ctx context.Context, o ECGOptions, w ECGWriters, block int) (*Truth, error) {
	if o.Record == "" || strings.ContainsAny(o.Record, "/\\ \t\r\n") || o.Record == "." || o.Record == ".." {
		return nil, fmt.Errorf("record name %q: expected a plain name without blanks or directories", o.Record)
	}
	s, err := NewECGStream(o)
	if err != nil {
		return nil, err
	}
	atr, err := wfdb.EncodeAnnotations(s.Annotations())
	if err != nil {
		return nil, fmt.Errorf("ECG record %s annotations: %w", o.Record, err)
	}
	if _, err := w.Annotations.Write(atr); err != nil {
		return nil, err
	}
	truth, err := encodeTruth(s.truth)
	if err != nil {
		return nil, err
	}
	if _, err := w.Truth.Write(truth); err != nil {
		return nil, err
	}

	dat := bufio.NewWriterSize(w.Signal, 64<<10)
	var csv *bufio.Writer
	if w.CSV != nil {
		csv = bufio.NewWriterSize(w.CSV, 64<<10)
		if _, err := csv.WriteString("time,MLII [mV],V1 [mV]\n"); err != nil {
			return nil, err
		}
	}
	l1, l2 := make([]float64, block), make([]float64, block)
	packed := make([]byte, 0, 3*block)
	var row []byte
	var sum [2]int16
	var init [2]int64
	for first := 0; ; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := s.Read(l1, l2)
		if k == 0 {
			break
		}
		packed = packed[:0]
		for i := range k {
			a, b := int64(math.Round(l1[i]*ECGGain)), int64(math.Round(l2[i]*ECGGain))
			if first+i == 0 {
				init = [2]int64{a, b}
			}
			sum[0] += int16(a)
			sum[1] += int16(b)
			a, b = a&0xfff, b&0xfff
			packed = append(packed, byte(a), byte(a>>8)|byte(b>>8)<<4, byte(b))
		}
		if _, err := dat.Write(packed); err != nil {
			return nil, err
		}
		if csv != nil {
			for i := range k {
				row = strconv.AppendFloat(row[:0], sampleTime(first+i, s.fs), 'f', -1, 64)
				row = append(row, ',')
				row = strconv.AppendFloat(row, l1[i], 'f', -1, 64)
				row = append(row, ',')
				row = strconv.AppendFloat(row, l2[i], 'f', -1, 64)
				row = append(row, '\n')
				if _, err := csv.Write(row); err != nil {
					return nil, err
				}
			}
		}
		first += k
	}
	if err := dat.Flush(); err != nil {
		return nil, err
	}
	if csv != nil {
		if err := csv.Flush(); err != nil {
			return nil, err
		}
	}
	// As wfdb.WriteRecord writes it (a test holds them equal).
	var h bytes.Buffer
	fmt.Fprintf(&h, "%s 2 %s %d\n", o.Record, strconv.FormatFloat(s.fs, 'g', -1, 64), s.n)
	for c, name := range []string{"MLII", "V1"} {
		fmt.Fprintf(&h, "%s.dat 212 %d(0)/mV 12 0 %d %d 0 %s\n", o.Record, ECGGain, init[c], sum[c], name)
	}
	if _, err := w.Header.Write(h.Bytes()); err != nil {
		return nil, err
	}
	if w.BeatsCSV != nil {
		var b bytes.Buffer
		writeBeatsCSV(&b, s.Annotations(), s.fs)
		if _, err := w.BeatsCSV.Write(b.Bytes()); err != nil {
			return nil, err
		}
	}
	return s.truth, nil
}
