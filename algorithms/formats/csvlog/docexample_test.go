package csvlog

import (
	"fmt"
	"testing"
)

// TestDocExample keeps the example of docs/formats.md true.
func TestDocExample(t *testing.T) {
	in := "# exported from ward 7 monitor 3\ntime,HR [bpm],SpO2 [%],ABP Sys [mmHg],RESP [/min]\n0,72,98,NA,14\n60,74,,121,15\n120,73,97,119,-\n240,75,96,118,16\n"
	rec, err := Read("ward7.csv", []byte(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"HR [bpm] [72 74 73 NaN 75]", "SpO2 [%] [98 NaN 97 NaN 96]", "ABP Sys [mmHg] [NaN 121 119 NaN 118]", "RESP [/min] [14 15 NaN NaN 16]"}
	for i, c := range rec.Signal.Channels {
		if got := fmt.Sprintf("%s [%s] %v", c.Name, c.Unit, c.Samples); got != want[i] || c.Rate != 1.0/60 {
			t.Errorf("channel %d: got %s at %v Hz, want %s at 1/60 Hz", i, got, c.Rate, want[i])
		}
	}
}
