package vitals

import (
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// benchRun measures Run on the chunks of a record, in samples per second.
func benchRun(b *testing.B, alg pipeline.Algorithm, sig *signal.Signal) {
	p, _ := alg.Params(nil)
	chunks, err := alg.Split(sig, p, pipeline.SplitOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, c := range chunks {
		for _, ch := range c.Task.Channels {
			n += int64(len(ch.Samples))
		}
	}
	b.ResetTimer()
	for b.Loop() {
		for i := range chunks {
			if _, err := alg.Run(&chunks[i].Task, pipeline.NoYield{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

func BenchmarkSummaryRun041s(b *testing.B) { benchRun(b, NewSummary(), mustRecord(b, "041s.hea")) }

func BenchmarkSummaryRunMinuteLog(b *testing.B) {
	benchRun(b, NewSummary(), mustRecord(b, "s00001-2896-10-10-00-31n.hea"))
}

func BenchmarkAlarmsRunMinuteLog(b *testing.B) {
	benchRun(b, NewAlarms(), mustRecord(b, "s00001-2896-10-10-00-31n.hea"))
}
