// Package template checks an uploaded recording against an ingest template:
// the channels a kind of data is expected to have, their units, plausible
// ranges and minimum sample rates, and what to do when the data breaks a
// rule (mark out-of-range samples missing, or reject the file).
//
// Templates are JSON (docs/formats.md gives the schema) so that
// administrators can store their own; Builtins lists the shipped ones.
//
// Apply never stops at the first problem: it returns every violation, so a
// person can fix a file in one go. Out-of-range samples are grouped into
// runs of consecutive samples, one Violation per run.
package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/csvlog"
	"github.com/pulsegrid/pulsegrid/algorithms/template/plausible"
)

// Template is an ingest template.
type Template struct {
	// Name identifies the template: lowercase letters, digits and '-'.
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	// Channels are the rules for the channels this kind of data has.
	Channels []ChannelRule `json:"channels"`
	// Duplicates is what to do with rows that repeat a time in a CSV log:
	// "drop" (keep the first; the default) or "reject".
	Duplicates string `json:"duplicates,omitempty"`
	// Extra is what to do with channels that match no rule: "keep" (the
	// default), "drop" or "reject".
	Extra string `json:"extra,omitempty"`
}

// ChannelRule describes one kind of channel, e.g. heart rate.
type ChannelRule struct {
	// Role names the kind of channel ("HR", "ECG"); it is also an alias.
	Role string `json:"role"`
	// Aliases are the channel names that are this kind, compared without
	// regard to case or repeated blanks. A trailing '*' matches any rest:
	// "ECG*" matches "ECG", "ECG II" and "ecg2".
	Aliases []string `json:"aliases,omitempty"`
	// Unit is the unit values must be in. Known spellings of the same unit
	// are accepted ("millivolt" for "mV", "/min" for "bpm"), and values in a
	// convertible unit ("uV" for "mV", "kPa" for "mmHg") are converted.
	Unit string `json:"unit"`
	// Min and Max bound plausible physical values, inclusive; absent means
	// no bound.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// OutOfRange is what to do with a sample outside [Min, Max]: "missing"
	// (replace it by a missing value; the default), "reject" (refuse the
	// file) or "keep" (keep it and only report it).
	OutOfRange string `json:"out_of_range,omitempty"`
	// MinRate is the lowest acceptable sample rate in Hz (0: any). A slower
	// channel does not count as this kind.
	MinRate float64 `json:"min_rate,omitempty"`
	// Required says the recording must have at least one channel of this
	// kind (with an acceptable unit and rate); otherwise it is rejected.
	Required bool `json:"required,omitempty"`
}

// The actions a Violation reports.
const (
	ActionMissing   = "missing"   // samples were replaced by missing values
	ActionReject    = "reject"    // the recording was refused
	ActionKept      = "kept"      // reported only; the data was kept as it was
	ActionDropped   = "dropped"   // the channel was removed
	ActionConverted = "converted" // values were converted to the template's unit
	ActionAssumed   = "assumed"   // a missing unit was taken to be the template's
)

// The rules a Violation names.
const (
	RuleRequired = "required" // a required kind of channel is absent
	RuleUnit     = "unit"     // a channel's unit is not the template's
	RuleRate     = "rate"     // a channel's sample rate is below the minimum
	RuleRange    = "range"    // samples are outside the plausible range
	RuleExtra    = "extra"    // a channel matches no rule
	RuleNoMatch  = "no-match" // no channel matches any rule
)

// Violation is one way a recording breaks its template.
type Violation struct {
	Channel string `json:"channel,omitempty"` // the channel's name; empty for the whole recording
	Role    string `json:"role,omitempty"`    // the rule's role, when a rule is concerned
	Rule    string `json:"rule"`              // RuleRequired, RuleUnit...
	// Sample is the first sample of a run of out-of-range samples, Count
	// the run's length, Time its start in seconds and Value the first
	// value; all zero for other rules.
	Sample  int64   `json:"sample,omitempty"`
	Count   int     `json:"count,omitempty"`
	Time    float64 `json:"time,omitempty"`
	Value   float64 `json:"value,omitempty"`
	Action  string  `json:"action"`
	Message string  `json:"message"`
}

// MaxRunsPerChannel bounds the range violations reported for one channel;
// the runs beyond it are summed up in one last violation, so a badly
// clipped record cannot produce millions of them.
const MaxRunsPerChannel = 1000

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// Parse reads a template from JSON and checks it, reporting every problem.
// Unknown fields are an error, so that a misspelt rule is not silently
// ignored.
func Parse(b []byte) (*Template, error) {
	var t Template
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&t); err != nil {
		return nil, fmt.Errorf("template JSON: %w", err)
	}
	if d.More() {
		return nil, errors.New("template JSON: more than one value")
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Validate checks a template and returns all its problems joined.
func (t *Template) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !nameRE.MatchString(t.Name) {
		bad("template name %q: expected lowercase letters, digits and '-' (at most 64)", t.Name)
	}
	switch t.Duplicates {
	case "", "drop", "reject":
	default:
		bad("duplicates %q: expected \"drop\" or \"reject\"", t.Duplicates)
	}
	switch t.Extra {
	case "", "keep", "drop", "reject":
	default:
		bad("extra %q: expected \"keep\", \"drop\" or \"reject\"", t.Extra)
	}
	roles := map[string]int{}
	for i, r := range t.Channels {
		where := fmt.Sprintf("channels[%d] (%s)", i, r.Role)
		if strings.TrimSpace(r.Role) == "" {
			bad("channels[%d]: role is empty: name the kind of channel, e.g. \"HR\"", i)
		}
		if j, dup := roles[normName(r.Role)]; dup {
			bad("%s: role repeats channels[%d]", where, j)
		}
		roles[normName(r.Role)] = i
		for _, a := range r.Aliases {
			if p := strings.TrimSuffix(a, "*"); strings.TrimSpace(p) == "" && !strings.HasSuffix(a, "*") || strings.Contains(p, "*") {
				bad("%s: alias %q: expected a name, optionally ending in '*'", where, a)
			}
		}
		if strings.TrimSpace(r.Unit) == "" {
			bad("%s: unit is empty: say what unit values are in, e.g. \"bpm\"", where)
		}
		for _, v := range []*float64{r.Min, r.Max} {
			if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
				bad("%s: min and max must be finite numbers", where)
			}
		}
		if r.Min != nil && r.Max != nil && *r.Min > *r.Max {
			bad("%s: min %v is above max %v", where, *r.Min, *r.Max)
		}
		switch r.OutOfRange {
		case "", "missing", "reject", "keep":
		default:
			bad("%s: out_of_range %q: expected \"missing\", \"reject\" or \"keep\"", where, r.OutOfRange)
		}
		if r.MinRate < 0 || math.IsNaN(r.MinRate) || math.IsInf(r.MinRate, 0) {
			bad("%s: min_rate %v: expected a non-negative number of Hz", where, r.MinRate)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("template %q: %w", t.Name, errors.Join(errs...))
	}
	return nil
}

// CSVOptions are the CSV reader options the template asks for.
func (t *Template) CSVOptions() csvlog.Options {
	if t.Duplicates == "reject" {
		return csvlog.Options{Duplicates: csvlog.RejectDuplicates}
	}
	return csvlog.Options{Duplicates: csvlog.DropDuplicates}
}

// normName folds case and blanks so that "ABP  sys" matches "abp sys".
func normName(s string) string { return plausible.NormName(s) }

// convert is plausible.Convert: the unit spellings and factors.
func convert(from, to string) (float64, bool) { return plausible.Convert(from, to) }

// Matches reports whether a channel name is of this rule's kind (its role
// or an alias, by plausible.Matches).
func (r *ChannelRule) Matches(name string) bool {
	return plausible.Matches(append([]string{r.Role}, r.Aliases...), name)
}

// rule returns the index of the first rule the channel name matches, or -1.
func (t *Template) rule(name string) int {
	for i := range t.Channels {
		if t.Channels[i].Matches(name) {
			return i
		}
	}
	return -1
}

func rateText(r float64) string {
	if r <= 0 {
		return ""
	}
	return fmt.Sprintf(", at least %g Hz", r)
}

func (t *Template) roles() string {
	var s []string
	for _, r := range t.Channels {
		s = append(s, r.Role)
	}
	return strings.Join(s, ", ")
}

func rangeText(r *ChannelRule) string {
	switch {
	case r.Min != nil && r.Max != nil:
		return fmt.Sprintf("%g…%g", *r.Min, *r.Max)
	case r.Min != nil:
		return fmt.Sprintf("≥ %g", *r.Min)
	}
	return fmt.Sprintf("≤ %g", *r.Max)
}

// clock formats seconds as h:mm:ss.sss for messages.
func clock(s float64) string {
	h := int(s / 3600)
	m := int(s/60) % 60
	sec := s - float64(h*3600+m*60)
	return fmt.Sprintf("%d:%02d:%06.3f", h, m, sec)
}
