package server_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// multipartBody builds an upload of named files.
func multipartBody(t *testing.T, files map[string][]byte, fields map[string]string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for name, b := range files {
		fw, err := mw.CreateFormFile("files", name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(b)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAPIUploadZipOfTwoRecords: the API takes what the portal takes — a
// .zip of two WFDB records becomes two datasets in one request.
func TestAPIUploadZipOfTwoRecords(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for _, name := range []string{"100.hea", "100.dat", "119.hea", "119.dat"} {
		w, _ := zw.Create("records/" + name)
		w.Write(mustReadFile(t, mitdb+name))
	}
	zw.Close()
	body, ctype := multipartBody(t, map[string][]byte{"two.zip": zbuf.Bytes()}, nil)
	code, b := ts.do("POST", "/api/v1/datasets", tok, body, ctype)
	if code != http.StatusCreated {
		t.Fatalf("got %d %s, want 201", code, b)
	}
	var got struct {
		ID       int64
		Datasets []struct {
			ID   int64
			Name string
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Datasets) != 2 || got.ID != got.Datasets[0].ID {
		t.Fatalf("got %s, want two datasets and the first one's id", b)
	}
	// Neutral names, never the file's (server/naming.go).
	day := time.Now().UTC().Format(time.DateOnly)
	names := got.Datasets[0].Name + "," + got.Datasets[1].Name
	if want := fmt.Sprintf("Recording %s #1,Recording %s #2", day, day); names != want {
		t.Errorf("dataset names %q, want %q", names, want)
	}
}

// TestAPIUploadListsEveryProblem: a bad upload answers 422 with each
// problem, and stores nothing.
func TestAPIUploadListsEveryProblem(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	files := map[string][]byte{
		"100.hea":    mustReadFile(t, mitdb+"100.hea"), // its .dat is missing
		"vitals.csv": []byte("time,HR [bpm]\n0,80\nx,81\n"),
	}
	body, ctype := multipartBody(t, files, nil)
	code, b := ts.do("POST", "/api/v1/datasets", tok, body, ctype)
	var e struct {
		Code     string
		Error    string
		Problems []struct{ File, Message string }
	}
	json.Unmarshal(b, &e)
	if code != http.StatusUnprocessableEntity || e.Code != "unprocessable" || len(e.Problems) < 2 {
		t.Fatalf("got %d %s, want 422 listing a problem for each file", code, b)
	}
	if !strings.Contains(string(b), "100.dat") || !strings.Contains(string(b), "vitals.csv") {
		t.Errorf("problems do not name both files: %s", b)
	}
	if _, b := ts.do("GET", "/api/v1/datasets", tok, nil, ""); strings.Contains(string(b), `"id"`) {
		t.Errorf("a rejected upload left datasets behind: %s", b)
	}
}

// TestAPIUploadInterop: records other tools write are taken — a checksum
// written unsigned (wfdb-python writes 0–65535; this one is above 32767)
// and signal files the header names .xyz and .d0, in one upload with the
// header and inside a .zip.
func TestAPIUploadInterop(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	tok := ts.user("clin@example.org", store.RoleClinician)
	dat := make([]byte, 0, 2*360)
	sum := 0
	for i := range 360 {
		v := 100 + i%100
		sum += v
		dat = append(dat, byte(v), byte(v>>8))
	}
	if sum&0xffff <= 32767 {
		t.Fatalf("checksum %d does not test the unsigned form", sum&0xffff)
	}
	hea := func(rec, file string) []byte {
		return fmt.Appendf(nil, "%s 1 360 360\n%s 16 200 16 0 0 %d 0 MLII\n", rec, file, sum&0xffff)
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for name, b := range map[string][]byte{"ptb/s0010_re.hea": hea("s0010_re", "s0010_re.xyz"), "ptb/s0010_re.xyz": dat} {
		w, _ := zw.Create(name)
		w.Write(b)
	}
	zw.Close()
	for name, files := range map[string]map[string][]byte{
		"UnsignedChecksum": {"r.hea": hea("r", "r.dat"), "r.dat": dat},
		"SignalFileD0":     {"r.hea": hea("r", "r.d0"), "r.d0": dat},
		"ZipWithXYZ":       {"ptb.zip": zbuf.Bytes()},
	} {
		t.Run(name, func(t *testing.T) {
			body, ctype := multipartBody(t, files, nil)
			code, b := ts.do("POST", "/api/v1/datasets", tok, body, ctype)
			if code != http.StatusCreated || !strings.Contains(string(b), `"samples": 360`) {
				t.Fatalf("got %d %s, want 201 with 360 samples", code, b)
			}
		})
	}
}
