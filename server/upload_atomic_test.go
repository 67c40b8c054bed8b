package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// orderedBody is a multipart upload of files in the order given (a map
// would shuffle them), plus form fields.
func orderedBody(t *testing.T, names []string, files [][]byte, fields map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, name := range names {
		fw, err := mw.CreateFormFile("files", name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(files[i])
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// TestUploadOfSeveralIsAllOrNothing: an upload of several recordings
// appears all together or not at all, and a template's range rule does
// to it what the template says. The good recording comes first, so it is
// stored before the bad one is read: the rejection must remove it (no
// row left, not merely unlisted), and nothing may be published before
// the last recording is in.
func TestUploadOfSeveralIsAllOrNothing(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	ctx := context.Background()
	for _, action := range []string{"reject", "missing", "keep"} {
		js := fmt.Sprintf(`{"name":"hr-%s","channels":[{"role":"HR","aliases":["HR"],"unit":"bpm","min":20,"max":250,"out_of_range":%q,"required":true}]}`, action, action)
		if _, err := ts.st.SaveIngestTemplate(ctx, store.IngestTemplate{Name: "hr-" + action, JSON: js}); err != nil {
			t.Fatal(err)
		}
	}
	log := func(bad bool) []byte {
		var b bytes.Buffer
		b.WriteString("time,HR [bpm]\n")
		for i := range 3000 {
			hr := 60 + i%20
			if bad && i == 2500 { // late in the file: found while storing
				hr = 300
			}
			fmt.Fprintf(&b, "%d,%d\n", i, hr)
		}
		return b.Bytes()
	}
	names := []string{"first.csv", "second.csv"}
	files := [][]byte{log(false), log(true)}
	rows := func() (n int) {
		for _, table := range []string{"datasets", "dataset_segments", "dataset_identities", "dataset_meta"} {
			var k int
			if err := ts.st.DB().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&k); err != nil {
				t.Fatal(err)
			}
			n += k
		}
		return n
	}
	listed := func() int {
		_, b := ts.do("GET", "/api/v1/datasets", tok, nil, "")
		return strings.Count(string(b), `"id"`)
	}

	t.Run("RejectRemovesTheWholeUpload", func(t *testing.T) {
		body, ctype := orderedBody(t, names, files, map[string]string{"template": "hr-reject"})
		code, b := ts.do("POST", "/api/v1/datasets", tok, body, ctype)
		var e struct {
			Problems []struct{ File, Message string }
		}
		json.Unmarshal(b, &e)
		if code != http.StatusUnprocessableEntity || len(e.Problems) == 0 {
			t.Fatalf("got %d %s, want 422 with the template's problem", code, b)
		}
		p := e.Problems[0]
		if p.File != "second.csv" || !strings.HasPrefix(p.Message, "template hr-reject: ") || !strings.Contains(p.Message, "300") {
			t.Errorf("problem %+v, want second.csv and the template's message about 300 bpm", p)
		}
		if n := listed(); n != 0 {
			t.Errorf("%d datasets listed after a rejected upload", n)
		}
		if n := rows(); n != 0 {
			t.Errorf("%d dataset rows left after a rejected upload", n)
		}
	})
	for _, tc := range []struct {
		action, reported string
		want             float64 // the stored value of the out-of-range sample
	}{{"missing", "missing", -1}, {"keep", "kept", 300}} {
		t.Run("Template"+strings.ToUpper(tc.action[:1])+tc.action[1:], func(t *testing.T) {
			before := listed()
			body, ctype := orderedBody(t, names, files, map[string]string{"template": "hr-" + tc.action})
			code, b := ts.do("POST", "/api/v1/datasets", tok, body, ctype)
			var got struct {
				Datasets []struct {
					ID       int64
					Warnings []struct{ Action, Rule string } `json:"template_violations"`
				}
			}
			json.Unmarshal(b, &got)
			if code != http.StatusCreated || len(got.Datasets) != 2 {
				t.Fatalf("got %d %s, want 201 with both recordings", code, b)
			}
			if n := listed() - before; n != 2 {
				t.Errorf("%d more datasets listed, want 2", n)
			}
			second := got.Datasets[1]
			if len(second.Warnings) == 0 || second.Warnings[0].Action != tc.reported || second.Warnings[0].Rule != "range" {
				t.Errorf("second recording's warnings %+v, want a range violation %q", second.Warnings, tc.reported)
			}
			sig, err := ts.st.DatasetSignal(ctx, second.ID)
			if err != nil {
				t.Fatal(err)
			}
			v := sig.Channels[0].Samples[2500]
			if (tc.want < 0 && v == v) || (tc.want >= 0 && v != tc.want) {
				t.Errorf("out-of-range sample stored as %v, want %v (-1: missing)", v, tc.want)
			}
		})
	}
}
