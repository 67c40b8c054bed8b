package hrv

import "testing"

// BenchmarkCompute24hWindows is a day of beats (EC57 TP2, 108 000 beats) in
// 5-minute windows, the exact periodogram.
func BenchmarkCompute24hWindows(b *testing.B) {
	times := loadPattern(b, "HRV256_TP2.txt")
	normal := allNormal(len(times))
	for b.Loop() {
		if _, err := Compute(times, normal, DefaultOptions()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(times))*float64(b.N)/b.Elapsed().Seconds(), "beats/s")
}

// BenchmarkCompute24hWhole is the same day as one window: the fast
// periodogram.
func BenchmarkCompute24hWhole(b *testing.B) {
	times := loadPattern(b, "HRV256_TP2.txt")
	normal := allNormal(len(times))
	for b.Loop() {
		if _, err := Compute(times, normal, EC57Options()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(times))*float64(b.N)/b.Elapsed().Seconds(), "beats/s")
}
