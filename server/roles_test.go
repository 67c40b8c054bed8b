package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/algorithms/formats"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

// identifyingFiles is MIT-BIH record 119 with its leads labelled the way a
// careless EDF export labels them, with the patient's name.
func identifyingFiles(t *testing.T) []formats.File {
	t.Helper()
	hea, err := os.ReadFile(mitdb + "119.hea")
	if err != nil {
		t.Fatal(err)
	}
	dat, err := os.ReadFile(mitdb + "119.dat")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(hea), " MLII", " ECG-JDOE", 1)
	s = strings.Replace(s, " V1", " ECG2-JDOE", 1)
	if !strings.Contains(s, "ECG-JDOE") || !strings.Contains(s, "ECG2-JDOE") {
		t.Fatalf("119.hea has no MLII and V1 labels to replace:\n%s", hea)
	}
	return []formats.File{{Name: "119.hea", Data: []byte(s)}, {Name: "119.dat", Data: dat}}
}

func (ts *testServer) uploadFiles(token string, files []formats.File) int64 {
	ts.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		fw, _ := mw.CreateFormFile("files", f.Name)
		fw.Write(f.Data)
	}
	mw.Close()
	code, body := ts.do("POST", "/api/v1/datasets", token, &buf, mw.FormDataContentType())
	if code != http.StatusCreated {
		ts.t.Fatalf("upload: got %d %s", code, body)
	}
	var ds struct{ ID int64 }
	json.Unmarshal(body, &ds)
	return ds.ID
}

// referenceFiles is reference for uploaded files: the whole-record local
// run `pulsegrid run` does, on the recording's own labels.
func referenceFiles(t *testing.T, files []formats.File, alg string) []byte {
	t.Helper()
	rec, err := formats.Read(files)
	if err != nil {
		t.Fatal(err)
	}
	a, err := catalog.All().Lookup(alg)
	if err != nil {
		t.Fatal(err)
	}
	params, _ := a.Params(nil)
	chunks, err := a.Split(&rec.Signal, params, pipeline.SplitOptions{Whole: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.RunLocal(context.Background(), a, chunks, params, pipeline.LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLeasesCarryRolesNotLabels: a volunteer's lease payloads never hold
// the recording's channel labels, only canonical roles, and the grid's
// result still equals the local run's bit for bit (which names the lead
// as the recording does: the label stays on the server).
func TestLeasesCarryRolesNotLabels(t *testing.T) {
	files := identifyingFiles(t)
	for _, alg := range []string{"ecg.beats@1", "ecg.classify@1", "ecg.hrv@1"} {
		t.Run(alg, func(t *testing.T) {
			ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
			defer ts.stop()
			tok := ts.user("clin@example.org", store.RoleClinician)
			ds := ts.uploadFiles(tok, files)
			id := ts.analyse(tok, ds, alg, "routine")
			r, _ := dialRaw(t, ts.base, nil)
			l, p := r.lease()
			if bytes.Contains(p, []byte("JDOE")) {
				t.Fatalf("lease %d payload holds the recording's label JDOE", l.LeaseID)
			}
			task, err := pipeline.DecodeTask(p)
			if err != nil {
				t.Fatal(err)
			}
			if task.Algorithm != alg || len(task.Channels) == 0 {
				t.Fatalf("lease is %s with %d channels, want %s", task.Algorithm, len(task.Channels), alg)
			}
			for i, c := range task.Channels {
				if c.Name != pipeline.Role(i) {
					t.Errorf("channel %d is labelled %q, want %q", i, c.Name, pipeline.Role(i))
				}
			}
			if alg == "ecg.classify@1" && len(task.Channels) != 2 {
				t.Errorf("classify lease has %d channels, want both leads", len(task.Channels))
			}
			r.conn.CloseNow()
			startVolunteers(t, ts.base, 3, volunteer.Config{Slots: 2})
			if s := ts.waitDone(tok, id, 90*time.Second); s.Status != store.StatusDone {
				t.Fatalf("got %+v, want done", s)
			}
			got, want := ts.result(tok, id, "json"), referenceFiles(t, files, alg)
			if !bytes.Equal(got, want) {
				t.Fatalf("grid result (%d bytes) differs from the local run (%d bytes)", len(got), len(want))
			}
			if alg == "ecg.beats@1" && !bytes.Contains(got, []byte(`"ECG-JDOE"`)) {
				t.Errorf("beats result does not name its lead as the recording does")
			}
		})
	}
}
