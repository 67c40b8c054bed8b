package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// TestMessagesSayEachThingOnce: an upload problem names its file and line
// once; an analysis that cannot start names the recording, not its id,
// and says why once.
func TestMessagesSayEachThingOnce(t *testing.T) {
	ps := startPortal(t)
	dr := ps.addUser(t, "dr@example.org", store.RoleClinician, "Quiet-Harbour-Lantern-7", false)
	b := newBrowser(t, ps.base)
	b.login("dr@example.org", "Quiet-Harbour-Lantern-7")
	post := func(name, body string) page {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("files", name)
		fw.Write([]byte(body))
		mw.Close()
		req, _ := http.NewRequest("POST", ps.base+"/datasets/upload", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Accept", "text/html")
		return b.do(req)
	}
	p := post("bad.csv", "time,HR\n0,70\n1,seventy\n")
	got := strings.Join(strings.Fields(p.text("problem")), " ")
	if p.status != http.StatusUnprocessableEntity || !strings.HasPrefix(got, "bad.csv, line 3:") || strings.Count(got, "bad.csv") != 1 || strings.Count(got, "line 3") != 1 {
		t.Errorf("bad CSV upload: got %d %q, want the file and line named once", p.status, got)
	}

	// An ECG-only algorithm on a vitals log does not start; the message
	// names the recording.
	ok := post("ward.csv", "time,HR,SpO2\n0,70,97\n1,71,97\n2,72,96\n")
	if ok.status != http.StatusSeeOther {
		t.Fatalf("vitals upload: got %d %s", ok.status, ok.body)
	}
	ds := idFrom(t, ok.location(), "/datasets/")
	rec := b.uploadRecord("100", []string{".hea", ".dat"}, "text/html")
	if rec.status != http.StatusSeeOther {
		t.Fatalf("MIT upload: got %d", rec.status)
	}
	mitID := idFrom(t, rec.location(), "/datasets/")

	// The form says which algorithms fit which recording, and why not.
	form := b.get("/analyses/new")
	fits := map[string]string{}
	form.doc.Find(`[data-testid="analysis-fit-row"]`).Each(func(_ int, row *goquery.Selection) {
		name := strings.TrimSpace(row.Find("th").Text())
		row.Find(`[data-testid="analysis-fit"]`).Each(func(_ int, c *goquery.Selection) {
			for _, alg := range strings.Fields(c.AttrOr("data-algorithm", "")) {
				fits[name+" "+alg] = c.AttrOr("data-fits", "") + " " + strings.TrimSpace(c.Text())
			}
		})
	})
	// Uploads are named neutrally, in upload order (server/naming.go).
	day := time.Now().UTC().Format(time.DateOnly)
	ward, mit := "Recording "+day+" #1", "Recording "+day+" #2"
	for key, want := range map[string]string{
		ward + " ecg.beats@1":      "false",
		ward + " vitals.summary@1": "true",
		mit + " ecg.beats@1":       "true",
		mit + " ecg.hrv@1":         "true",
		ward + " vitals.alarms@1":  "true",
		mit + " vitals.alarms@1":   "false",
	} {
		if got := fits[key]; !strings.HasPrefix(got, want) {
			t.Errorf("fit of %s: got %q, want %s", key, got, want)
		}
	}
	if got := fits[ward+" ecg.beats@1"]; !strings.Contains(got, "no ECG channel") {
		t.Errorf("ecg.beats@1 on a vitals log: got %q, want the reason", got)
	}
	// A form for one recording says it beside each algorithm too.
	one := b.get(fmt.Sprintf("/analyses/new?dataset=%d", ds))
	var notes []string
	one.doc.Find(`[data-testid="analysis-algorithm-misfit"]`).Each(func(_ int, n *goquery.Selection) {
		notes = append(notes, strings.Join(strings.Fields(n.Text()), " "))
	})
	ecgAlgorithms := 0
	reg := catalog.All()
	for _, name := range reg.Names() {
		if alg, _ := reg.Lookup(name); alg.Describe().Inputs == "ECG" {
			ecgAlgorithms++
		}
	}
	shared := strings.Join(strings.Fields(one.text("analysis-misfit-reason")), " ")
	if len(notes) != ecgAlgorithms || ecgAlgorithms < 3 || notes[0] != "✗ does not fit "+ward+" (see above)" ||
		!strings.Contains(shared, fmt.Sprintf("%d algorithms do not fit %s: no ECG channel", ecgAlgorithms, ward)) {
		t.Errorf("form for %s: notes %q and %q, want the %d ECG algorithms refused with the reason said once", ward, notes, shared, ecgAlgorithms)
	}

	// The API and the portal say the same, once: the algorithm, the
	// recording by name (never "dataset N"), and the reason without the
	// algorithm's name again; the form said the same reason beforehand.
	tok := ps.token(t, dr)
	for _, tc := range []struct {
		name    string
		alg     string
		dataset int64
		rec     string
		reason  string
	}{
		{"ECGOnVitals", "ecg.beats@1", ds, ward, `no ECG channel found among "HR", "SpO2"`},
		{"HRVOnVitals", "ecg.hrv@1", ds, ward, "no ECG channel"},
		// vitals.alarms puts its own name ahead of its errors.
		{"AlarmsOnECG", "vitals.alarms@1", mitID, mit, "no rule applies to this record (channels MLII, V5)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.alg + " cannot run on " + tc.rec + ": "
			body := fmt.Sprintf(`{"dataset_id": %d, "algorithm": %q}`, tc.dataset, tc.alg)
			req, _ := http.NewRequest("POST", ps.base+"/api/v1/analyses", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var apiErr struct{ Code, Error string }
			json.NewDecoder(resp.Body).Decode(&apiErr)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnprocessableEntity || !strings.HasPrefix(apiErr.Error, want+tc.reason) {
				t.Errorf("API: got %d %q, want 422 %q", resp.StatusCode, apiErr.Error, want+tc.reason+"…")
			}
			start := b.post("/analyses", url.Values{"algorithm": {tc.alg}, "dataset": {fmt.Sprint(tc.dataset)}, "priority": {"routine"}})
			flash := strings.Join(strings.Fields(b.follow(start.location()).text("flash")), " ")
			if flash != "The analysis could not start: "+apiErr.Error+"." {
				t.Errorf("portal: flash %q, want the API's message %q", flash, apiErr.Error)
			}
			for _, msg := range []string{apiErr.Error, flash} {
				if strings.Count(msg, tc.alg) != 1 || strings.Count(msg, tc.rec) != 1 || strings.Contains(msg, fmt.Sprintf("dataset %d", tc.dataset)) {
					t.Errorf("%q: want %s and %s named once each, and no dataset id", msg, tc.alg, tc.rec)
				}
			}
			if fit := fits[tc.rec+" "+tc.alg]; !strings.HasPrefix(fit, "false") || !strings.Contains(fit, tc.reason) {
				t.Errorf("form: %s on %s: got %q, want it refused with %q", tc.alg, tc.rec, fit, tc.reason)
			}
		})
	}

	// Several that cannot start in one batch: counted, each said once.
	start := b.post("/analyses", url.Values{"algorithm": {"ecg.beats@1", "vitals.alarms@1", "vitals.summary@1"}, "dataset": {fmt.Sprint(ds), fmt.Sprint(mitID)}, "priority": {"routine"}})
	flash := strings.Join(strings.Fields(b.follow(start.location()).text("flash")), " ")
	if !strings.HasPrefix(flash, "2 of 6 analyses could not start: ") || strings.Count(flash, "cannot run on") != 2 ||
		!strings.Contains(flash, "ecg.beats@1 cannot run on "+ward+": no ECG channel") ||
		!strings.Contains(flash, "vitals.alarms@1 cannot run on "+mit+": no rule applies") || strings.Contains(flash, "vitals.alarms@1: ") {
		t.Errorf("batch with two misfits: flash %q", flash)
	}
}
