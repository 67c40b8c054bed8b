package views

import (
	"slices"
	"testing"

	"github.com/pulsegrid/pulsegrid"
)

// TestPrioritiesAreTheDomains: the analysis form offers exactly the
// priorities of vocabulary.go, and its default is one of them; a priority
// added to the domain without a radio button on the form fails here.
func TestPrioritiesAreTheDomains(t *testing.T) {
	var got []string
	for _, o := range Priorities {
		got = append(got, o.Value)
	}
	if want := pulsegrid.Priorities; !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("the form offers priorities %q, want %q", got, want)
	}
	if !pulsegrid.ValidPriority(defaultPriority) {
		t.Errorf("default priority %q is not a priority", defaultPriority)
	}
	if !slices.Contains(pulsegrid.Statuses, statusDone) {
		t.Errorf("statusDone %q is not a status", statusDone)
	}
}
