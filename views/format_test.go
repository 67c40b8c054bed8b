package views

import (
	"math"
	"testing"
)

func TestFormats(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"DurationSubSecond", fmtDuration(0.42), "0.4 s"},
		{"DurationSeconds", fmtDuration(16), "16 s"},
		{"DurationMinutes", fmtDuration(30*60 + 6), "30 min 6 s"},
		{"DurationWholeMinutes", fmtDuration(300), "5 min"},
		{"DurationHours", fmtDuration(32*3600 + 16*60), "32 h 16 min"},
		{"DurationHoursRoundsMinutes", fmtDuration(3600 + 59*60 + 45), "2 h"},
		{"DurationUnknown", fmtDuration(nan), "–"},
		{"ETASeconds", fmtETA(1.2), "2 s"},
		{"ETAMinutes", fmtETA(95), "1 min 35 s"},
		{"ETAUnknown", fmtETA(-1), "unknown"},
		{"NumNegativeZero", fmtNum(-0.04, 1), "0.0"},
		{"NumNegativeZeroInteger", fmtNum(-0.4, 0), "0"},
		{"NumNegative", fmtNum(-0.25, 1), "-0.2"},
		{"Count", fmtCount(529), "529"},
		{"RangeNegatives", fmtRange(-0.2, 0.2, 1), "−0.2 to 0.2"},
		{"RangeBothNegative", fmtRange(-0.3, -0.2, 1), "−0.3 to −0.2"},
		{"RangeNegativeZero", fmtRange(-0.01, 0.2, 1), "0.0 to 0.2"},
		{"RateOnePerMinute", fmtRate(1.0 / 60), "0.017"},
		{"RateMIT", fmtRate(360), "360"},
		{"RateFraction", fmtRate(62.5), "62.5"},
		{"RateLong", fmtRate(128.0000001), "128"},
		{"RateHalf", fmtRate(0.5), "0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}
