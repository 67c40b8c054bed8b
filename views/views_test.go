package views

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/pulsegrid/pulsegrid/views/charts"
)

// mustRender renders a component and parses it.
func mustRender(tb testing.TB, c templ.Component) *goquery.Document {
	tb.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		tb.Fatalf("render: %v", err)
	}
	doc, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	return doc
}

// mustPage renders a component inside the layout.
func mustPage(tb testing.TB, nav Nav, c templ.Component) *goquery.Document {
	tb.Helper()
	return mustRender(tb, Layout("Test", nav, c))
}

func testid(id string) string { return `[data-testid="` + id + `"]` }

// count fails unless the selector matches exactly want elements.
func count(t *testing.T, doc *goquery.Document, sel string, want int) *goquery.Selection {
	t.Helper()
	s := doc.Find(sel)
	if s.Length() != want {
		t.Errorf("%s: got %d elements, want %d", sel, s.Length(), want)
	}
	return s
}

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func sampleResult() ResultPage {
	rate := 360.0
	samples := make([]float64, int(10*rate))
	for i := range samples {
		samples[i] = math.Sin(float64(i) / 20)
	}
	hrT, hr := []float64{}, []float64{}
	for i := 0; i < 1800; i++ {
		hrT = append(hrT, float64(i))
		hr = append(hr, 70+5*math.Sin(float64(i)/100))
	}
	rr := make([]float64, 2000)
	rrT := make([]float64, 2000)
	for i := range rr {
		rr[i] = 850 + 40*math.Sin(float64(i)/7)
		rrT[i] = float64(i) * 0.85
	}
	return ResultPage{
		AnalysisID: 7, Algorithm: "ecg.beats@1", DatasetID: 3, DatasetName: "100", DurationSec: 1805,
		Beats: &BeatsResult{
			Count: 2273, MeanHR: 75.4,
			Strip: StripView{
				AnalysisID: 7, From: 0, To: 10, DurationSec: 1805, Lead: "MLII", Unit: "mV", Rate: rate, Samples: samples,
				Detected:  []charts.Mark{{Time: 0.5, Label: "N"}, {Time: 1.3, Label: "N"}},
				Reference: []charts.Mark{{Time: 0.51, Label: "N"}},
			},
			HRTimes: hrT, HR: hr, RRTimes: rrT, RRMs: rr,
			Reference: &BeatScore{Reference: 2274, TruePositives: 2272, FalsePositives: 1, FalseNegatives: 2, Sensitivity: 0.9991, PPV: 0.9996},
		},
		HRV: &HRVResult{Rows: []HRVRow{
			{Key: "sdnn", Name: "SDNN", Value: 120.5, Unit: "ms"},
			{Key: "rmssd", Name: "RMSSD", Value: 30.1, Unit: "ms"},
			{Key: "pnn50", Name: "pNN50", Value: 9.5, Unit: "%"},
		}},
		Alarms: &AlarmsResult{Episodes: []charts.Episode{
			{Start: 100, End: 130, Label: "Tachycardia", Kind: "high", Href: "/analyses/7/result?from=99&to=109#strip"},
		}},
		Vitals: &VitalsResult{
			Rows:   []VitalsRow{{Channel: "SpO2", Unit: "%", Mean: 96.2, Median: 96, Min: 88, Max: 100, P5: 92, P95: 99, MissingPct: 1.5}},
			Trends: []Trend{{Name: "SpO2", Unit: "%", Step: 1, Samples: []float64{95, 96, math.NaN(), 97}, UsualLo: 94, UsualHi: 100}},
		},
		Downloads: Downloads{CSV: "/analyses/7/export?format=csv", JSON: "/analyses/7/export?format=json", WFDB: "/analyses/7/export?format=wfdb"},
	}
}

// pages is one rendering of every page, for the checks that apply to all.
func pages() map[string]templ.Component {
	return map[string]templ.Component{
		"login":          Login(LoginPage{Error: "Wrong email or password."}),
		"password":       ChangePassword(ChangePasswordPage{Forced: true}),
		"datasets":       Datasets(DatasetsPage{Rows: []DatasetRow{{ID: 1, Name: "100", Format: "WFDB", Uploaded: t0}}}),
		"upload":         Upload(UploadPage{Templates: []Option{{"mitbih", "MIT-BIH"}}}),
		"dataset":        DatasetDetail(DatasetPage{ID: 1, Name: "100", Channels: []ChannelInfo{{Name: "MLII", Preview: []float64{1, 2}}}}),
		"analysis-new":   AnalysisNew(AnalysisNewPage{Algorithms: []AlgorithmOption{{Name: "ecg.beats@1"}}, Datasets: []Option{{"1", "100"}}}),
		"analyses":       Analyses(AnalysesPage{Rows: []AnalysisRow{{ID: 1, Status: "running"}}}),
		"analysis":       AnalysisProgress(AnalysisPage{ID: 9, Status: "running", ChunksTotal: 10}),
		"result":         Result(sampleResult()),
		"cohort":         Cohort(CohortPage{Recordings: []CohortRecording{{DatasetName: "a"}}, Metrics: []CohortMetric{{Name: "HR", Values: []float64{1}}}}),
		"cohort-batch":   CohortBatch(sampleCohortBatch()),
		"donate":         Donate(DonatePage{}),
		"leaderboard":    Leaderboard(LeaderboardPage{Rows: []LeaderRow{{Rank: 1}}}),
		"users":          Users(UsersPage{Users: []UserRow{{ID: 1, Email: "a@b"}}}),
		"tokens":         Tokens(TokensPage{Tokens: []TokenRow{{ID: 1}}}),
		"templates":      Templates(TemplatesPage{Templates: []TemplateRow{{ID: 1}}}),
		"template-edit":  TemplateEdit(TemplateEditPage{JSON: "{}"}),
		"grid":           Grid(GridPage{Nodes: []NodeRow{{ID: "n1"}}}),
		"audit":          Audit(AuditPage{Entries: []AuditRow{{When: t0}}}),
		"error":          ErrorView(ErrorPage{Status: 404}),
		"strip-fragment": StripFragment(sampleResult().Beats.Strip),
	}
}

// TestCSPSafe checks what the CSP would block: inline scripts, inline
// styles, event-handler attributes, javascript: URLs; and that every script
// a page loads is a module under /static/js that exists (donate.js is
// written by the volunteer work).
func TestCSPSafe(t *testing.T) {
	for name, c := range pages() {
		t.Run(name, func(t *testing.T) {
			doc := mustPage(t, Nav{Role: RoleAdmin, Email: "a@example.org"}, c)
			doc.Find("script").Each(func(_ int, s *goquery.Selection) {
				src, ok := s.Attr("src")
				if !ok || strings.TrimSpace(s.Text()) != "" {
					t.Errorf("inline script: %s", s.Text())
					return
				}
				if typ, _ := s.Attr("type"); typ != "module" || !strings.HasPrefix(src, "/static/js/") {
					t.Errorf("script %q type %q: want a module under /static/js/", src, typ)
				}
				if src == "/static/js/donate.js" {
					return
				}
				if _, err := os.Stat(filepath.Join("..", src)); err != nil {
					t.Errorf("script %s: %v", src, err)
				}
			})
			if doc.Find("style").Length() > 0 {
				t.Error("inline <style> element")
			}
			doc.Find("*").Each(func(_ int, s *goquery.Selection) {
				for _, a := range s.Nodes[0].Attr {
					if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
						t.Errorf("<%s %s=%q>: blocked by the CSP", s.Nodes[0].Data, a.Key, a.Val)
					}
					if (a.Key == "href" || a.Key == "action" || a.Key == "src") && strings.HasPrefix(strings.ToLower(a.Val), "javascript:") {
						t.Errorf("javascript: URL in %s", a.Key)
					}
				}
			})
			if doc.Find(`link[rel="stylesheet"][href="/static/css/app.css"]`).Length() != 1 {
				t.Error("stylesheet link missing")
			}
		})
	}
}

// TestRequiredTestIDs checks the hooks the issues require.
func TestRequiredTestIDs(t *testing.T) {
	var all strings.Builder
	for _, c := range pages() {
		var buf bytes.Buffer
		if err := Layout("x", Nav{}, c).Render(context.Background(), &buf); err != nil {
			t.Fatal(err)
		}
		all.Write(buf.Bytes())
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(all.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{
		"login-email", "login-password", "login-submit", "upload-files", "upload-submit", "dataset-row",
		"analysis-start", "analysis-status", "analysis-progress", "result-beats-count", "result-hrv-table", "download-csv",
		"donate-start", "donate-pause", "donate-resume", "donate-cpu", "donate-threads", "donate-status",
		"donate-chunks-done", "donate-verified",
	} {
		if doc.Find(testid(id)).Length() == 0 {
			t.Errorf("data-testid %q not found on any page", id)
		}
	}
}

func TestLayoutNav(t *testing.T) {
	tests := []struct {
		name      string
		nav       Nav
		present   []string
		absent    []string
		signedOut bool
	}{
		{"Anonymous", Nav{}, []string{"nav-donate", "nav-leaderboard", "nav-login"}, []string{"nav-datasets", "nav-users", "logout"}, true},
		{"Clinician", Nav{Role: RoleClinician, Email: "c@example.org"}, []string{"nav-datasets", "nav-upload", "nav-analyses", "nav-tokens", "logout"}, []string{"nav-users", "nav-grid", "nav-audit", "nav-login"}, false},
		{"Admin", Nav{Role: RoleAdmin, Email: "a@example.org"}, []string{"nav-datasets", "nav-users", "nav-templates", "nav-grid", "nav-audit", "logout"}, []string{"nav-login"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := mustPage(t, tc.nav, templ.NopComponent)
			for _, id := range tc.present {
				count(t, doc, testid(id), 1)
			}
			for _, id := range tc.absent {
				count(t, doc, testid(id), 0)
			}
		})
	}
	nav := Nav{Role: RoleClinician, Active: "datasets", CSRFToken: "tok", Flashes: []Flash{{Kind: "success", Message: "<b>Saved</b>"}}}
	doc := mustPage(t, nav, templ.NopComponent)
	if got, _ := doc.Find(testid("nav-datasets")).Attr("aria-current"); got != "page" {
		t.Errorf("active nav: got aria-current %q, want page", got)
	}
	if got := doc.Find(testid("flash")).Text(); got != "<b>Saved</b>" {
		t.Errorf("flash: got %q, want the text escaped", got)
	}
	if got, _ := doc.Find(`form[action="/logout"] input[name="csrf_token"]`).Attr("value"); got != "tok" {
		t.Errorf("logout csrf token: got %q, want tok", got)
	}
	if got := doc.Find("title").Text(); got != "Test · pulsegrid" {
		t.Errorf("title: got %q", got)
	}
}

func TestLogin(t *testing.T) {
	doc := mustRender(t, Login(LoginPage{Email: "x@example.org", Error: "Too many attempts; try again in 1 minute.", Next: "/datasets"}))
	if v, _ := count(t, doc, testid("login-email"), 1).Attr("value"); v != "x@example.org" {
		t.Errorf("email: got %q", v)
	}
	if typ, _ := count(t, doc, testid("login-password"), 1).Attr("type"); typ != "password" {
		t.Errorf("password type: got %q", typ)
	}
	count(t, doc, testid("login-submit"), 1)
	if got := doc.Find(testid("login-error")).Text(); !strings.Contains(got, "Too many attempts") {
		t.Errorf("error: got %q", got)
	}
	if v, _ := doc.Find(`input[name="next"]`).Attr("value"); v != "/datasets" {
		t.Errorf("next: got %q", v)
	}
	count(t, doc, `input[name="csrf_token"]`, 0)
	doc = mustRender(t, Login(LoginPage{CSRFToken: "abc"}))
	count(t, doc, `input[name="csrf_token"][value="abc"]`, 1)
	count(t, doc, testid("login-error")+" p", 0)
}

func TestChangePassword(t *testing.T) {
	doc := mustRender(t, ChangePassword(ChangePasswordPage{Forced: true}))
	count(t, doc, testid("password-forced"), 1)
	count(t, doc, testid("password-current"), 0)
	if v, _ := doc.Find(testid("password-new")).Attr("minlength"); v != "12" {
		t.Errorf("minlength: got %q, want 12", v)
	}
	doc = mustRender(t, ChangePassword(ChangePasswordPage{MinLength: 16}))
	count(t, doc, testid("password-current"), 1)
}

func TestDatasets(t *testing.T) {
	p := DatasetsPage{Query: "10", Sort: "name", Rows: []DatasetRow{
		{ID: 1, Name: "100", Format: "WFDB", Channels: 2, DurationSec: 1805, SizeBytes: 1 << 20, Uploaded: t0, Annotated: true},
		{ID: 2, Name: `<img src=x onerror=alert(1)>`, Format: "CSV", Channels: 1, DurationSec: 60, Uploaded: t0},
	}}
	doc := mustRender(t, Datasets(p))
	rows := count(t, doc, testid("dataset-row"), 2)
	if got := rows.First().Find("td").Eq(4).Text(); got != "30 min 5 s" {
		t.Errorf("duration: got %q, want 30 min 5 s", got)
	}
	if got := rows.First().Find("td").Eq(5).Text(); got != "1.0 MiB" {
		t.Errorf("size: got %q, want 1.0 MiB", got)
	}
	count(t, doc, "img", 0) // the hostile name is text
	if got := rows.Eq(1).Find(testid("dataset-link")).Text(); got != p.Rows[1].Name {
		t.Errorf("name: got %q", got)
	}
	if h, _ := doc.Find(testid("sort-name")).Attr("href"); h != "/datasets?dir=desc&q=10&sort=name" {
		t.Errorf("active sort link: got %q, want it to flip to desc", h)
	}
	if h, _ := doc.Find(testid("sort-size")).Attr("href"); h != "/datasets?dir=asc&q=10&sort=size" {
		t.Errorf("other sort link: got %q", h)
	}
	if a, _ := doc.Find(testid("sort-name")).Parent().Attr("aria-sort"); a != "ascending" {
		t.Errorf("aria-sort: got %q", a)
	}
	doc = mustRender(t, Datasets(DatasetsPage{}))
	count(t, doc, testid("datasets-empty"), 1)
}

func TestUpload(t *testing.T) {
	doc := mustRender(t, Upload(UploadPage{
		Templates: []Option{{"default", "Default"}, {"mitbih", "MIT-BIH"}}, Template: "mitbih", MaxBytes: 1 << 30,
		Problems: []Problem{{File: "100.hea", Line: 2, Message: "signal 1: format 999 is not supported (want 16 or 212)"}, {Message: "no recording found"}},
	}))
	form := count(t, doc, "form#upload-form", 1)
	if e, _ := form.Attr("enctype"); e != "multipart/form-data" {
		t.Errorf("enctype: got %q", e)
	}
	files := count(t, doc, testid("upload-files"), 1)
	if _, ok := files.Attr("multiple"); !ok {
		t.Error("upload-files: want multiple")
	}
	if n, _ := files.Attr("name"); n != "files" {
		t.Errorf("field name: got %q, want files (the API's multipart field)", n)
	}
	count(t, doc, testid("upload-submit"), 1)
	count(t, doc, testid("upload-progress"), 1)
	if v, _ := doc.Find(`#upload-template option[selected]`).Attr("value"); v != "mitbih" {
		t.Errorf("selected template: got %q", v)
	}
	probs := count(t, doc, testid("problems")+" "+testid("problem"), 2)
	if got := probs.First().Text(); !strings.Contains(got, "100.hea") || !strings.Contains(got, "line 2") || !strings.Contains(got, "format 999") {
		t.Errorf("problem: got %q", got)
	}
	count(t, doc, `script[src="/static/js/upload.js"]`, 1)
}

func TestDatasetDetail(t *testing.T) {
	doc := mustRender(t, DatasetDetail(DatasetPage{
		ID: 4, Name: "100", Format: "WFDB", DurationSec: 1805, Annotations: 2274, Uploaded: t0,
		Channels: []ChannelInfo{
			{Name: "MLII", Unit: "mV", Rate: 360, Samples: 650000, Min: -2, Max: 3, Preview: make([]float64, 3600)},
			{Name: "V5", Unit: "mV", Rate: 360, Samples: 650000, Preview: []float64{math.NaN()}},
		},
	}))
	count(t, doc, testid("channel-row"), 2)
	count(t, doc, testid("channel-preview")+" svg.chart-sparkline", 2)
	count(t, doc, testid("dataset-annotations"), 1)
	form := count(t, doc, testid("dataset-delete-form"), 1)
	if a, _ := form.Attr("action"); a != "/datasets/4/delete" {
		t.Errorf("delete action: got %q", a)
	}
	if _, ok := doc.Find(testid("dataset-delete-confirm")).Attr("required"); !ok {
		t.Error("delete confirmation checkbox must be required")
	}
	// No template is said, not left blank; a template is named.
	if got := strings.TrimSpace(doc.Find(testid("dataset-template")).Text()); got != "none: kept as uploaded" {
		t.Errorf("template of a recording uploaded without one: got %q", got)
	}
	withTemplate := mustRender(t, DatasetDetail(DatasetPage{ID: 5, Name: "ward", Format: "CSV", Template: "icu-vitals", Uploaded: t0}))
	if got := strings.TrimSpace(withTemplate.Find(testid("dataset-template")).Text()); got != "icu-vitals" {
		t.Errorf("template: got %q, want icu-vitals", got)
	}
}

func TestAnalysisNew(t *testing.T) {
	doc := mustRender(t, AnalysisNew(AnalysisNewPage{
		Algorithms: []AlgorithmOption{{Name: "ecg.beats@1", Description: "QRS detection"}, {Name: "ecg.hrv@1"}},
		Datasets:   []Option{{"1", "100"}, {"2", "101"}, {"3", "102"}},
		Selected:   []string{"1", "3"}, Chosen: []string{"ecg.hrv@1"}, Priority: "stat",
	}))
	count(t, doc, testid("analysis-algorithm"), 2)
	count(t, doc, testid("analysis-algorithm")+"[checked]", 1)
	count(t, doc, `select[name="dataset"][multiple] option[selected]`, 2)
	count(t, doc, testid("analysis-priority-stat")+"[checked]", 1)
	count(t, doc, testid("analysis-priority-routine")+"[checked]", 0)
	count(t, doc, testid("analysis-start"), 1)
	count(t, doc, testid("analysis-params"), 1)
	doc = mustRender(t, AnalysisNew(AnalysisNewPage{Algorithms: []AlgorithmOption{{Name: "a"}, {Name: "b"}}}))
	count(t, doc, testid("analysis-priority-routine")+"[checked]", 1)
}

func TestAnalysisProgress(t *testing.T) {
	doc := mustRender(t, AnalysisProgress(AnalysisPage{
		ID: 42, Algorithm: "ecg.beats@1", Status: "running", ChunksVerified: 3, ChunksTotal: 12, VolunteersWorking: 2, ETASeconds: 95, Created: t0,
	}))
	root := count(t, doc, "#analysis", 1)
	if u, _ := root.Attr("data-status-url"); u != "/api/v1/analyses/42" {
		t.Errorf("status url: got %q", u)
	}
	prog := count(t, doc, "progress"+testid("analysis-progress"), 1)
	if v, _ := prog.Attr("value"); v != "3" {
		t.Errorf("progress value: got %q", v)
	}
	if m, _ := prog.Attr("max"); m != "12" {
		t.Errorf("progress max: got %q", m)
	}
	if got := doc.Find(testid("analysis-status")).Text(); got != "running" {
		t.Errorf("status: got %q", got)
	}
	if got := doc.Find(testid("analysis-eta")).Text(); got != "1 min 35 s" {
		t.Errorf("eta: got %q", got)
	}
	if got := doc.Find(testid("analysis-volunteers")).Text(); got != "2" {
		t.Errorf("volunteers: got %q", got)
	}
	count(t, doc, testid("analysis-cancel"), 1)
	count(t, doc, testid("analysis-delete"), 1)
	count(t, doc, "#analysis-result-link[hidden]", 1)
	count(t, doc, `script[src="/static/js/progress.js"]`, 1)

	doc = mustRender(t, AnalysisProgress(AnalysisPage{ID: 42, Status: "done", ChunksVerified: 12, ChunksTotal: 12, ETASeconds: -1, BatchID: 5}))
	count(t, doc, testid("analysis-cancel"), 0)
	count(t, doc, "#analysis-result-link[hidden]", 0)
	count(t, doc, testid("analysis-cohort-link"), 1)
	if got := strings.TrimSpace(doc.Find(testid("analysis-eta")).Text()); got != "–" {
		t.Errorf("eta of a finished analysis: got %q, want –", got)
	}
}

func TestResult(t *testing.T) {
	p := sampleResult()
	doc := mustRender(t, Result(p))
	if got := doc.Find(testid("result-beats-count")).Text(); got != "2273" {
		t.Errorf("beats count: got %q", got)
	}
	if h, _ := doc.Find(testid("download-csv")).Attr("href"); h != p.Downloads.CSV {
		t.Errorf("download-csv: got %q", h)
	}
	count(t, doc, testid("download-json"), 1)
	count(t, doc, testid("download-wfdb"), 1)
	strip := count(t, doc, testid("strip"), 1)
	if u, _ := strip.Attr("data-strip-url"); u != "/analyses/7/strip" {
		t.Errorf("strip url: got %q", u)
	}
	count(t, doc, testid("strip-svg")+" svg.chart-strip", 1)
	count(t, doc, testid("strip-svg")+" g.mark.detected", 2)
	count(t, doc, testid("strip-svg")+" g.mark.reference", 1)
	if h, _ := doc.Find(testid("strip-next")).Attr("href"); h != "/analyses/7/result?from=10.000&to=20.000#strip" {
		t.Errorf("next window: got %q", h)
	}
	if h, _ := doc.Find(testid("strip-prev")).Attr("href"); h != "/analyses/7/result?from=0.000&to=10.000#strip" {
		t.Errorf("previous window clamps at 0: got %q", h)
	}
	if v, _ := doc.Find(`#strip-window option[selected]`).Attr("value"); v != "10.000" {
		t.Errorf("window: got %q", v)
	}
	count(t, doc, testid("chart-hr")+" svg path.series", 1)
	count(t, doc, testid("chart-rr")+" svg path.series", 1)
	count(t, doc, testid("chart-poincare")+" svg circle", doc.Find(testid("chart-poincare")+" svg circle").Length())
	if doc.Find(testid("chart-poincare")+" svg circle").Length() == 0 {
		t.Error("Poincaré plot has no dots")
	}
	hrv := count(t, doc, testid("result-hrv-table")+" "+testid("hrv-row"), 3)
	if got := hrv.First().Find("td").Eq(2).Text(); got != "141 ± 39" {
		t.Errorf("SDNN usual range: got %q, want the Task Force value", got)
	}
	if got := hrv.Eq(2).Find("td").Eq(2).Text(); got != "–" {
		t.Errorf("pNN50 usual range: got %q, want none", got)
	}
	if got := hrv.First().Find("td").Eq(1).Text(); got != "ms" {
		t.Errorf("unit: got %q", got)
	}
	count(t, doc, testid("chart-alarms")+" svg a[data-strip-from]", 1)
	count(t, doc, testid("alarm-row"), 1)
	count(t, doc, testid("vitals-row"), 1)
	count(t, doc, testid("chart-trend")+" rect.band", 1)
	if got := doc.Find(testid("result-sensitivity")).Text(); got != "99.9 %" {
		t.Errorf("sensitivity: got %q", got)
	}

	// Optional sections are absent when nil.
	doc = mustRender(t, Result(ResultPage{AnalysisID: 1, HRV: p.HRV}))
	count(t, doc, testid("result-beats"), 0)
	count(t, doc, testid("downloads"), 0)
	count(t, doc, testid("result-hrv-table"), 1)
}

func TestStripFragment(t *testing.T) {
	s := sampleResult().Beats.Strip
	s.From, s.To = 2, 7
	var buf bytes.Buffer
	if err := StripFragment(s).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.HasPrefix(out, "<svg ") || !strings.HasSuffix(out, "</svg>") {
		t.Fatalf("fragment is not one svg element: %.80s…", out)
	}
	doc := mustRender(t, StripFragment(s))
	svg := count(t, doc, "svg.chart-strip", 1)
	if f, _ := svg.Attr("data-from"); f != "2.000" {
		t.Errorf("data-from: got %q", f)
	}
	count(t, doc, "g.mark.detected", 0) // marks at 0.5 and 1.3 s are outside [2, 7]
}

func TestCohort(t *testing.T) {
	p := CohortPage{
		Algorithm: "ecg.hrv@1",
		Recordings: []CohortRecording{
			{DatasetName: "100", AnalysisID: 1, Status: "done", HR: []float64{70, 71}},
			{DatasetName: "101", AnalysisID: 2, Status: "done"},
			{DatasetName: "102", AnalysisID: 3, Status: "failed"},
			{DatasetName: "103", AnalysisID: 4, Status: "done"},
		},
		Metrics: []CohortMetric{{Name: "SDNN", Unit: "ms", Values: []float64{100, 120, math.NaN(), 200}}},
	}
	doc := mustRender(t, Cohort(p))
	count(t, doc, testid("cohort-recording"), 4)
	row := count(t, doc, testid("cohort-metric"), 1)
	checks := map[string]string{"cohort-mean": "140.0", "cohort-median": "120.0", "cohort-iqr": "110.0 to 160.0", "cohort-n": "3"}
	for id, want := range checks {
		if got := row.Find(testid(id)).Text(); got != want {
			t.Errorf("%s: got %q, want %q", id, got, want)
		}
	}
	if got := row.Find("td").Eq(2).Text(); got != "–" {
		t.Errorf("missing value: got %q, want –", got)
	}
	count(t, doc, "svg.chart-sparkline", 4)
}

func TestAggregate(t *testing.T) {
	tests := []struct {
		name   string
		in     []float64
		mean   float64
		median float64
		q1, q3 float64
		n      int
	}{
		{"Odd", []float64{3, 1, 2}, 2, 2, 1.5, 2.5, 3},
		{"Even", []float64{1, 2, 3, 4}, 2.5, 2.5, 1.75, 3.25, 4},
		{"One", []float64{5}, 5, 5, 5, 5, 1},
		{"SkipsNaN", []float64{math.NaN(), 4, math.Inf(1)}, 4, 4, 4, 4, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Aggregate(tc.in)
			if s.N != tc.n || s.Mean != tc.mean || s.Median != tc.median || s.Q1 != tc.q1 || s.Q3 != tc.q3 {
				t.Errorf("got %+v, want n=%d mean=%v median=%v q1=%v q3=%v", s, tc.n, tc.mean, tc.median, tc.q1, tc.q3)
			}
		})
	}
	if s := Aggregate(nil); s.N != 0 || !math.IsNaN(s.Mean) {
		t.Errorf("empty: got %+v", s)
	}
}

func TestDonate(t *testing.T) {
	doc := mustRender(t, Donate(DonatePage{MaxThreads: 8, Teams: []string{"Blue", "Red Cross"}}))
	for _, id := range []string{"donate-start", "donate-pause", "donate-resume", "donate-cpu", "donate-threads", "donate-status",
		"donate-chunks-done", "donate-verified", "donate-cpu-time", "donate-credit", "donate-nickname", "donate-team", "donate-leaderboard"} {
		el := count(t, doc, testid(id), 1)
		if got, _ := el.Attr("id"); got != id {
			t.Errorf("%s: got id %q, want the same as the test id (donate.js finds elements by id)", id, got)
		}
	}
	var cpu []string
	doc.Find("#donate-cpu option").Each(func(_ int, s *goquery.Selection) { v, _ := s.Attr("value"); cpu = append(cpu, v) })
	if strings.Join(cpu, ",") != "25,50,75,100" {
		t.Errorf("cpu options: got %v", cpu)
	}
	count(t, doc, "#donate-threads option", 8)
	// The team field offers the teams with credit.
	var teams []string
	doc.Find("#" + doc.Find(testid("donate-team")).AttrOr("list", "") + " option").Each(func(_ int, s *goquery.Selection) { teams = append(teams, s.AttrOr("value", "")) })
	if strings.Join(teams, ",") != "Blue,Red Cross" {
		t.Errorf("team choices: got %v, want Blue, Red Cross", teams)
	}
	count(t, doc, `script[type="module"][src="/static/js/donate.js"]`, 1)
	if got := doc.Find(testid("donate-status")).Text(); got != "idle" {
		t.Errorf("status before Start: got %q, want idle", got)
	}
	// What the quorum means for a volunteer: "1 different volunteers" and a
	// second opinion are wrong at quorum 1.
	for _, c := range []struct {
		quorum    int
		want, not string
	}{
		{1, "no second volunteer to wait for", "second opinion: another"},
		{2, "computed by 2 different volunteers", "no second opinion"},
		{3, "computed by 3 different volunteers", "no second opinion"},
	} {
		doc := mustRender(t, Donate(DonatePage{MaxThreads: 1, Quorum: c.quorum}))
		got := strings.Join(strings.Fields(doc.Find(testid("donate-second-opinion")).Text()), " ")
		if !strings.Contains(got, c.want) || strings.Contains(got, c.not) || strings.Contains(got, "1 different") {
			t.Errorf("quorum %d: %q, want %q and not %q", c.quorum, got, c.want, c.not)
		}
		intro := doc.Find(testid("donate-intro")).Text()
		if another := strings.Contains(intro, "another volunteer’s"); another != (c.quorum > 1) {
			t.Errorf("quorum %d: the intro says answers are checked against another volunteer's: %v", c.quorum, another)
		}
	}
}

func TestLeaderboard(t *testing.T) {
	doc := mustRender(t, Leaderboard(LeaderboardPage{Rows: []LeaderRow{{Rank: 1, Nickname: "ada", Team: "Blue", Chunks: 10, Verified: 9, CPUSeconds: 3700, Credit: 12.5}, {Rank: 2}}}))
	rows := count(t, doc, testid("leaderboard-row"), 2)
	if got := rows.Eq(1).Find("td").Eq(1).Text(); got != "anonymous" {
		t.Errorf("empty nickname: got %q", got)
	}
	if got := rows.First().Find(testid("leaderboard-team")).Text(); got != "Blue" {
		t.Errorf("team: got %q", got)
	}
	if got := rows.First().Find("td").Eq(5).Text(); got != "1 h 2 min" {
		t.Errorf("cpu time: got %q", got)
	}
	// No team has credit: no teams table.
	count(t, doc, testid("leaderboard-teams"), 0)
}

func TestLeaderboardTeams(t *testing.T) {
	doc := mustRender(t, Leaderboard(LeaderboardPage{
		Rows:  []LeaderRow{{Rank: 1, Nickname: "ada", Team: "Blue", Credit: 3}},
		Teams: []TeamRow{{Rank: 1, Name: "Blue", Members: 2, Chunks: 7, Verified: 6, CPUSeconds: 90, Credit: 5.5}, {Rank: 2, Name: "Red", Members: 1, Credit: 1}},
	}))
	rows := count(t, doc, testid("leaderboard-team-row"), 2)
	if got := rows.First().Find(testid("leaderboard-team-name")).Text(); got != "Blue" {
		t.Errorf("first team: got %q, want Blue", got)
	}
	if got := rows.First().Find(testid("leaderboard-team-members")).Text(); got != "2" {
		t.Errorf("members: got %q, want 2", got)
	}
	if got := rows.First().Find(testid("leaderboard-team-credit")).Text(); got != "5.500" {
		t.Errorf("team credit: got %q, want 5.500", got)
	}
}

func TestAdmin(t *testing.T) {
	doc := mustRender(t, Users(UsersPage{
		Users:           []UserRow{{ID: 1, Email: "a@x", Role: "admin"}, {ID: 2, Email: "c@x", Role: "clinician", Disabled: true, MustChange: true}},
		OneTimePassword: "pw-123", OneTimeFor: "c@x",
	}))
	count(t, doc, testid("user-row"), 2)
	count(t, doc, testid("user-disable"), 1)
	count(t, doc, testid("user-enable"), 1)
	if got := doc.Find(testid("user-onetime-password")).Text(); got != "pw-123" {
		t.Errorf("one-time password: got %q", got)
	}
	if a, _ := doc.Find(testid("user-reset")).First().Closest("form").Attr("action"); a != "/admin/users/1/reset" {
		t.Errorf("reset action: got %q", a)
	}

	doc = mustRender(t, Tokens(TokensPage{Tokens: []TokenRow{{ID: 3, Name: "pacs", Prefix: "pg_ab"}}, NewToken: "pg_secret", NewTokenName: "pacs"}))
	count(t, doc, testid("token-row"), 1)
	if got := doc.Find(testid("token-secret")).Text(); got != "pg_secret" {
		t.Errorf("new token: got %q", got)
	}
	if a, _ := doc.Find(testid("token-revoke")).Closest("form").Attr("action"); a != "/account/tokens/3/revoke" {
		t.Errorf("revoke action: got %q", a)
	}

	doc = mustRender(t, TemplateEdit(TemplateEditPage{ID: 0, JSON: `{"a":"</textarea><b>"}`}))
	if got := doc.Find(testid("template-json")).Text(); got != `{"a":"</textarea><b>"}` {
		t.Errorf("template json: got %q", got)
	}
	if a, _ := doc.Find(testid("template-form")).Attr("action"); a != "/admin/templates" {
		t.Errorf("new template action: got %q", a)
	}

	doc = mustRender(t, Grid(GridPage{
		VolunteersOnline: 3, VerifiedPerMinute: 12.345,
		Queue:    []QueueRow{{Priority: "stat", Pending: 1}, {Priority: "routine", Pending: 40}},
		Nodes:    []NodeRow{{ID: "ab12", Kind: "browser", Online: true, Requests: 10, Leased: 9, Accepted: 8, Completed: 9, Failed: 1, AvgCompletion: 1500 * time.Millisecond}},
		Failures: []FailureRow{{AnalysisID: 4, Chunk: -1, Reason: "chunk 3: no quorum"}},
	}))
	if got := doc.Find(testid("grid-failure-row") + " td").Eq(1).Text(); got != "–" {
		t.Errorf("unknown failed chunk: got %q, want –", got)
	}
	if got := doc.Find(testid("grid-volunteers")).Text(); got != "3" {
		t.Errorf("volunteers: got %q", got)
	}
	if got := doc.Find(testid("grid-rate")).Text(); got != "12.3" {
		t.Errorf("rate: got %q", got)
	}
	count(t, doc, testid("grid-queue-row"), 2)
	row := doc.Find(testid("grid-node-row"))
	var got []string
	for _, id := range []string{"node-requests", "node-leased", "node-completed", "node-accepted", "node-failed", "node-avg-completion"} {
		got = append(got, row.Find(testid(id)).Text())
	}
	if strings.Join(got, "|") != "10|9|9|8|1|1.50 s" {
		t.Errorf("node stats: got %v", got)
	}
	if _, ok := row.Attr("data-online"); !ok {
		t.Error("an online node lacks data-online")
	}

	doc = mustRender(t, Audit(AuditPage{Entries: []AuditRow{{When: t0, Actor: "c@x", Action: "export", Object: "analysis 7"}}, NextPage: "/admin/audit?before=5"}))
	count(t, doc, testid("audit-row"), 1)
	count(t, doc, testid("audit-next"), 1)
	count(t, doc, testid("audit-prev"), 0)
}

func TestErrorPage(t *testing.T) {
	for _, status := range []int{403, 404, 500} {
		doc := mustPage(t, Nav{}, ErrorView(ErrorPage{Status: status, RequestID: "r1"}))
		el := count(t, doc, testid("error"), 1)
		if s, _ := el.Attr("data-status"); s != strings.TrimSpace(itoa(status)) {
			t.Errorf("status: got %q", s)
		}
		if doc.Find(testid("error-message")).Text() == "" {
			t.Errorf("%d: no message", status)
		}
		if ErrorTitle(status) == "Error" {
			t.Errorf("%d: generic title", status)
		}
	}
}
