package views

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/views/charts"
)

// holterFixture is a report of hours hours with events events, each with
// a strip of a sine "ECG" in mV with a V beat in it.
func holterFixture(hours, events int) (HolterPage, []EventStrip) {
	p := HolterPage{AnalysisID: 7, DatasetID: 3, Record: "rec-24h (Müller)", RecordingSec: float64(hours) * 3600, AnalysedSec: float64(hours) * 3600,
		Beats: hours * 4000, N: hours * 3900, V: hours * 100, WindowSec: 8, MinHR: 48, MinHRAt: 3 * 3600, MeanHR: 71, MaxHR: 142, MaxHRAt: 3600,
		PauseThreshold: 2, LongestPause: 2.4, LongestPauseAt: 5000, HRVNote: "24-hour norms apply.",
		HRV:    []HolterMeasure{{Name: "SDNN", Unit: "ms", Value: 131.2, Norm: "141 ± 39"}},
		Counts: []HolterCount{{Kind: "Ventricular couplet", Count: events}}, TrendBin: 60}
	for h := range hours {
		p.Hours = append(p.Hours, HolterHour{Start: float64(h) * 3600, Beats: 4000, MinHR: 50, MeanHR: 70, MaxHR: 120, V: 100})
	}
	for m := 0; m < hours*60; m++ {
		p.TrendT = append(p.TrendT, float64(m)*60+30)
		p.TrendMean = append(p.TrendMean, 70+10*math.Sin(float64(m)/100))
		p.TrendMin = append(p.TrendMin, 60)
		p.TrendMax = append(p.TrendMax, math.NaN()) // not covered: a gap, not a zero
	}
	var strips []EventStrip
	for i := range events {
		e := HolterEvent{Kind: "Ventricular couplet", Start: float64(i) * 600, Duration: 0.8, Beats: 2, RateBPM: 150}
		p.Events = append(p.Events, e)
		if i >= MaxPDFStrips {
			continue
		}
		s := StripView{From: e.Start - 2, To: e.Start - 2 + PDFStripSeconds, Lead: "MLII", Unit: "mV", Rate: 360, Start: e.Start - 2}
		for k := range int(PDFStripSeconds * 360) {
			s.Samples = append(s.Samples, math.Sin(float64(k)/20))
		}
		s.Detected = []charts.Mark{{Time: e.Start}, {Time: e.Start + 0.4, Label: "V"}}
		strips = append(strips, EventStrip{Event: e, Strip: s})
	}
	return p, strips
}

// TestHolterPDF: the PDF holds the page's figures, repeats a table's header
// on each page it runs onto (a table cut at a page break without it is
// unreadable), says when only some events have strips, and labels beats.
func TestHolterPDF(t *testing.T) {
	p, strips := holterFixture(24, 50)
	var out bytes.Buffer
	if err := holterPDF(p, strips, time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC), false).Output(&out); err != nil {
		t.Fatal(err)
	}
	pdf := out.String()
	if !strings.HasPrefix(pdf, "%PDF-") {
		t.Fatalf("not a PDF: %q", pdf[:min(20, len(pdf))])
	}
	for _, want := range []string{
		"(Holter report: rec-24h \\(M\xfcller\\))", // cp1252, parentheses escaped
		"(Hourly table)", "(48 bpm at 03:00:00)", "(142 bpm at 01:00:00)", "(131.2 ms)", "(141 \xb1 39 ms)",
		fmt.Sprintf("(%d of 50 events, each kind of event among them. 25 mm/s, 10 mm/mV", MaxPDFStrips),
		"(Ventricular couplet at 00:10:00: 0.8 s, 2 beats, 150 bpm \\(lead MLII\\))",
		"(V)", "(page 1 of ",
	} {
		if !strings.Contains(pdf, want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	if n := strings.Count(pdf, "(Hour from)"); n < 2 {
		t.Errorf("the hourly table's header appears %d times; 24 hours run onto a second page", n)
	}
	if n := strings.Count(pdf, "(Ventricular couplet at "); n != MaxPDFStrips {
		t.Errorf("%d strips drawn, want %d", n, MaxPDFStrips)
	}
	// Atrial fibrillation with a rapid ventricular response says so in
	// the summary, its event row and its strip.
	p, _ = holterFixture(1, 0)
	p.AFEpisodes, p.AFRVREpisodes, p.AFRVRSec, p.TachyBPM, p.EpisodeSec = 1, 1, 125, 100, 10
	af := HolterEvent{Kind: "Atrial fibrillation", Start: 600, Duration: 600, Beats: 1120, RateBPM: 112, MaxRateBPM: 143, RVRSec: 125}
	p.Events = []HolterEvent{af}
	s := StripView{From: 598, To: 598 + PDFStripSeconds, Lead: "MLII", Unit: "mV", Rate: 360, Start: 598, Samples: make([]float64, int(PDFStripSeconds*360))}
	out.Reset()
	if err := holterPDF(p, []EventStrip{{Event: af, Strip: s}}, time.Now(), false).Output(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"(1 with rapid ventricular response \\(RVR: above 100 bpm for 10 s or more\\), 2 min 5 s in all)",
		"(Atrial fibrillation, RVR 2 min 5 s)", "(112 bpm, max 143)",
		"(Atrial fibrillation, RVR 2 min 5 s at 00:10:00: 600.0 s, 1120 beats, 112 bpm, max 143 \\(lead MLII\\))",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("PDF of AF with RVR lacks %q", want)
		}
	}

	// No event strip, no strip pages, and an empty table says so.
	p, _ = holterFixture(1, 0)
	out.Reset()
	if err := holterPDF(p, nil, time.Now(), false).Output(&out); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "(Event strips)") || !strings.Contains(out.String(), "(none)") {
		t.Error("a report without events: strip pages drawn, or the empty event table not marked")
	}
}

// TestStripEvents: a rare kind gets its strip among many of another, and
// the strips keep time order.
func TestStripEvents(t *testing.T) {
	var events []HolterEvent
	for i := range 100 {
		events = append(events, HolterEvent{Kind: "V couplet", Start: float64(i)})
	}
	events = append(events, HolterEvent{Kind: "Pause", Start: 200}, HolterEvent{Kind: "Pause", Start: 300})
	got := StripEvents(events)
	if len(got) != MaxPDFStrips {
		t.Fatalf("%d strips, want %d", len(got), MaxPDFStrips)
	}
	pauses := 0
	for i, e := range got {
		if e.Kind == "Pause" {
			pauses++
		}
		if i > 0 && got[i-1].Start > e.Start {
			t.Fatalf("strips out of time order at %d: %v after %v", i, e.Start, got[i-1].Start)
		}
	}
	if pauses != 2 {
		t.Errorf("%d of the 2 pauses have a strip among 100 couplets", pauses)
	}
	if few := events[:5]; len(StripEvents(few)) != 5 {
		t.Error("fewer events than strips: every event gets one")
	}
}

func BenchmarkHolterPDF(b *testing.B) {
	p, strips := holterFixture(24, 50)
	for b.Loop() {
		var out bytes.Buffer
		if err := HolterPDF(&out, p, strips, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
