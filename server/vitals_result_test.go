package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// TestVitalsResultShowsExclusions: the real ICU log s00001, whose pulse
// oximeter and arterial line were off for hours (zeros), uploaded with
// the icu-vitals template and summarised on the grid. The result page
// states per channel how many samples were excluded and why, its table no
// longer shows an SpO2 minimum of 0 (or a mean of 78.9 %), the CSV carries
// the counts, and the alarms page says what its rules treated as missing.
func TestVitalsResultShowsExclusions(t *testing.T) {
	ps := startPortal(t)
	ps.addUser(t, "icu@example.org", store.RoleClinician, "correct horse battery staple", false)
	b := newBrowser(t, ps.base)
	if p := b.login("icu@example.org", "correct horse battery staple"); p.status != http.StatusSeeOther {
		t.Fatalf("login: %d", p.status)
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range []string{"s00001-2896-10-10-00-31n.hea", "3975656n.dat"} {
		data, err := os.ReadFile("../../shared/data/vitals/" + f)
		if err != nil {
			t.Fatal(err)
		}
		fw, _ := mw.CreateFormFile("files", f)
		fw.Write(data)
	}
	mw.WriteField("template", "icu-vitals")
	mw.Close()
	req, _ := http.NewRequest("POST", ps.base+"/datasets/upload", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Accept", "application/json")
	up := b.do(req)
	var ds struct{ ID int64 }
	if err := json.Unmarshal(up.body, &ds); err != nil || up.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", up.status, up.body)
	}
	p := b.post("/analyses", url.Values{"algorithm": {"vitals.summary@1", "vitals.alarms@1"}, "dataset": {strconv.FormatInt(ds.ID, 10)}, "priority": {"urgent"}, "params": {""}})
	batch := idFrom(t, p.location(), "/batches/")
	as, err := ps.st.BatchAnalyses(context.Background(), batch)
	if err != nil || len(as) != 2 {
		t.Fatalf("batch %d: %d analyses, %v", batch, len(as), err)
	}
	ids := map[string]int64{}
	for _, a := range as {
		ids[a.Algorithm] = a.ID
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, body := b.apiGet(fmt.Sprintf("/api/v1/analyses/%d", a.ID))
			var s struct{ Status, Error string }
			json.Unmarshal(body, &s)
			if s.Status == "done" {
				break
			}
			if s.Status == "failed" || time.Now().After(deadline) {
				t.Fatalf("%s: %s %s", a.Algorithm, s.Status, s.Error)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	r := b.get(fmt.Sprintf("/analyses/%d/result", ids["vitals.summary@1"]))
	ex := r.text("vitals-exclusions")
	for _, want := range []string{"SpO2: 363 samples excluded: 363 sensor off (0)", "ABPSys: 1929 samples excluded: 1929 sensor off (0)", "excluded from every statistic"} {
		if !strings.Contains(ex, want) {
			t.Errorf("vitals-exclusions %q lacks %q", ex, want)
		}
	}
	found := false
	r.doc.Find(`[data-testid="vitals-row"]`).Each(func(_ int, row *goquery.Selection) {
		cells := row.Find("td")
		if strings.TrimSpace(row.Find("th").Text()) != "SpO2" {
			return
		}
		found = true
		mean, _ := strconv.ParseFloat(strings.TrimSpace(cells.Eq(1).Text()), 64)
		min, _ := strconv.ParseFloat(strings.TrimSpace(cells.Eq(3).Text()), 64)
		if mean < 90 || min < 20 {
			t.Errorf("SpO2 row shows mean %v, min %v: sensor-off zeros still count", mean, min)
		}
		if got := strings.TrimSpace(row.Find(`[data-testid="vitals-excluded"]`).Text()); got != "363" {
			t.Errorf("SpO2 excluded cell %q, want 363", got)
		}
	})
	if !found {
		t.Fatal("no SpO2 row on the result page")
	}

	code, body := b.apiGet(fmt.Sprintf("/api/v1/analyses/%d/result?format=csv", ids["vitals.summary@1"]))
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if code != 200 || err != nil || len(recs) < 2 {
		t.Fatalf("CSV: %d %v", code, err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	spo2 := false
	for _, rec := range recs[1:] {
		if rec[col["channel"]] == "SpO2" && rec[col["span"]] == "whole" {
			spo2 = true
			if rec[col["excluded_sensor_off"]] != "363" || rec[col["plausible_min"]] != "20" || rec[col["min"]] == "0" {
				t.Errorf("SpO2 CSV row %v", rec)
			}
		}
	}
	if !spo2 {
		t.Errorf("CSV has no SpO2 whole row:\n%s", body)
	}

	al := b.get(fmt.Sprintf("/analyses/%d/result", ids["vitals.alarms@1"]))
	if got := al.text("alarms-exclusions"); !strings.Contains(got, "SpO2: 363 samples excluded: 363 sensor off (0)") || strings.Count(got, "HR:") != 1 {
		t.Errorf("alarms-exclusions %q, want SpO2's 363 sensor-off samples and HR once", got)
	}
}
