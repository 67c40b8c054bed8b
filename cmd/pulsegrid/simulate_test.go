package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
)

func runSimulate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"pulsegrid", "simulate"}, args...), func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), err
}

func TestSimulate(t *testing.T) {
	dir := t.TempDir()
	// Flags before and after the kind.
	out, err := runSimulate(t, "--out", filepath.Join(dir, "a"), "ecg", "--records", "2", "--minutes", "0.5", "--seed", "9")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 10 || lines[0] != filepath.Join(dir, "a", "ecg001.hea") || lines[9] != filepath.Join(dir, "a", "ecg002.beats.csv") {
		t.Fatalf("stdout: got %q, want one line per file, ecg001.hea first", lines)
	}
	for _, l := range lines {
		if _, err := os.Stat(l); err != nil {
			t.Error(err)
		}
	}
	rec, err := wfdb.ReadRecord(filepath.Join(dir, "a", "ecg002.hea"), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Signal.Channels[0].Samples); n != 360*30 {
		t.Errorf("got %d samples, want 30 s at 360 Hz", n)
	}

	// Same seed, same bytes — also for a record generated alone.
	if _, err := runSimulate(t, "ecg", "--out", filepath.Join(dir, "b"), "--records", "1", "--minutes", "0.5", "--seed", "9"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ecg001.dat", "ecg001.atr", "ecg001.csv"} {
		a, _ := os.ReadFile(filepath.Join(dir, "a", f))
		b, _ := os.ReadFile(filepath.Join(dir, "b", f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between runs with the same seed", f)
		}
	}

	out, err = runSimulate(t, "vitals", "--out", filepath.Join(dir, "v"), "--minutes", "30", "--rate", "1")
	if err != nil {
		t.Fatal(err)
	}
	if want := "vitals001.hea vitals001.dat vitals001.csv vitals001.alarms.json"; strings.Join(baseNames(out), " ") != want {
		t.Errorf("vitals files: got %q, want %q", baseNames(out), want)
	}
}

func baseNames(out string) []string {
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		names = append(names, filepath.Base(l))
	}
	return names
}

func TestSimulateErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"ErrKind", []string{"eeg", "--out", dir}, `simulate needs one kind, ecg or vitals (got ["eeg"])`},
		{"ErrNoKind", []string{"--out", dir}, `simulate needs one kind, ecg or vitals (got [])`},
		{"ErrNoOut", []string{"ecg"}, "simulate needs --out DIR"},
		{"ErrRecords", []string{"ecg", "--out", dir, "--records", "0"}, "--records 0: expected 1 to 100000"},
		{"ErrRate", []string{"ecg", "--out", dir, "--rate", "10"}, "ECG sample rate 10 Hz: expected 50 to 10000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runSimulate(t, tt.args...)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}
