package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
)

// concatRecords writes into dir one WFDB record, "holter", of minutes
// minutes made by concatenating the signal files of the real records in
// src (cycling through them, in name order, as often as it takes), and
// returns its files (.hea, .dat). Only records of one layout take part:
// single-segment, one signal file of format 212, 16 or 80, and the
// layout most of them share (frame rate, gains, baselines, lead names: in
// MIT-BIH, MLII then V1); the others are skipped.
// The header's checksums are the sums of the parts' (a checksum is a sum
// of samples modulo 2^16), so the reader still verifies every sample.
// Records are whole: the result is at least minutes long, at most one
// record longer (48 MIT-BIH records of 30.09 min for 1,440).
func concatRecords(src, dir string, minutes int) (files []string, parts []string, err error) {
	heads, _ := filepath.Glob(filepath.Join(src, "*.hea"))
	slices.Sort(heads)
	type rec struct {
		h   *wfdb.Header
		dat string
	}
	var recs []rec
	for _, p := range heads {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, err
		}
		h, err := wfdb.ParseHeader(filepath.Base(p), b)
		if err != nil || h.NumSegments != 0 || len(h.Signals) == 0 || h.NumSamples <= 0 {
			continue
		}
		dat := h.Signals[0].File
		ok := slices.Contains([]int{16, 80, 212}, h.Signals[0].Format) && (h.Signals[0].Format != 212 || len(h.Signals)%2 == 0)
		for _, s := range h.Signals {
			ok = ok && s.File == dat && s.SamplesPerFrame == 1 && s.Skew == 0 && s.ByteOffset == 0 && s.HasChecksum
		}
		if ok {
			recs = append(recs, rec{h, filepath.Join(src, dat)})
		}
	}
	// The layout most of them share.
	count := map[string]int{}
	for _, r := range recs {
		count[layout(r.h)]++
	}
	best := ""
	for _, r := range recs {
		if k := layout(r.h); count[k] > count[best] {
			best = k
		}
	}
	recs = slices.DeleteFunc(recs, func(r rec) bool { return layout(r.h) != best })
	if len(recs) == 0 {
		return nil, nil, fmt.Errorf("%s holds no single-segment WFDB record of format 212, 16 or 80 to concatenate", src)
	}
	first := recs[0].h
	frameBytes := map[int]float64{16: 2, 80: 1, 212: 1.5}[first.Signals[0].Format] * float64(len(first.Signals))
	want := int64(float64(minutes) * 60 * first.Frequency)
	out, err := os.Create(filepath.Join(dir, "holter.dat"))
	if err != nil {
		return nil, nil, err
	}
	defer out.Close()
	sums := make([]int, len(first.Signals))
	var got int64
	for i := 0; got < want; i++ {
		r := recs[i%len(recs)]
		f, err := os.Open(r.dat)
		if err != nil {
			return nil, nil, err
		}
		size := int64(float64(r.h.NumSamples) * frameBytes)
		n, err := io.Copy(out, io.LimitReader(f, size))
		f.Close()
		if err == nil && n != size {
			err = fmt.Errorf("%d bytes, want %d", n, size)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", r.dat, err)
		}
		for j, s := range r.h.Signals {
			sums[j] += s.Checksum
		}
		got += r.h.NumSamples
		parts = append(parts, r.h.Record)
	}
	if err := out.Close(); err != nil {
		return nil, nil, err
	}
	var hea strings.Builder
	fmt.Fprintf(&hea, "holter %d %g %d\n", len(first.Signals), first.Frequency, got)
	for j, s := range first.Signals {
		fmt.Fprintf(&hea, "holter.dat %d %g(%d)/%s %d %d %d %d 0 %s\n", s.Format, s.Gain, s.Baseline, s.Units, s.ADCResolution, s.ADCZero, s.InitValue, int16(uint16(sums[j])), s.Description)
	}
	fmt.Fprintf(&hea, "# %d real records of %s concatenated by pulsegrid bench holter: %s\n", len(parts), filepath.Base(src), strings.Join(parts, " "))
	if err := os.WriteFile(filepath.Join(dir, "holter.hea"), []byte(hea.String()), 0o644); err != nil {
		return nil, nil, err
	}
	return []string{filepath.Join(dir, "holter.hea"), filepath.Join(dir, "holter.dat")}, parts, nil
}

// layout is what records must share to be concatenated: frame rate and,
// per signal, format, gain, baseline, units, resolution, zero and lead.
func layout(h *wfdb.Header) string {
	k := fmt.Sprint(h.Frequency)
	for _, s := range h.Signals {
		k += fmt.Sprintf("|%d %g %d %s %d %d %s", s.Format, s.Gain, s.Baseline, s.Units, s.ADCResolution, s.ADCZero, s.Description)
	}
	return k
}
