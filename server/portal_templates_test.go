package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// TestTemplatesPageListsBuiltins: /admin/templates shows the built-in
// templates (read-only: no edit link) with what each checks, says so when
// there is no custom template yet, and lists a saved one beside them.
func TestTemplatesPageListsBuiltins(t *testing.T) {
	ps := startPortal(t)
	ps.addUser(t, "admin@example.org", store.RoleAdmin, "admin-password-1", false)
	admin := newBrowser(t, ps.base)
	if p := admin.login("admin@example.org", "admin-password-1"); p.status != http.StatusSeeOther {
		t.Fatalf("login: %d", p.status)
	}
	p := admin.get("/admin/templates")
	if p.status != http.StatusOK {
		t.Fatalf("GET /admin/templates: %d", p.status)
	}
	var names []string
	p.doc.Find(`[data-testid="builtin-template"]`).Each(func(_ int, s *goquery.Selection) {
		names = append(names, s.AttrOr("data-name", ""))
		if s.Find("a[href^='/admin/templates/']").Length() != 0 {
			t.Errorf("built-in %s links to an editor: built-ins are read-only", s.AttrOr("data-name", ""))
		}
	})
	if strings.Join(names, " ") != "ecg icu-vitals any" {
		t.Errorf("built-in templates: got %v, want ecg icu-vitals any", names)
	}
	check := func(tmpl, role string) string {
		var cells []string
		p.doc.Find(`[data-testid="builtin-template"][data-name="` + tmpl + `"] [data-testid="builtin-check"][data-role="` + role + `"] > *`).Each(func(_ int, c *goquery.Selection) {
			cells = append(cells, strings.Join(strings.Fields(c.Text()), " "))
		})
		return strings.Join(cells, " | ")
	}
	for _, c := range []struct{ tmpl, role, want string }{
		{"ecg", "ECG", "ECG required | mV; plausible −10 to 10, marked missing outside; at least 100 Hz | ECG*, EKG*, MLII, ML II, MLI, MLIII and 27 more"},
		{"icu-vitals", "SpO2", "SpO2 | %; plausible 20 to 100, kept and reported outside; any rate | SPO2, %SpO2, SpO2 %, SaO2, O2 Sat"},
		{"icu-vitals", "PAP", "PAP | mmHg; plausible −10 to 150, kept and reported outside; any rate | PAP*"},
	} {
		if got := check(c.tmpl, c.role); got != c.want {
			t.Errorf("%s %s: got %q, want %q", c.tmpl, c.role, got, c.want)
		}
	}
	if n := p.doc.Find(`[data-testid="builtin-template"][data-name="icu-vitals"] [data-testid="builtin-check"]`).Length(); n != 8 {
		t.Errorf("icu-vitals lists %d channels, want 8", n)
	}
	if p.count("builtin-checks-none") != 1 {
		t.Error("the any template does not say it checks nothing")
	}
	if p.count("templates-empty") != 1 || p.count("template-row") != 0 {
		t.Errorf("no custom template: %d empty notices, %d rows; want the notice only", p.count("templates-empty"), p.count("template-row"))
	}

	json := `{"channels": [{"role": "HR", "unit": "bpm", "min": 30, "max": 250}]}`
	if r := admin.post("/admin/templates", url.Values{"name": {"ward-hr"}, "json": {json}}); r.status != http.StatusSeeOther {
		t.Fatalf("save a template: %d %s", r.status, r.body)
	}
	p = admin.get("/admin/templates")
	if p.count("templates-empty") != 0 || p.count("template-row") != 1 || p.count("builtin-template") != 3 || p.doc.Find(`[data-testid="template-row"] a`).Text() != "ward-hr" {
		t.Errorf("one custom template: %d empty notices, %d rows (%q), %d built-ins; want 0, 1 (ward-hr), 3",
			p.count("templates-empty"), p.count("template-row"), p.text("template-row"), p.count("builtin-template"))
	}
}
