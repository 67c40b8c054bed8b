package views

import (
	"math"
	"testing"
)

func sampleCohortBatch() CohortBatchPage {
	recs := []CohortRecording{{DatasetName: "100", AnalysisID: 1, Status: "done"}, {DatasetName: "101", AnalysisID: 2, Status: "done"}}
	return CohortBatchPage{
		BatchID:    1,
		Algorithms: []string{"ecg.beats@1", "ecg.hrv@1", "vitals.summary@1"},
		Sections: []CohortSection{
			{CohortPage: CohortPage{BatchID: 1, Algorithm: "ecg.beats@1", Recordings: recs, Metrics: []CohortMetric{{Name: "Beats", Values: []float64{2273, 1865}}}}, Title: "QRS detection"},
			{CohortPage: CohortPage{BatchID: 1, Algorithm: "ecg.hrv@1", Recordings: recs, Metrics: []CohortMetric{{Name: "SDNN", Unit: "ms", Values: []float64{100, math.NaN()}}}}},
			{CohortPage: CohortPage{BatchID: 1, Algorithm: "vitals.summary@1"}, Problem: "this server no longer has vitals.summary@1"},
		},
		CSV: "/batches/1/download?format=csv",
	}
}

func TestCohortBatch(t *testing.T) {
	t.Run("AllSections", func(t *testing.T) {
		doc := mustRender(t, CohortBatch(sampleCohortBatch()))
		secs := count(t, doc, testid("cohort-section"), 3)
		for i, want := range []struct{ alg, id, heading string }{
			{"ecg.beats@1", "cohort-ecg-beats-1", "QRS detection"},
			{"ecg.hrv@1", "cohort-ecg-hrv-1", "ecg.hrv@1"}, // no title: the name
			{"vitals.summary@1", "cohort-vitals-summary-1", "vitals.summary@1"},
		} {
			s := secs.Eq(i)
			if got := s.AttrOr("data-algorithm", ""); got != want.alg {
				t.Errorf("section %d: data-algorithm %q, want %q", i, got, want.alg)
			}
			if got := s.AttrOr("id", ""); got != want.id {
				t.Errorf("section %d: id %q, want %q", i, got, want.id)
			}
			if got := s.Find("h2#" + want.id + "-h").Text(); got != want.heading {
				t.Errorf("section %d: heading %q, want %q", i, got, want.heading)
			}
		}
		count(t, doc, testid("cohort-recording"), 4) // 2 in each section with figures
		count(t, doc, testid("cohort-metric"), 2)
		if got := secs.Eq(2).Find(testid("cohort-problem")).Text(); got != "this server no longer has vitals.summary@1" {
			t.Errorf("problem section: %q", got)
		}
		if got := secs.Eq(1).Find(testid("cohort-n")).Text(); got != "1" {
			t.Errorf("SDNN n with one missing value: %q, want 1", got)
		}
		links := count(t, doc, testid("cohort-filter-link"), 4)
		if got := links.Eq(2).AttrOr("href", ""); got != "/batches/1?algorithm=ecg.hrv%401" {
			t.Errorf("filter link: %q", got)
		}
		if got := doc.Find(testid("cohort-filter-link") + `[aria-current="page"]`).Text(); got != "All" {
			t.Errorf("current filter: %q, want All", got)
		}
		if got := doc.Find(testid("download-csv")).AttrOr("href", ""); got != "/batches/1/download?format=csv" {
			t.Errorf("csv link: %q", got)
		}
	})
	t.Run("Narrowed", func(t *testing.T) {
		p := sampleCohortBatch()
		p.Only, p.Sections = "ecg.hrv@1", p.Sections[1:2]
		doc := mustRender(t, CohortBatch(p))
		count(t, doc, testid("cohort-section"), 1)
		if got := doc.Find(testid("cohort-filter-link") + `[aria-current="page"]`).Text(); got != "ecg.hrv@1" {
			t.Errorf("current filter: %q, want ecg.hrv@1", got)
		}
	})
	t.Run("OneAlgorithmHasNoFilter", func(t *testing.T) {
		p := sampleCohortBatch()
		p.Algorithms, p.Sections, p.CSV = p.Algorithms[:1], p.Sections[:1], ""
		doc := mustRender(t, CohortBatch(p))
		count(t, doc, testid("cohort-filter"), 0)
		count(t, doc, testid("downloads"), 0)
		if got := doc.Find(testid("cohort-meta")).Text(); got == "" {
			t.Error("no batch summary")
		}
	})
}
