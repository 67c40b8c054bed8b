package ecg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// Lead selects the ECG channel to analyse: automatically (the zero value),
// by channel name, or by 0-based channel index. In JSON it is "auto", a
// name string, or an index number.
type Lead struct {
	Name  string // channel name; empty with ByIndex false means automatic
	Index int    // channel index, when ByIndex
	// ByIndex says Index, not Name, selects the channel.
	ByIndex bool
}

// MarshalJSON writes "auto", the name, or the index.
func (l Lead) MarshalJSON() ([]byte, error) {
	switch {
	case l.ByIndex:
		return []byte(strconv.Itoa(l.Index)), nil
	case l.Name == "":
		return []byte(`"auto"`), nil
	}
	return json.Marshal(l.Name)
}

// UnmarshalJSON accepts "auto", a channel name, or a non-negative integer.
func (l *Lead) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("lead: %w", err)
		}
		if s == "auto" || s == "" {
			*l = Lead{}
		} else {
			*l = Lead{Name: s}
		}
		return nil
	}
	if string(b) == "null" {
		*l = Lead{}
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return fmt.Errorf("lead: got %s, want \"auto\", a channel name or a channel index (0, 1, ...)", b)
	}
	*l = Lead{Index: n, ByIndex: true}
	return nil
}

// preferredLeads are the channel names chosen automatically, best first:
// the limb leads where the QRS is usually tallest, then any ECG channel.
var preferredLeads = []string{"MLII", "II", "ML II", "ECG II", "ECG", "ECG1", "ECG 1", "EKG", "V5", "V2", "V1", "I", "III", "MLI", "MLIII", "AVF", "V3", "V4", "V6", "AVR", "AVL"}

// isECGName reports whether a channel name looks like an ECG lead.
func isECGName(name string) bool {
	u := strings.ToUpper(strings.TrimSpace(name))
	if strings.Contains(u, "ECG") || strings.Contains(u, "EKG") {
		return true
	}
	for _, p := range preferredLeads {
		if u == p {
			return true
		}
	}
	return false
}

// ChooseLead returns the index of the channel the lead selects. The
// automatic choice takes the first channel named like the most preferred
// lead (MLII, II, ECG, …), then the first channel named like any ECG lead,
// then the first channel in mV or µV sampled at 100 Hz or more.
func ChooseLead(sig *signal.Signal, l Lead) (int, error) {
	switch {
	case l.ByIndex:
		if l.Index >= len(sig.Channels) {
			return 0, fmt.Errorf("lead %d: the signal has %d channels (0..%d)", l.Index, len(sig.Channels), len(sig.Channels)-1)
		}
		return l.Index, nil
	case l.Name != "":
		if i := sig.Channel(l.Name); i >= 0 {
			return i, nil
		}
		return 0, fmt.Errorf("lead %q: no such channel (have %s)", l.Name, channelNames(sig))
	}
	for _, p := range preferredLeads {
		for i := range sig.Channels {
			if strings.EqualFold(strings.TrimSpace(sig.Channels[i].Name), p) {
				return i, nil
			}
		}
	}
	for i := range sig.Channels {
		if isECGName(sig.Channels[i].Name) {
			return i, nil
		}
	}
	for i, c := range sig.Channels {
		u := strings.ToLower(c.Unit)
		if (u == "mv" || u == "uv" || u == "µv") && c.Rate >= 100 {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no ECG channel found among %s: name one with the \"lead\" parameter", channelNames(sig))
}

func channelNames(sig *signal.Signal) string {
	var names []string
	for _, c := range sig.Channels {
		names = append(names, strconv.Quote(c.Name))
	}
	if len(names) == 0 {
		return "no channels"
	}
	return strings.Join(names, ", ")
}
