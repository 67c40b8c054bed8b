package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulsegrid/pulsegrid/algorithms/synth"
)

func init() {
	commands["simulate"] = command{
		summary: "write synthetic recordings with ground truth (ECG beats and arrhythmias, alarm episodes)",
		run:     cmdSimulate,
	}
}

// cmdSimulate writes N synthetic records of one kind into a directory:
//
//	ecg:    NAME.hea/.dat (WFDB 212), NAME.atr (true beats and rhythm changes, MIT),
//	        NAME.truth.json (the events); with --csv also NAME.csv and NAME.beats.csv
//	vitals: NAME.hea/.dat (WFDB 16), NAME.csv (unless --csv=false), NAME.alarms.json
//
// ECG records are generated and written block by block, so a 24-hour
// Holter takes tens of MB, not GB. Record i of seed S is always the same
// bytes, whatever N is.
func cmdSimulate(ctx context.Context, e env) error {
	fs := newFlagSet("simulate", "simulate ecg|vitals --out DIR [--records N] [--minutes M] [--seed S] [--rate HZ] [--events SPEC] [--csv]", e.stderr)
	out := fs.String("out", "", "directory to write the records into (created if needed)")
	records := fs.Int("records", 1, "number of records")
	minutes := fs.Float64("minutes", 0, "length of each record in minutes (0: 30 for ecg, 60 for vitals)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same files")
	rate := fs.Float64("rate", 0, "samples per second (0: 360 for ecg, 1 for vitals; 0.0166666666667 gives minute logs)")
	events := fs.String("events", "default", "ecg: arrhythmia events, a profile (none, default, dense: counts per 24 h scaled to the length) then optional exact counts, e.g. default,af=3,pause=0")
	csv := fs.Bool("csv", false, "also write the signal as CSV (ecg: NAME.csv and NAME.beats.csv; vitals write CSV unless --csv=false)")
	pos, err := parseInterleaved(fs, e.args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || (pos[0] != "ecg" && pos[0] != "vitals") {
		fs.Usage()
		return fmt.Errorf("simulate needs one kind, ecg or vitals (got %q)", pos)
	}
	kind := pos[0]
	if *out == "" {
		fs.Usage()
		return fmt.Errorf("simulate needs --out DIR")
	}
	if *records < 1 || *records > 100000 {
		return fmt.Errorf("--records %d: expected 1 to 100000", *records)
	}
	if *minutes == 0 {
		*minutes = map[string]float64{"ecg": 30, "vitals": 60}[kind]
	}
	csvSet := false
	fs.Visit(func(f *flag.Flag) { csvSet = csvSet || f.Name == "csv" })
	var ev synth.Events
	if kind == "ecg" {
		if ev, err = synth.ParseEvents(*events, *minutes); err != nil {
			return fmt.Errorf("--events: %w", err)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	digits := max(3, len(fmt.Sprint(*records)))
	for i := range *records {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := fmt.Sprintf("%s%0*d", kind, digits, i+1)
		var paths []string
		switch kind {
		case "ecg":
			o := synth.ECGOptions{Record: name, Minutes: *minutes, Rate: *rate, Seed: *seed, Stream: uint64(i), Events: ev}
			if paths, err = writeECG(ctx, *out, o, *csv); err != nil {
				return err
			}
		case "vitals":
			o := synth.VitalsOptions{Record: name, Minutes: *minutes, Rate: *rate, Seed: *seed, Stream: uint64(i)}
			if paths, err = writeVitals(*out, o, !csvSet || *csv); err != nil {
				return err
			}
		}
		for _, p := range paths {
			fmt.Fprintln(e.stdout, p)
		}
	}
	return nil
}

// writeVitals writes one vitals log into dir, streaming its files from
// the generated samples, and returns the paths in the order hea, dat[, csv],
// alarms.json.
func writeVitals(dir string, o synth.VitalsOptions, withCSV bool) (_ []string, err error) {
	rec, err := synth.NewVitals(o)
	if err != nil {
		return nil, err
	}
	exts := []string{".hea", ".dat", ".alarms.json"}
	if withCSV {
		exts = []string{".hea", ".dat", ".csv", ".alarms.json"}
	}
	files, created, err := createAll(dir, o.Record, exts)
	defer func() { err = closeAll(files, created, err) }()
	if err != nil {
		return nil, err
	}
	w := synth.VitalsWriters{Header: files[0], Signal: files[1], Alarms: files[len(files)-1]}
	if withCSV {
		w.CSV = files[2]
	}
	return created, rec.Write(w)
}

// createAll creates dir/record+ext for each of exts.
func createAll(dir, record string, exts []string) ([]*os.File, []string, error) {
	var files []*os.File
	var paths []string
	for _, ext := range exts {
		p := filepath.Join(dir, record+ext)
		f, err := os.Create(p)
		if err != nil {
			return files, paths, err
		}
		files, paths = append(files, f), append(paths, p)
	}
	return files, paths, nil
}

// closeAll closes the files and, if err (or a close) failed, removes them,
// so that no half-written record is left.
func closeAll(files []*os.File, paths []string, err error) error {
	for _, f := range files {
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		for _, p := range paths {
			os.Remove(p)
		}
	}
	return err
}

// writeECG streams one ECG record into dir and returns the paths written,
// in the order hea, dat, atr, truth.json[, csv, beats.csv]. A failure
// removes the record's files, so that no half-written record is left.
func writeECG(ctx context.Context, dir string, o synth.ECGOptions, withCSV bool) (_ []string, err error) {
	exts := []string{".hea", ".dat", ".atr", ".truth.json"}
	if withCSV {
		exts = append(exts, ".csv", ".beats.csv")
	}
	files, created, err := createAll(dir, o.Record, exts)
	defer func() { err = closeAll(files, created, err) }()
	if err != nil {
		return nil, err
	}
	w := synth.ECGWriters{Header: files[0], Signal: files[1], Annotations: files[2], Truth: files[3]}
	if withCSV {
		w.CSV, w.BeatsCSV = files[4], files[5]
	}
	_, err = synth.WriteECG(ctx, o, w)
	return created, err
}
