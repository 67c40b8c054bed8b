package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/synth"
)

func runSimulate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"pulsegrid", "simulate"}, args...), func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), err
}

func TestSimulate(t *testing.T) {
	dir := t.TempDir()
	// Flags before and after the kind; no CSV unless asked.
	out, err := runSimulate(t, "--out", filepath.Join(dir, "a"), "ecg", "--records", "2", "--minutes", "0.5", "--seed", "9")
	if err != nil {
		t.Fatal(err)
	}
	if want := "ecg001.hea ecg001.dat ecg001.atr ecg001.truth.json ecg002.hea ecg002.dat ecg002.atr ecg002.truth.json"; strings.Join(baseNames(out), " ") != want {
		t.Fatalf("stdout: got %q, want %q", baseNames(out), want)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "a")); len(entries) != 8 {
		t.Errorf("%d files in the directory, want the 8 listed", len(entries))
	}
	for _, l := range strings.Fields(out) {
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

	// Same seed, same bytes — also for a record generated alone, and with
	// --csv, which adds the two CSV files and changes nothing else.
	if _, err := runSimulate(t, "ecg", "--out", filepath.Join(dir, "b"), "--records", "1", "--minutes", "0.5", "--seed", "9", "--csv"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"ecg001.hea", "ecg001.dat", "ecg001.atr", "ecg001.truth.json"} {
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
	out, err = runSimulate(t, "vitals", "--out", filepath.Join(dir, "w"), "--minutes", "30", "--csv=false")
	if err != nil {
		t.Fatal(err)
	}
	if want := "vitals001.hea vitals001.dat vitals001.alarms.json"; strings.Join(baseNames(out), " ") != want {
		t.Errorf("vitals files with --csv=false: got %q, want %q", baseNames(out), want)
	}
}

// TestSimulateStreamsWhatFilesHolds: the files the command streams are the
// bytes of the in-memory generator (synth.NewECG and Files, which encode
// with the WFDB package's own writer), events and CSV included.
func TestSimulateStreamsWhatFilesHolds(t *testing.T) {
	dir := t.TempDir()
	if _, err := runSimulate(t, "ecg", "--out", dir, "--minutes", "3", "--seed", "4", "--rate", "250", "--events", "none,pvc=3,nsvt=1,pause=1", "--csv"); err != nil {
		t.Fatal(err)
	}
	ev, err := synth.ParseEvents("none,pvc=3,nsvt=1,pause=1", 3)
	if err != nil {
		t.Fatal(err)
	}
	e, err := synth.NewECG(synth.ECGOptions{Record: "ecg001", Minutes: 3, Rate: 250, Seed: 4, Stream: 0, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	files, err := e.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.Data) {
			t.Errorf("%s: %d bytes written differ from the %d generated in memory", f.Name, len(got), len(f.Data))
		}
	}
	var truth synth.Truth
	data, _ := os.ReadFile(filepath.Join(dir, "ecg001.truth.json"))
	if err := json.Unmarshal(data, &truth); err != nil {
		t.Fatal(err)
	}
	if truth.Counts != ev || len(truth.Events) != 5 {
		t.Errorf("truth: counts %v and %d events, want %v", truth.Counts, len(truth.Events), ev)
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
		{"ErrProfile", []string{"ecg", "--out", dir, "--events", "many"}, `--events: events "many": expected a profile (none, default or dense) first, then KIND=COUNT overrides`},
		{"ErrKindCount", []string{"ecg", "--out", dir, "--events", "none,vf=2"}, `--events: events "none,vf=2": unknown kind "vf" (expected one of pvc, svpb, fusion, couplet, triplet, nsvt, sv_run, bigeminy, trigeminy, pause, bradycardia, tachycardia, af)`},
		{"ErrNoFit", []string{"ecg", "--out", dir, "--minutes", "2", "--events", "none,af=2"}, "ECG record ecg001: events none,af=2 need at least 2.4 minutes of recording; this one has 2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runSimulate(t, tt.args...)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	// A record that fails leaves no half-written files behind.
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d files left in the directory after errors", len(entries))
	}
}
