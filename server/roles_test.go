package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	return referenceParams(t, files, alg, nil)
}

// referenceParams is referenceFiles with the analysis's parameters.
func referenceParams(t *testing.T, files []formats.File, alg string, raw json.RawMessage) []byte {
	t.Helper()
	rec, err := formats.Read(files)
	if err != nil {
		t.Fatal(err)
	}
	a, err := catalog.All().Lookup(alg)
	if err != nil {
		t.Fatal(err)
	}
	params, err := a.Params(raw)
	if err != nil {
		t.Fatal(err)
	}
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

// identifyingVitals is the ICU minute log s25047 with every channel label
// followed by the patient's name, as a monitor export configured with the
// bed's patient writes them ("HR JDOE").
func identifyingVitals(t *testing.T) []formats.File {
	t.Helper()
	const dir = "../../shared/data/vitals/"
	hea, err := os.ReadFile(dir + "s25047-2704-05-04-10-44n.hea")
	if err != nil {
		t.Fatal(err)
	}
	dat, err := os.ReadFile(dir + "3234460n.dat")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.ReplaceAll(string(hea), "\r\n", "\n"), "\n")
	n := 0
	for i, l := range lines {
		if f := strings.Fields(l); len(f) == 9 && strings.HasSuffix(f[0], ".dat") {
			lines[i] = l + " JDOE"
			n++
		}
	}
	if n != 7 {
		t.Fatalf("relabelled %d signals of s25047, want 7", n)
	}
	return []formats.File{{Name: "s25047-2704-05-04-10-44n.hea", Data: []byte(strings.Join(lines, "\n"))}, {Name: "3234460n.dat", Data: dat}}
}

// TestVitalsLeasesCarryRolesNotLabels: the vitals algorithms resolve their
// channels on the server, so neither a recording's labels nor a rule that
// names them ("HR JDOE", as a clinician types what the recording says)
// reaches a volunteer's lease bytes, and the grid's result still equals
// `pulsegrid run`'s, with the recording's labels in it.
func TestVitalsLeasesCarryRolesNotLabels(t *testing.T) {
	files := identifyingVitals(t)
	alarms := `{"rules":[` +
		`{"name":"tachycardia","channels":["HR JDOE"],"op":">","threshold":100,"min_duration_s":120,"max_gap_s":60},` +
		`{"name":"desaturation","channels":["SpO2 JDOE"],"op":"<","threshold":95,"min_duration_s":60,"max_gap_s":60},` +
		`{"name":"absent","channels":["ABPSys"],"op":"<","threshold":90,"min_duration_s":60,"max_gap_s":60}]}`
	for _, c := range []struct{ alg, params string }{
		{"vitals.summary@1", `{}`},
		{"vitals.summary@1", `{"channels":["SpO2 JDOE","HR JDOE"]}`},
		{"vitals.alarms@1", alarms},
	} {
		t.Run(c.alg, func(t *testing.T) {
			ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
			defer ts.stop()
			tok := ts.user("clin@example.org", store.RoleClinician)
			ds := ts.uploadFiles(tok, files)
			code, body := ts.do("POST", "/api/v1/analyses", tok, strings.NewReader(fmt.Sprintf(`{"dataset_id":%d,"algorithm":%q,"params":%s,"priority":"routine"}`, ds, c.alg, c.params)), "application/json")
			if code != http.StatusCreated {
				t.Fatalf("start analysis: got %d %s", code, body)
			}
			var a struct{ ID int64 }
			json.Unmarshal(body, &a)
			r, _ := dialRaw(t, ts.base, nil)
			l, p := r.lease()
			if bytes.Contains(p, []byte("JDOE")) {
				t.Fatalf("lease %d payload holds the recording's label JDOE", l.LeaseID)
			}
			task, err := pipeline.DecodeTask(p)
			if err != nil {
				t.Fatal(err)
			}
			if task.Algorithm != c.alg || len(task.Channels) == 0 {
				t.Fatalf("lease is %s with %d channels, want %s", task.Algorithm, len(task.Channels), c.alg)
			}
			for i, ch := range task.Channels {
				if ch.Name != pipeline.Role(i) {
					t.Errorf("channel %d is labelled %q, want %q", i, ch.Name, pipeline.Role(i))
				}
			}
			r.conn.CloseNow()
			startVolunteers(t, ts.base, 3, volunteer.Config{Slots: 2})
			if s := ts.waitDone(tok, a.ID, 90*time.Second); s.Status != store.StatusDone {
				t.Fatalf("got %+v, want done", s)
			}
			got, want := ts.result(tok, a.ID, "json"), referenceParams(t, files, c.alg, json.RawMessage(c.params))
			if !bytes.Equal(got, want) {
				t.Fatalf("grid result differs from the local run:\n got %s\nwant %s", got, want)
			}
			if !bytes.Contains(got, []byte(`"HR JDOE"`)) {
				t.Errorf("result does not name the channels as the recording does: %s", got)
			}
		})
	}
}
