package server_test

import (
	"bytes"
	"fmt"
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
	ps.addUser(t, "dr@example.org", store.RoleClinician, "Quiet-Harbour-Lantern-7", false)
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
	if rec := b.uploadRecord("100", []string{".hea", ".dat"}, "text/html"); rec.status != http.StatusSeeOther {
		t.Fatalf("MIT upload: got %d", rec.status)
	}

	// The form says which algorithms fit which recording, and why not.
	form := b.get("/analyses/new")
	fits := map[string]string{}
	form.doc.Find(`[data-testid="analysis-fit-row"]`).Each(func(_ int, row *goquery.Selection) {
		name := strings.TrimSpace(row.Find("th").Text())
		row.Find(`[data-testid="analysis-fit"]`).Each(func(_ int, c *goquery.Selection) {
			fits[name+" "+c.AttrOr("data-algorithm", "")] = c.AttrOr("data-fits", "") + " " + strings.TrimSpace(c.Text())
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
	start := b.post("/analyses", url.Values{"algorithm": {"ecg.beats@1"}, "dataset": {fmt.Sprint(ds)}, "priority": {"routine"}})
	flash := b.follow(start.location()).text("flash")
	if !strings.Contains(flash, "ecg.beats@1 on "+ward) || strings.Contains(flash, "dataset "+fmt.Sprint(ds)) || strings.Count(flash, "ecg.beats@1") != 1 {
		t.Errorf("analysis that cannot start: flash %q, want the algorithm once and the recording by name", flash)
	}
}
