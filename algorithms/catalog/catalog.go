// Package catalog lists every algorithm pulsegrid ships, so that the server,
// the native volunteer and the browser worker agree on what exists.
package catalog

import (
	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/algorithms/hrv"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/vitals"
)

// All returns a new registry of every shipped algorithm.
func All() *pipeline.Registry {
	return pipeline.NewRegistry(
		ecg.NewBeats(), ecg.NewClassify(),
		ecg.NewBeats2(), ecg.NewClassify2(),
		vitals.NewSummary(), vitals.NewAlarms(),
		hrv.NewECG(), hrv.NewECG2(),
	)
}
