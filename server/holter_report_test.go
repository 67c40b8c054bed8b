package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

// TestHolterReportOn119 runs ecg.classify@1 on mitdb 119 with real
// volunteers and checks the report's figures against the result itself:
// the hourly beats and V/S counts sum to the classes, the only hour of a
// 30-minute record holds every beat (an hour bucketing off by one fails),
// and the minimum HR is below the maximum (min/max swapped fails).
func TestHolterReportOn119(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	startVolunteers(t, ts.base, 2, volunteer.Config{})
	token := ts.user("holter-report@example.org", "clinician")
	ds := ts.upload(token, "119", nil)
	id := ts.analyse(token, ds, "ecg.classify@1", "routine")
	if s := ts.waitDone(token, id, 3*time.Minute); s.Status != "done" {
		t.Fatalf("analysis: %+v", s)
	}
	_, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/result", id), token, nil, "")
	var res struct {
		Count   int
		Classes struct{ N, S, V int }
	}
	json.Unmarshal(body, &res)
	code, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/report", id), token, nil, "")
	if code != 200 {
		t.Fatalf("report: %d %s", code, body)
	}
	var rep struct {
		Beats int
		Hours []struct{ Beats, V, S int }
		Min   struct{ BPM float64 } `json:"hr_min"`
		Max   struct{ BPM float64 } `json:"hr_max"`
		Mean  float64               `json:"hr_mean"`
		HRV   struct {
			SDNN float64 `json:"sdnn_ms"`
			NN   int     `json:"nn_intervals"`
		}
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Beats != res.Count || res.Count < 1900 {
		t.Fatalf("report beats %d, result %d", rep.Beats, res.Count)
	}
	if len(rep.Hours) != 1 || rep.Hours[0].Beats != res.Count || rep.Hours[0].V != res.Classes.V || rep.Hours[0].S != res.Classes.S {
		t.Fatalf("hourly table %+v, result %+v", rep.Hours, res)
	}
	if !(rep.Min.BPM > 30 && rep.Min.BPM <= rep.Mean && rep.Mean <= rep.Max.BPM && rep.Max.BPM < 200) {
		t.Fatalf("HR min %v mean %v max %v", rep.Min.BPM, rep.Mean, rep.Max.BPM)
	}
	if rep.HRV.NN < 1000 || rep.HRV.SDNN <= 0 {
		t.Fatalf("HRV %+v", rep.HRV)
	}
	// The PDF: named after the dataset, with pages of strips after the tables.
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/analyses/%d/report?format=pdf", ts.base, id), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(string(pdf), "%PDF-") ||
		!strings.HasSuffix(resp.Header.Get("Content-Disposition"), fmt.Sprintf(`-analysis-%d-holter.pdf"`, id)) {
		t.Fatalf("PDF: %d %q %q %.8q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"), pdf)
	}
	// 119 has hundreds of bigeminy and couplet events: pages of strips follow the tables.
	if pages := strings.Count(string(pdf), "/Type /Page\n"); pages < 4 {
		t.Errorf("the PDF has %d pages; the report and its event strips take more", pages)
	}
	// The WFDB download carries the classes: as many V (PVC) codes as V beats.
	_, atr := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/result?format=wfdb", id), token, nil, "")
	anns, err := wfdb.ReadAnnotations("119.atr", atr)
	if err != nil {
		t.Fatal(err)
	}
	nv := 0
	for _, a := range anns {
		if a.Code == signal.CodePVC {
			nv++
		}
	}
	if len(anns) != res.Count || nv != res.Classes.V || nv == 0 {
		t.Fatalf("WFDB annotations: %d (%d V), result %d beats, %d V", len(anns), nv, res.Count, res.Classes.V)
	}
	// The FHIR form: a Bundle served as application/fhir+json (its
	// structure is checked by TestHolterFHIR); an unknown format is refused.
	req, _ = http.NewRequest("GET", ts.base+fmt.Sprintf("/api/v1/analyses/%d/report?format=fhir", id), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	fhir, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var bundle struct {
		ResourceType string
		Entry        []struct{ Resource struct{ ResourceType string } }
	}
	json.Unmarshal(fhir, &bundle)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/fhir+json") || bundle.ResourceType != "Bundle" ||
		len(bundle.Entry) < 10 || bundle.Entry[0].Resource.ResourceType != "DiagnosticReport" || !strings.Contains(string(fhir), `"18754-2"`) {
		t.Fatalf("FHIR report: %d %s %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), fhir)
	}
	if code, b := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/report?format=xml", id), token, nil, ""); code != 400 || !strings.Contains(string(b), "fhir") {
		t.Fatalf("format=xml: %d %s", code, b)
	}
	// A beats analysis has no report.
	if code, _ := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/report", ts.analyse(token, ds, "ecg.beats@1", "routine")), token, nil, ""); code == 200 {
		t.Fatal("ecg.beats@1 analysis has a Holter report")
	}
	// Another user sees no report.
	other := ts.user("other-holter@example.org", "clinician")
	for _, q := range []string{"", "?format=fhir"} {
		if code, b := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/report%s", id, q), other, nil, ""); code != 404 || strings.Contains(string(b), "hours") || strings.Contains(string(b), "Bundle") {
			t.Fatalf("another user got the report%s: %d", q, code)
		}
	}
}

// TestHolterReportForClassify2: ecg.classify@2 (on the ecg.beats@2
// detector, both leads) runs on real volunteers and has a Holter report like
// ecg.classify@1. Record 116 is the one whose MLII saturates, so @2 must
// count more beats there than @1's detector misses allow.
func TestHolterReportForClassify2(t *testing.T) {
	email, password := "holter-report2@example.org", "Amber-Kettle-Meadow-31"
	ts, token, id := classifiedOnGrid(t, email, password, "116", "ecg.classify@2")
	_, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/result", id), token, nil, "")
	var res struct{ Count int }
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	code, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/report", id), token, nil, "")
	if code != 200 {
		t.Fatalf("report: %d %s", code, body)
	}
	var rep struct {
		Beats     int
		Algorithm string
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Algorithm != "ecg.classify@2" {
		t.Errorf("report algorithm %q, want ecg.classify@2", rep.Algorithm)
	}
	// The page names the classifier that ran.
	b := newBrowser(t, ts.base)
	b.login(email, password)
	if pg := b.get(fmt.Sprintf("/analyses/%d/report", id)); pg.status != 200 || strings.TrimSpace(pg.doc.Find(`[data-testid="holter-algorithm"]`).Text()) != "ecg.classify@2" {
		t.Errorf("report page: %d, algorithm %q, want ecg.classify@2", pg.status, pg.doc.Find(`[data-testid="holter-algorithm"]`).Text())
	}
	// 116 has 2,412 reference beats; ecg.beats@1 misses 20 of the scored ones.
	if rep.Beats != res.Count || res.Count < 2400 {
		t.Fatalf("report beats %d, result %d; want equal and at least 2400", rep.Beats, res.Count)
	}
	code, body = ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/report?format=fhir", id), token, nil, "")
	if code != 200 || !strings.Contains(string(body), "ecg.classify@2") {
		t.Errorf("FHIR report: %d, want 200 with a conclusion naming ecg.classify@2: %.300s", code, body)
	}
}

// classifiedOnGrid starts a server with two volunteers, a clinician who
// signs in with email and password, and algorithm run on MIT-BIH record
// for that clinician until done; it returns the server (stopped when the
// test ends), the clinician's API token and the analysis.
func classifiedOnGrid(t *testing.T, email, password, record, algorithm string) (*testServer, string, int64) {
	t.Helper()
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	t.Cleanup(ts.stop)
	startVolunteers(t, ts.base, 2, volunteer.Config{})
	hash, _ := auth.HashPassword(password)
	if _, err := ts.st.CreateUser(context.Background(), store.User{Email: email, Role: store.RoleClinician, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	token := ts.user(email, store.RoleClinician)
	id := ts.analyse(token, ts.upload(token, record, nil), algorithm, "routine")
	if s := ts.waitDone(token, id, 3*time.Minute); s.Status != "done" {
		t.Fatalf("analysis: %+v", s)
	}
	return ts, token, id
}
