package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// waitBatch waits until every analysis of the batch has finished and
// returns them; any that did not finish done fails the test.
func (ps *portalServer) waitBatch(t *testing.T, batch int64, want int, within time.Duration) []store.Analysis {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		as, err := ps.st.BatchAnalyses(context.Background(), batch)
		if err != nil {
			t.Fatal(err)
		}
		finished := 0
		for _, a := range as {
			if a.Finished() {
				finished++
				if a.Status != store.StatusDone {
					t.Fatalf("analysis %d (%s on dataset %d): %s %s", a.ID, a.Algorithm, a.DatasetID, a.Status, a.Error)
				}
			}
		}
		if len(as) == want && finished == want {
			return as
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch %d: %d of %d analyses finished after %s", batch, finished, want, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cohortCells reads one metric row of a cohort section: the recordings'
// values (NaN for "–") and the aggregate cells by data-testid.
func cohortCells(t *testing.T, sec *goquery.Selection, metric string) ([]float64, map[string]string) {
	t.Helper()
	row := sec.Find(`[data-testid="cohort-metric"][data-metric="` + metric + `"]`)
	if row.Length() != 1 {
		t.Fatalf("section %s: %d rows for %q, want 1", sec.AttrOr("data-algorithm", "?"), row.Length(), metric)
	}
	var vals []float64
	row.Find("td.num:not(.agg)").Each(func(_ int, s *goquery.Selection) {
		v, err := strconv.ParseFloat(strings.TrimSpace(s.Text()), 64)
		if err != nil {
			v = math.NaN()
		}
		vals = append(vals, v)
	})
	agg := map[string]string{}
	for _, id := range []string{"cohort-mean", "cohort-median", "cohort-iqr", "cohort-n"} {
		agg[id] = strings.TrimSpace(row.Find(`[data-testid="` + id + `"]`).Text())
	}
	return vals, agg
}

// TestCohortEveryAlgorithm starts three algorithms on three MIT-BIH
// records as one batch and checks that the cohort page shows every
// algorithm, each recording's figures equal to its own result page, the
// aggregates, the narrowing by ?algorithm=, the audited CSV and the access
// rule.
func TestCohortEveryAlgorithm(t *testing.T) {
	ps := startPortal(t)
	ps.addUser(t, "c@example.org", store.RoleClinician, "clinician-password", false)
	ps.addUser(t, "other@example.org", store.RoleClinician, "other-password", false)
	c, other := newBrowser(t, ps.base), newBrowser(t, ps.base)
	if p := c.login("c@example.org", "clinician-password"); p.status != http.StatusSeeOther {
		t.Fatalf("login: %d", p.status)
	}
	if p := other.login("other@example.org", "other-password"); p.status != http.StatusSeeOther {
		t.Fatalf("login: %d", p.status)
	}

	records := []string{"100", "101", "105"}
	algs := []string{"ecg.beats@1", "ecg.hrv@1", "vitals.summary@1"}
	form := url.Values{"algorithm": algs, "priority": {"routine"}}
	for _, rec := range records {
		p := c.uploadRecord(rec, []string{".hea", ".dat"}, "application/json")
		if p.status != http.StatusCreated {
			t.Fatalf("upload %s: %d %s", rec, p.status, p.body)
		}
		var ds struct{ ID int64 }
		if err := json.Unmarshal(p.body, &ds); err != nil || ds.ID == 0 {
			t.Fatalf("upload %s answered %s", rec, p.body)
		}
		form.Add("dataset", strconv.FormatInt(ds.ID, 10))
	}
	batch := idFrom(t, c.post("/analyses", form).location(), "/batches/")
	ps.waitBatch(t, batch, len(records)*len(algs), 90*time.Second)
	path := fmt.Sprintf("/batches/%d", batch)

	p := c.get(path)
	secs := p.doc.Find(`[data-testid="cohort-section"]`)
	var got []string
	secs.Each(func(_ int, s *goquery.Selection) { got = append(got, s.AttrOr("data-algorithm", "")) })
	if p.status != 200 || !slices.Equal(got, algs) {
		t.Fatalf("cohort page: %d, sections %v, want %v in the order started", p.status, got, algs)
	}
	if p.count("cohort-problem") != 0 {
		t.Fatalf("a section has a problem: %q", p.text("cohort-problem"))
	}
	section := func(alg string) *goquery.Selection {
		return secs.FilterFunction(func(_ int, s *goquery.Selection) bool { return s.AttrOr("data-algorithm", "") == alg })
	}
	secs.Each(func(_ int, s *goquery.Selection) {
		var names []string
		s.Find(`[data-testid="cohort-recording"]`).Each(func(_ int, h *goquery.Selection) { names = append(names, strings.TrimSpace(h.Text())) })
		// Datasets are named neutrally, in upload order (server/naming.go).
		var want []string
		for i := range records {
			want = append(want, fmt.Sprintf("Recording %s #%d", time.Now().UTC().Format(time.DateOnly), i+1))
		}
		if !slices.Equal(names, want) {
			t.Errorf("section %s: recordings %v, want %v side by side", s.AttrOr("data-algorithm", ""), names, want)
		}
		if s.Find(`[data-testid="cohort-table"]`).Length() != 1 || s.Find(`[data-testid="cohort-metric"]`).Length() == 0 {
			t.Errorf("section %s lacks its table or its metric rows", s.AttrOr("data-algorithm", ""))
		}
	})

	// Each recording's beat count is the one its own result page shows,
	// and the aggregates are those of the three.
	beats := section("ecg.beats@1")
	counts, agg := cohortCells(t, beats, "Beats")
	var links []string
	beats.Find(`[data-testid="cohort-recording"] a`).Each(func(_ int, a *goquery.Selection) { links = append(links, a.AttrOr("href", "")) })
	if len(counts) != 3 || len(links) != 3 {
		t.Fatalf("beats row: %v, links %v", counts, links)
	}
	var sum float64
	for i, href := range links {
		n, _ := strconv.ParseFloat(c.get(href).text("result-beats-count"), 64)
		if counts[i] != n || n < 1000 {
			t.Errorf("recording %s: cohort says %v beats, its result page %v", records[i], counts[i], n)
		}
		sum += n
	}
	sorted := slices.Sorted(slices.Values(counts))
	if want := strconv.FormatFloat(sum/3, 'f', 1, 64); agg["cohort-mean"] != want || agg["cohort-n"] != "3" {
		t.Errorf("beats aggregates %v, want mean %s over n 3", agg, want)
	}
	if want := strconv.FormatFloat(sorted[1], 'f', 1, 64); agg["cohort-median"] != want {
		t.Errorf("beats median %q, want %s", agg["cohort-median"], want)
	}
	if hr := beats.Find("svg.chart-sparkline").Length(); hr != 3 {
		t.Errorf("beats section: %d heart-rate sparklines, want one per recording", hr)
	}
	if vals, agg := cohortCells(t, section("ecg.hrv@1"), "SDNN"); len(vals) != 3 || agg["cohort-n"] != "3" || math.IsNaN(vals[0]) {
		t.Errorf("HRV SDNN row: %v %v", vals, agg)
	}
	if vals, agg := cohortCells(t, section("vitals.summary@1"), "MLII mean"); len(vals) != 3 || agg["cohort-n"] != "3" {
		t.Errorf("vitals MLII mean row: %v %v", vals, agg)
	}

	t.Run("NarrowedToOneAlgorithm", func(t *testing.T) {
		n := c.get(path + "?algorithm=" + url.QueryEscape("ecg.hrv@1"))
		s := n.doc.Find(`[data-testid="cohort-section"]`)
		if n.status != 200 || s.Length() != 1 || s.AttrOr("data-algorithm", "") != "ecg.hrv@1" || n.count("cohort-recording") != 3 {
			t.Fatalf("?algorithm=ecg.hrv@1: %d, %d sections", n.status, s.Length())
		}
		if cur := n.doc.Find(`[data-testid="cohort-filter-link"][aria-current="page"]`).Text(); cur != "ecg.hrv@1" {
			t.Errorf("current filter link %q, want ecg.hrv@1", cur)
		}
		if href := n.doc.Find(`[data-testid="download-csv"]`).AttrOr("href", ""); !strings.Contains(href, "algorithm=ecg.hrv%401") {
			t.Errorf("narrowed page downloads %q, want the narrowed table", href)
		}
		if u := c.get(path + "?algorithm=nope@9"); u.count("cohort-section") != 3 {
			t.Errorf("an algorithm the batch lacks: %d sections, want all 3", u.count("cohort-section"))
		}
	})

	t.Run("CSV", func(t *testing.T) {
		href := p.doc.Find(`[data-testid="download-csv"]`).AttrOr("href", "")
		d := c.get(href)
		if d.status != 200 || !strings.HasPrefix(d.header.Get("Content-Type"), "text/csv") || !strings.Contains(d.header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("GET %s: %d %q %q", href, d.status, d.header.Get("Content-Type"), d.header.Get("Content-Disposition"))
		}
		rows, err := csv.NewReader(bytes.NewReader(d.body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(rows[0], ",") != "algorithm,measure,unit,statistic,analysis_id,dataset_id,dataset,value" {
			t.Fatalf("header %v", rows[0])
		}
		metrics := p.count("cohort-metric")
		if want := 1 + metrics*(len(records)+5); len(rows) != want {
			t.Errorf("%d lines, want %d: a header, then per metric a value per recording and 5 aggregates", len(rows), want)
		}
		var beatValues []float64
		var mean string
		for _, r := range rows[1:] {
			if r[0] == "ecg.beats@1" && r[1] == "Beats" {
				switch r[3] {
				case "value":
					v, _ := strconv.ParseFloat(r[7], 64)
					beatValues = append(beatValues, v)
					if r[4] == "" || r[5] == "" || r[6] == "" {
						t.Errorf("value row without its recording: %v", r)
					}
				case "mean":
					mean = r[7]
				}
			}
		}
		if !slices.Equal(beatValues, counts) {
			t.Errorf("CSV beat counts %v, page %v", beatValues, counts)
		}
		if m, _ := strconv.ParseFloat(mean, 64); math.Abs(m-sum/3) > 1e-9 {
			t.Errorf("CSV mean %q, want %v", mean, sum/3)
		}
		narrow := c.get(href + "&algorithm=" + url.QueryEscape("ecg.hrv@1"))
		if lines := bytes.Count(narrow.body, []byte("\n")); narrow.status != 200 || bytes.Contains(narrow.body, []byte("ecg.beats@1")) || lines < 2 {
			t.Errorf("narrowed CSV: %d, %d lines, beats present: %v", narrow.status, lines, bytes.Contains(narrow.body, []byte("ecg.beats@1")))
		}
		if bad := c.get(fmt.Sprintf("/batches/%d/download?format=wfdb", batch)); bad.status != http.StatusBadRequest {
			t.Errorf("format=wfdb: got %d, want 400", bad.status)
		}
		es, err := ps.st.AuditSearch(context.Background(), "batch.export", 10, 0)
		if err != nil || len(es) != 2 || es[0].Object != fmt.Sprintf("batch/%d", batch) || es[0].Email != "c@example.org" {
			t.Errorf("audit of the exports: %+v %v, want 2 batch.export entries by c@example.org", es, err)
		}
		if es, _ := ps.st.AuditSearch(context.Background(), "batch.view", 10, 0); len(es) == 0 {
			t.Error("the cohort page views are not audited")
		}
	})

	t.Run("OthersGet404", func(t *testing.T) {
		for _, u := range []string{path, path + "/download?format=csv", "/batches/999999", "/batches/x"} {
			if p := other.get(u); p.status != http.StatusNotFound {
				t.Errorf("other clinician GET %s: got %d, want 404", u, p.status)
			}
		}
		if p := newBrowser(t, ps.base).get(path); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location(), "/login") {
			t.Errorf("anonymous GET %s: %d to %q, want the login page", path, p.status, p.location())
		}
	})
}
