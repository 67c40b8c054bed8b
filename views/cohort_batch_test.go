package views

import (
	"strings"
	"testing"
)

// TestBatchProgressSaysWhatEachWaitsFor: the batch page counts the
// recordings of its analyses (not of its sections, which are empty while
// the analyses run), says for each analysis what it waits for, and shows
// the progress page's hint for the batch once.
func TestBatchProgressSaysWhatEachWaitsFor(t *testing.T) {
	for _, tc := range []struct {
		name       string
		progress   []BatchAnalysis
		meta       string
		states     []string
		volunteers bool // the "wait for volunteers" hint is shown
		second     bool // the "second opinion" hint is shown
	}{
		{"NoVolunteer", []BatchAnalysis{
			{ID: 3, DatasetID: 2, Status: "running", ChunksTotal: 4, ChunksQueued: 4, WaitingFor: "volunteers", ETASeconds: -1},
			{ID: 4, DatasetID: 2, Status: "running", ChunksTotal: 4, ChunksQueued: 4, WaitingFor: "volunteers", ETASeconds: -1},
			{ID: 5, DatasetID: 1, Status: "running", ChunksTotal: 1, ChunksQueued: 1, WaitingFor: "volunteers", ETASeconds: -1},
		}, "3 algorithms started together on 2 recordings", []string{"waiting for volunteers", "waiting for volunteers", "waiting for volunteers"}, true, false},
		{"OneVolunteer", []BatchAnalysis{
			{ID: 3, DatasetID: 2, Status: "running", ChunksTotal: 4, ChunksAwaiting: 4, WaitingFor: "second_opinion", ETASeconds: -1},
			{ID: 4, DatasetID: 2, Status: "done", ChunksTotal: 4, ChunksVerified: 4, ETASeconds: -1},
		}, "2 algorithms started together on 1 recording", []string{"4 waiting for a second opinion", ""}, false, true},
		{"Moving", []BatchAnalysis{
			{ID: 3, DatasetID: 2, Status: "running", ChunksTotal: 4, ChunksVerified: 1, ChunksQueued: 2, ChunksRunning: 1, ETASeconds: 42},
			{ID: 4, DatasetID: 7, Status: "failed", ChunksTotal: 4, WaitingFor: "volunteers", ETASeconds: -1},
		}, "2 algorithms started together on 2 recordings", []string{"2 queued, 1 running, about 42 s left", ""}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := CohortBatchPage{BatchID: 3, Quorum: 2, Progress: tc.progress}
			for _, a := range tc.progress {
				p.Algorithms = append(p.Algorithms, "alg"+i64(a.ID))
			}
			doc := mustRender(t, CohortBatch(p))
			if got := strings.Join(strings.Fields(doc.Find(testid("cohort-meta")).Text()), " "); !strings.HasPrefix(got, tc.meta) {
				t.Errorf("meta: got %q, want %q", got, tc.meta)
			}
			cells := doc.Find(testid("batch-analysis-state"))
			if cells.Length() != len(tc.states) {
				t.Fatalf("got %d state cells, want %d", cells.Length(), len(tc.states))
			}
			for i, want := range tc.states {
				if got := strings.TrimSpace(cells.Eq(i).Text()); got != want {
					t.Errorf("analysis %d: state %q, want %q", tc.progress[i].ID, got, want)
				}
			}
			for id, want := range map[string]bool{"analysis-wait-volunteers": tc.volunteers, "analysis-wait-second-opinion": tc.second} {
				el := doc.Find(testid(id))
				if el.Length() != 1 {
					t.Fatalf("%d %s hints, want 1", el.Length(), id)
				}
				if _, hidden := el.Attr("hidden"); hidden == want {
					t.Errorf("%s: hidden %v, want shown %v", id, hidden, want)
				}
			}
		})
	}
}
