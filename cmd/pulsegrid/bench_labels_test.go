package main

import (
	"bytes"
	"testing"

	"github.com/google/pprof/profile"
)

// TestLabelledShare: the share of CPU in samples labelled side=volunteers,
// weighted by their CPU time, not by their count, from a profile written
// as runtime/pprof writes it. One-line bugs it catches (both checked): a
// sample with another value of the label counted (0.4), the sample counts
// read instead of the cpu time (1 of 3).
func TestLabelledShare(t *testing.T) {
	samples, cpu := &profile.ValueType{Type: "samples", Unit: "count"}, &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}
	fn := &profile.Function{ID: 1, Name: "f"}
	loc := &profile.Location{ID: 1, Line: []profile.Line{{Function: fn}}}
	p := &profile.Profile{SampleType: []*profile.ValueType{samples, cpu}, Function: []*profile.Function{fn}, Location: []*profile.Location{loc},
		PeriodType: cpu, Period: 10_000_000}
	add := func(ns int64, labels map[string][]string) {
		p.Sample = append(p.Sample, &profile.Sample{Location: []*profile.Location{loc}, Value: []int64{1, ns}, Label: labels})
	}
	add(30_000_000, map[string][]string{volunteerLabel: {"volunteers"}})
	add(60_000_000, nil)
	add(10_000_000, map[string][]string{volunteerLabel: {"server"}})
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil {
		t.Fatal(err)
	}
	if got := labelledShare(&buf, volunteerLabel, "volunteers"); got != 0.3 {
		t.Errorf("share %v, want 0.3 (30 of 100 ms)", got)
	}
	if got := labelledShare(bytes.NewReader([]byte("not a profile")), volunteerLabel, "volunteers"); got != -1 {
		t.Errorf("share of an unreadable profile %v, want -1", got)
	}
}
