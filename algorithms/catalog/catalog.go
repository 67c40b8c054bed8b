// Package catalog lists every algorithm pulsegrid ships, so that the server,
// the native volunteer and the browser worker agree on what exists.
package catalog

import (
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
)

// All returns a new registry of every shipped algorithm.
func All() *pipeline.Registry {
	return pipeline.NewRegistry(
	// One line per algorithm, e.g. ecg.NewBeats(),
	)
}
