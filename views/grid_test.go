package views

import (
	"testing"
	"time"
)

func TestFmtCompletion(t *testing.T) {
	tests := []struct {
		name    string
		avg     time.Duration
		results int64
		want    string
	}{
		{"NoResults", 0, 0, "–"},
		{"TooQuick", 0, 12, "< 1 ms"},
		{"Milliseconds", 4500 * time.Microsecond, 3, "4 ms"},
		{"Seconds", 1500 * time.Millisecond, 9, "1.50 s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fmtCompletion(tc.avg, tc.results); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
