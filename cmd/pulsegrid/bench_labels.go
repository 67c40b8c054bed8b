package main

import (
	"io"
	"runtime/pprof"

	"github.com/google/pprof/profile"
)

// volunteerLabel marks the goroutines of the simulated volunteers in
// the bench's CPU profile (and every goroutine they start).
const volunteerLabel = "side"

var volunteerLabels = pprof.Labels(volunteerLabel, "volunteers")

// labelledShare is the share of the CPU time in the profile r spent in
// goroutines labelled key=value; -1 when the profile cannot be read or
// holds no sample.
func labelledShare(r io.Reader, key, value string) float64 {
	p, err := profile.Parse(r)
	if err != nil {
		return -1
	}
	cpu := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			cpu = i
		}
	}
	if cpu < 0 {
		return -1
	}
	var all, labelled int64
	for _, s := range p.Sample {
		v := s.Value[cpu]
		all += v
		for _, l := range s.Label[key] {
			if l == value {
				labelled += v
				break
			}
		}
	}
	if all == 0 {
		return -1
	}
	return float64(labelled) / float64(all)
}
