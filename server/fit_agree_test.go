package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/pulsegrid/pulsegrid/algorithms/formats"
	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// TestFormAgreesWithStart: on real recordings of every kind we read (MIT
// ECG, a WFDB vitals record, EDF, a CSV log), every
// algorithm the new-analysis form says fits starts through the API, and
// every one it says does not fit is refused by the API with the form's
// reason: the two ask one check (grid.CanRun).
func TestFormAgreesWithStart(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	hash, _ := auth.HashPassword("Quiet-Harbour-Lantern-7")
	if _, err := ts.st.CreateUser(context.Background(), store.User{Email: "clin@example.org", Role: store.RoleClinician, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	tok := ts.user("clin@example.org", store.RoleClinician)
	read := func(paths ...string) []formats.File {
		var fs []formats.File
		for _, p := range paths {
			b, err := os.ReadFile(filepath.Join("../../shared/data", p))
			if err != nil {
				t.Fatal(err)
			}
			fs = append(fs, formats.File{Name: filepath.Base(p), Data: b})
		}
		return fs
	}
	uploads := map[string][]formats.File{
		"mitdb 100":     read("mitdb/100.hea", "mitdb/100.dat"),
		"vitals v102s":  read("alarms/v102s.hea", "alarms/v102s.dat"),
		"edf generator": read("edf/test_generator_2.edf"),
		"csv log":       {{Name: "ward.csv", Data: []byte("time,HR,SpO2,ABPSys\n0,70,97,120\n1,71,97,118\n2,72,96,121\n3,72,96,119\n")}},
	}
	ids := map[string]int64{}
	for name, files := range uploads {
		ids[name] = ts.uploadFiles(tok, files)
	}
	b := newBrowser(t, ts.base)
	b.login("clin@example.org", "Quiet-Harbour-Lantern-7")
	form := b.get("/analyses/new")
	checked, refused := 0, 0
	reasons := map[string]int{}
	form.doc.Find(`[data-testid="analysis-fit"]`).Each(func(_ int, c *goquery.Selection) {
		fits := c.AttrOr("data-fits", "") == "true"
		reason := strings.TrimSpace(c.Text())
		_, reason, _ = strings.Cut(reason, "does not fit: ")
		if !fits {
			reasons[reason]++
		}
		// A cell that says one reason for several algorithms or
		// recordings names them all; each pair is asked of the API.
		for _, ds := range strings.Fields(c.AttrOr("data-datasets", "")) {
			for _, alg := range strings.Fields(c.AttrOr("data-algorithm", "")) {
				code, body := ts.do("POST", "/api/v1/analyses", tok, strings.NewReader(fmt.Sprintf(`{"dataset_id": %s, "algorithm": %q}`, ds, alg)), "application/json")
				var e struct{ Error string }
				json.Unmarshal(body, &e)
				checked++
				switch {
				case fits && code != 201:
					t.Errorf("dataset %s, %s: the form says it fits, the API answers %d %s", ds, alg, code, e.Error)
				case !fits && (code != 422 || !strings.HasSuffix(e.Error, ": "+reason)):
					t.Errorf("dataset %s, %s: the form says %q, the API answers %d %q", ds, alg, reason, code, e.Error)
				case !fits:
					refused++
				}
			}
		}
	})
	// The table says each reason once: the vitals log's one reason for
	// every ECG algorithm is one cell, not one per algorithm.
	for reason, n := range reasons {
		if n > 1 {
			t.Errorf("the fit table says %q in %d cells, want one", reason, n)
		}
	}
	if text := form.doc.Find(`[data-testid="analysis-fits"]`).Text(); strings.Count(text, "no ECG channel found") != 1 {
		t.Errorf("the fit table says %q %d times, want once", "no ECG channel found", strings.Count(text, "no ECG channel found"))
	}
	if checked != len(uploads)*len(catalog.All().Names()) || refused == 0 || refused == checked {
		t.Errorf("checked %d pairs (%d refused), want every algorithm on each of %d recordings, some refused", checked, refused, len(uploads))
	}
}
