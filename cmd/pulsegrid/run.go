package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/algorithms/export"
	"github.com/pulsegrid/pulsegrid/algorithms/formats"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
)

func init() {
	commands["run"] = command{
		summary: "run an algorithm on files here, without the grid (the reference)",
		run:     cmdRun,
	}
}

func cmdRun(ctx context.Context, e env) error {
	fs := newFlagSet("run", "run ALGORITHM FILE... [--params JSON] [--out FILE] [--format json|csv|wfdb]", e.stderr)
	params := fs.String("params", "{}", "algorithm parameters as JSON")
	out := fs.String("out", "", "write the result here instead of standard output")
	format := fs.String("format", "json", "result format: json, csv or wfdb (an MIT annotation file)")
	chunk := fs.Float64("chunk-seconds", 0, "seconds of signal per chunk (0: the algorithm's default)")
	whole := fs.Bool("whole", false, "run the whole record as one chunk")
	workers := fs.Int("workers", 0, "chunks computed at once (0: all cores)")
	pos, err := parseInterleaved(fs, e.args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		fs.Usage()
		return fmt.Errorf("run needs an algorithm and at least one file (known algorithms: %s)", strings.Join(catalog.All().Names(), ", "))
	}
	alg, err := catalog.All().Lookup(pos[0])
	if err != nil {
		return err
	}
	canonical, err := alg.Params(json.RawMessage(*params))
	if err != nil {
		return fmt.Errorf("--params: %w", err)
	}
	var files []formats.File
	for _, p := range pos[1:] {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, formats.File{Name: filepath.Base(p), Data: b})
	}
	rec, err := formats.Read(files)
	if err != nil {
		return err
	}
	chunks, err := alg.Split(&rec.Signal, canonical, pipeline.SplitOptions{ChunkSeconds: *chunk, Whole: *whole})
	if err != nil {
		return fmt.Errorf("%s: %w", alg.Name(), err)
	}
	bar := newProgressBar(e.stderr, alg.Name())
	res, err := pipeline.RunLocal(ctx, alg, chunks, canonical, pipeline.LocalOptions{Workers: *workers, Progress: bar.update})
	bar.finish()
	if err != nil {
		return fmt.Errorf("%s: %w", alg.Name(), err)
	}
	file, err := export.Encode(res, *format)
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	body := file.Data
	if *out == "" {
		_, err = e.stdout.Write(body)
		return err
	}
	if err := writeFileAtomicMode(*out, body, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: %s → %s\n", alg.Name(), res.Summary(), *out)
	return nil
}

// writeFileAtomic writes a private file (0600, e.g. a volunteer's
// identity) through a temporary file and a rename, so that a crash never
// leaves a half-written file behind.
func writeFileAtomic(path string, b []byte) error { return writeFileAtomicMode(path, b, 0o600) }

// writeFileAtomicMode is writeFileAtomic with the file's permissions: a
// result the user asked for with --out is 0644 like any other output
// file, since os.CreateTemp makes 0600 files.
func writeFileAtomicMode(path string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// progressBar draws chunk progress on a terminal and stays silent otherwise.
type progressBar struct {
	w     io.Writer
	label string
	on    bool
}

func newProgressBar(w io.Writer, label string) *progressBar {
	f, ok := w.(*os.File)
	on := false
	if ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	return &progressBar{w: w, label: label, on: on}
}

func (p *progressBar) update(done, total int) {
	if !p.on || total == 0 {
		return
	}
	const width = 30
	n := done * width / total
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d chunks", p.label, strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total)
}

func (p *progressBar) finish() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
