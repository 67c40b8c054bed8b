package server

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pulsegrid/pulsegrid/static"
	"github.com/pulsegrid/pulsegrid/views"
)

// TestBatchStateWording: the batch page words what each analysis waits for
// on the server (views.BatchState) and again in the browser after every
// poll (batchState in static/js/batch.js, run here under node on the same
// progress JSON); the two must say the same, or the text would change on
// the first poll.
func TestBatchStateWording(t *testing.T) {
	eta := func(s float64) *float64 { return &s }
	for _, tc := range []struct {
		name   string
		status string
		p      progressJSON
		want   string
	}{
		{"NoVolunteer", "running", progressJSON{ChunksTotal: 4, ChunksQueued: 4, WaitingFor: waitingVolunteers}, "waiting for volunteers"},
		{"SecondOpinion", "running", progressJSON{ChunksTotal: 4, ChunksAwaitingReplica: 3, ChunksRunning: 1, WaitingFor: waitingSecondOpinion}, "3 waiting for a second opinion"},
		{"Moving", "running", progressJSON{ChunksTotal: 9, ChunksVerified: 2, ChunksQueued: 5, ChunksRunning: 1, ChunksAwaitingReplica: 1, ETASeconds: eta(16.2)}, "5 queued, 1 running, 1 awaiting a second opinion, about 17 s left"},
		{"LongETA", "running", progressJSON{ChunksTotal: 9, ChunksRunning: 2, ETASeconds: eta(1805)}, "2 running, about 30 min 5 s left"},
		{"Merging", "running", progressJSON{ChunksTotal: 3, ChunksVerified: 3}, "merging the results"},
		{"OnAStandby", "running", progressJSON{ChunksTotal: 9, ChunksVerified: 4, Source: sourceDatabase}, "4 of 9 verified so far"},
		{"Done", "done", progressJSON{ChunksTotal: 3, ChunksVerified: 3}, ""},
		{"Failed", "failed", progressJSON{ChunksTotal: 3, ChunksQueued: 2}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := views.BatchAnalysis{Status: tc.status, ChunksTotal: tc.p.ChunksTotal, ChunksVerified: tc.p.ChunksVerified,
				ChunksQueued: tc.p.ChunksQueued, ChunksRunning: tc.p.ChunksRunning, ChunksAwaiting: tc.p.ChunksAwaitingReplica,
				WaitingFor: tc.p.WaitingFor, ETASeconds: -1, Stored: tc.p.Source == sourceDatabase}
			if tc.p.ETASeconds != nil {
				a.ETASeconds = *tc.p.ETASeconds
			}
			if got := views.BatchState(a); got != tc.want {
				t.Errorf("views.BatchState: got %q, want %q", got, tc.want)
			}
			if got := jsBatchState(t, tc.status, tc.p); got != tc.want {
				t.Errorf("batch.js batchState: got %q, want %q", got, tc.want)
			}
		})
	}
}

// jsBatchState runs batchState of static/js/batch.js under node on the
// progress JSON p, as the browser gets it from the API.
func jsBatchState(t *testing.T, status string, p progressJSON) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node runs the portal's scripts in this test: %v", err)
	}
	dir := t.TempDir()
	for _, f := range []string{"batch.js", "progress.js"} {
		b, err := static.Files.ReadFile("js/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "package.json"), []byte(`{"type": "module"}`), 0o600)
	// A document with nothing on it: the scripts find no page to follow.
	script := `globalThis.document = { getElementById: () => null, querySelectorAll: () => [] };
const { batchState } = await import('./batch.js');
process.stdout.write(JSON.stringify(batchState(process.argv[1], JSON.parse(process.argv[2]))));`
	pj, _ := json.Marshal(p)
	cmd := exec.Command(node, "--input-type=module", "-e", script, status, string(pj))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node batch.js: %v: %s", err, out)
	}
	var got string
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node batch.js: %q: %v", out, err)
	}
	return got
}
