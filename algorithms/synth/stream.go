package synth

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
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
// the number of samples (the planned beats and annotations take about 80
// bytes a beat).
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

	chans := []signal.Channel{{Name: "MLII", Unit: "mV"}, {Name: "V1", Unit: "mV"}}
	dat := newDatWriter(w.Signal, 212, []float64{ECGGain, ECGGain})
	var csv *csvWriter
	if w.CSV != nil {
		if csv, err = newCSVWriter(w.CSV, s.fs, chans); err != nil {
			return nil, err
		}
	}
	l1, l2 := make([]float64, block), make([]float64, block)
	frame := make([]float64, 2)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := s.Read(l1, l2)
		if k == 0 {
			break
		}
		for i := range k {
			frame[0], frame[1] = l1[i], l2[i]
			if err := dat.put(frame); err != nil {
				return nil, fmt.Errorf("ECG record %s: %w", o.Record, err) // unreachable: Read clips to the range
			}
			if csv != nil {
				if err := csv.put(frame); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := dat.close(); err != nil {
		return nil, err
	}
	if csv != nil {
		if err := csv.close(); err != nil {
			return nil, err
		}
	}
	if _, err := w.Header.Write(dat.header(o.Record, s.fs, chans)); err != nil {
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
