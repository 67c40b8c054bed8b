// Package signal holds the normalized, de-identified form that every reader
// produces and every algorithm consumes.
//
// A Signal carries samples only. Everything that could identify a patient
// (names, ids, birth dates, recording dates, file names) lives in Identity,
// which readers return beside the Signal and which never enters a chunk.
package signal

import (
	"fmt"
	"math"
)

// Channel is one named, uniformly sampled series of physical values.
type Channel struct {
	Name string  // e.g. "MLII", "HR"
	Unit string  // e.g. "mV", "bpm"
	Rate float64 // samples per second; sub-Hz rates are allowed (1/60 for minute logs)
	// Gain is the number of ADC units per physical unit when the source was
	// digital (WFDB, EDF), 0 when unknown (CSV). Algorithms may use it to work
	// on exact integer sample values.
	Gain    float64
	Samples []float64 // a missing sample is NaN (see Missing)
}

// Missing is the value of a sample that is absent or invalid.
var Missing = math.NaN()

// IsMissing reports whether a sample value marks a missing sample.
func IsMissing(v float64) bool { return v != v }

// Duration is the length of the channel in seconds.
func (c *Channel) Duration() float64 {
	if c.Rate <= 0 {
		return 0
	}
	return float64(len(c.Samples)) / c.Rate
}

// MissingCount is the number of missing samples in the channel.
func (c *Channel) MissingCount() int {
	n := 0
	for _, v := range c.Samples {
		if IsMissing(v) {
			n++
		}
	}
	return n
}

// Signal is a de-identified recording: channels of samples and nothing else.
type Signal struct {
	Channels []Channel
}

// Duration is the length of the longest channel in seconds.
func (s *Signal) Duration() float64 {
	var d float64
	for i := range s.Channels {
		d = math.Max(d, s.Channels[i].Duration())
	}
	return d
}

// Channel returns the index of the first channel with the given name, or -1.
func (s *Signal) Channel(name string) int {
	for i := range s.Channels {
		if s.Channels[i].Name == name {
			return i
		}
	}
	return -1
}

// Validate checks the structural invariants every algorithm relies on.
func (s *Signal) Validate() error {
	if len(s.Channels) == 0 {
		return fmt.Errorf("signal has no channels")
	}
	for i, c := range s.Channels {
		if !(c.Rate > 0) || math.IsInf(c.Rate, 0) {
			return fmt.Errorf("channel %d (%q): sample rate %v is not a positive number", i, c.Name, c.Rate)
		}
		if err := CheckSamples(i, c.Name, 0, c.Samples); err != nil {
			return err
		}
	}
	return nil
}

// CheckSamples checks samples of channel i (named name), the first of them
// being sample first of the channel, as Validate checks every sample: for
// callers that see a channel block by block.
func CheckSamples(i int, name string, first int64, samples []float64) error {
	for j, v := range samples {
		if math.IsInf(v, 0) {
			return fmt.Errorf("channel %d (%q): sample %d is infinite", i, name, first+int64(j))
		}
	}
	return nil
}

// Identity holds the identifying fields found in a recording's headers. It is
// stored apart from the Signal and is never sent to a volunteer.
type Identity struct {
	PatientID   string   `json:"patient_id,omitempty"`
	PatientName string   `json:"patient_name,omitempty"`
	BirthDate   string   `json:"birth_date,omitempty"`
	Sex         string   `json:"sex,omitempty"`
	RecordedAt  string   `json:"recorded_at,omitempty"` // as found in the header, ISO-8601 where it could be parsed
	Record      string   `json:"record,omitempty"`      // record name, e.g. "100"
	FileNames   []string `json:"file_names,omitempty"`
	Comments    []string `json:"comments,omitempty"` // free-text header comments, which often carry age/sex/diagnosis
}

// Annotation is one labelled event at a sample of a record, in the vocabulary
// of MIT/WFDB annotation files.
type Annotation struct {
	Sample  int64  `json:"sample"`
	Code    int    `json:"code"`              // MIT annotation code, e.g. 1 = NORMAL
	Subtype int    `json:"subtype,omitempty"` // "subtyp"
	Chan    int    `json:"chan,omitempty"`
	Num     int    `json:"num,omitempty"`
	Aux     string `json:"aux,omitempty"`
}

// Recording is what a reader returns: the de-identified signal, the identity
// kept apart from it, and any annotations that came with the files.
type Recording struct {
	Signal      Signal
	Identity    Identity
	Annotations []Annotation
	// AnnotationRate is the sample rate the annotation sample indices refer to
	// (the record's frame rate for WFDB); 0 when there are no annotations.
	AnnotationRate float64
}
