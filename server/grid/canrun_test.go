package grid

import (
	"errors"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// TestCanRunMessages: CanRun decides from a recording's channels alone, and
// a refusal says each thing once: "ALGORITHM cannot run on RECORDING:
// REASON", with the recording's name and no second copy of the algorithm's
// name (vitals.alarms puts it ahead of its own errors).
func TestCanRunMessages(t *testing.T) {
	ecg := store.Dataset{ID: 6, Name: "Holter bed 4", Channels: []store.ChannelInfo{{Name: "MLII", Unit: "mV", Rate: 360, Samples: 650000}, {Name: "V5", Unit: "mV", Rate: 360, Samples: 650000}}}
	ward := store.Dataset{ID: 7, Name: "ICU night", Channels: []store.ChannelInfo{{Name: "HR", Unit: "bpm", Rate: 1, Samples: 3600}, {Name: "SpO2", Unit: "%", Rate: 1, Samples: 3600}}}
	empty := store.Dataset{ID: 8, Name: "Nothing"}
	reg := catalog.All()
	for _, tc := range []struct {
		name    string
		alg     string
		ds      store.Dataset
		params  string // "" for the defaults
		wantErr string // "" when it can run
	}{
		{"BeatsOnECG", "ecg.beats@1", ecg, "", ""},
		{"HRVOnECG", "ecg.hrv@1", ecg, "", ""},
		{"SummaryOnECG", "vitals.summary@1", ecg, "", ""},
		{"AlarmsOnWard", "vitals.alarms@1", ward, "", ""},
		{"SummaryOnWard", "vitals.summary@1", ward, "", ""},
		{"ErrBeatsOnWard", "ecg.beats@1", ward, "", `ecg.beats@1 cannot run on ICU night: no ECG channel found among "HR", "SpO2": name one with the "lead" parameter`},
		{"ErrAlarmsOnECG", "vitals.alarms@1", ecg, "", "vitals.alarms@1 cannot run on Holter bed 4: no rule applies to this record (channels MLII, V5)"},
		{"ErrSummaryNoSuchChannel", "vitals.summary@1", ward, `{"channels": ["ABP"]}`, `vitals.summary@1 cannot run on ICU night: no channel "ABP" (the record has HR, SpO2)`},
		{"ErrNoChannels", "ecg.beats@1", empty, "", "ecg.beats@1 cannot run on Nothing: the recording has no channels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alg, err := reg.Lookup(tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			var raw []byte
			if tc.params != "" {
				raw = []byte(tc.params)
			}
			params, err := alg.Params(raw)
			if err != nil {
				t.Fatal(err)
			}
			err = CanRun(alg, tc.ds, params)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want it to run", err)
				}
				return
			}
			var se *SplitError
			if !errors.As(err, &se) {
				t.Fatalf("got %v (%T), want a *SplitError", err, err)
			}
			if got := err.Error(); got != tc.wantErr {
				t.Errorf("got %q,\nwant %q", got, tc.wantErr)
			}
			if se.Algorithm != tc.alg || se.Dataset != tc.ds.Name || se.Algorithm+" cannot run on "+se.Dataset+": "+se.Reason != tc.wantErr {
				t.Errorf("fields: %+v", se)
			}
		})
	}
}
