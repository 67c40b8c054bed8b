package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pulsegrid/pulsegrid/algorithms/synth"
)

func init() {
	commands["simulate"] = command{
		summary: "write synthetic recordings with ground truth (ECG beats, alarm episodes)",
		run:     cmdSimulate,
	}
}

// cmdSimulate writes N synthetic records of one kind into a directory:
//
//	ecg:    NAME.hea/.dat (WFDB 212), NAME.atr (true beats, MIT), NAME.csv, NAME.beats.csv
//	vitals: NAME.hea/.dat (WFDB 16), NAME.csv, NAME.alarms.json (injected episodes)
//
// Record i of seed S is always the same bytes, whatever N is.
func cmdSimulate(ctx context.Context, e env) error {
	fs := newFlagSet("simulate", "simulate ecg|vitals --out DIR [--records N] [--minutes M] [--seed S] [--rate HZ]", e.stderr)
	out := fs.String("out", "", "directory to write the records into (created if needed)")
	records := fs.Int("records", 1, "number of records")
	minutes := fs.Float64("minutes", 0, "length of each record in minutes (0: 30 for ecg, 60 for vitals)")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same files")
	rate := fs.Float64("rate", 0, "samples per second (0: 360 for ecg, 1 for vitals; 0.0166666666667 gives minute logs)")
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
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	digits := max(3, len(fmt.Sprint(*records)))
	for i := range *records {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := fmt.Sprintf("%s%0*d", kind, digits, i+1)
		var files []synth.File
		switch kind {
		case "ecg":
			rec, err := synth.NewECG(synth.ECGOptions{Record: name, Minutes: *minutes, Rate: *rate, Seed: *seed, Stream: uint64(i)})
			if err != nil {
				return err
			}
			files, err = rec.Files()
			if err != nil {
				return err
			}
		case "vitals":
			rec, err := synth.NewVitals(synth.VitalsOptions{Record: name, Minutes: *minutes, Rate: *rate, Seed: *seed, Stream: uint64(i)})
			if err != nil {
				return err
			}
			files, err = rec.Files()
			if err != nil {
				return err
			}
		}
		for _, f := range files {
			p := filepath.Join(*out, f.Name)
			if err := os.WriteFile(p, f.Data, 0o644); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, p)
		}
	}
	return nil
}
