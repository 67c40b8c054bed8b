package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// familyJSON is what TestHolterFamilies reads of a report.
type familyJSON struct {
	Classes  struct{ N, S, V, F, Q int }
	Families []struct {
		Index   int
		Beats   int
		Class   string
		Classes struct{ N, S, V, F, Q int }
		Example int64 `json:"example_sample"`
	}
	Corrections []struct{ Target, From, To string }
}

// TestHolterFamilies relabels a whole morphology family of mitdb 119 in
// one action, through the API and through the report page's form (both
// call one use case), and checks: the families' sizes sum to the beats
// (a beat counted twice or left out fails); the report's V count drops by
// exactly the family's V beats (a relabel applied to one beat, or to
// another family, fails); a later single-beat correction overrides the
// family's class for that beat (corrections applied out of order fail);
// the verified result is byte for byte unchanged; each family relabel is
// audited as "beat family K"; the page draws each family's representative
// beat; nonsense and another user's attempt are refused.
func TestHolterFamilies(t *testing.T) {
	email, password := "family@example.org", "Quiet-Harbour-Lantern-7"
	ts, token, id := classifiedOnGrid(t, email, password, "119", "ecg.classify@1")
	report := func() familyJSON {
		t.Helper()
		code, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/report", id), token, nil, "")
		var h familyJSON
		if err := json.Unmarshal(body, &h); code != 200 || err != nil {
			t.Fatalf("report: %d %s", code, body)
		}
		return h
	}
	post := func(tok, body string) (int, []byte) {
		return ts.do("POST", fmt.Sprintf("/api/v1/analyses/%d/corrections", id), tok, strings.NewReader(body), "application/json")
	}
	_, verified := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/result", id), token, nil, "")

	before := report()
	total, vFam := 0, -1
	for i, f := range before.Families {
		total += f.Beats
		if f.Classes.N+f.Classes.S+f.Classes.V+f.Classes.F+f.Classes.Q != f.Beats {
			t.Errorf("family %d: %d beats, classes %+v", f.Index, f.Beats, f.Classes)
		}
		if i > 0 && f.Beats > before.Families[i-1].Beats {
			t.Errorf("families not largest first: %d after %d", f.Beats, before.Families[i-1].Beats)
		}
		if vFam < 0 && f.Class == "V" && f.Classes.V >= 5 {
			vFam = i
		}
	}
	if n := before.Classes.N + before.Classes.S + before.Classes.V + before.Classes.F + before.Classes.Q; total != n || len(before.Families) < 2 {
		t.Fatalf("%d families hold %d beats; the report has %d", len(before.Families), total, n)
	}
	if vFam < 0 {
		t.Fatalf("119 has no V family: %+v", before.Families)
	}
	fam := before.Families[vFam]

	// API: the V family becomes N.
	if code, b := post(token, fmt.Sprintf(`{"target":"family","family":%d,"class":"N"}`, fam.Index)); code != 201 {
		t.Fatalf("family relabel: %d %s", code, b)
	}
	after := report()
	if after.Classes.V != before.Classes.V-fam.Classes.V || after.Classes.N != before.Classes.N+fam.Classes.V+fam.Classes.S+fam.Classes.F+fam.Classes.Q {
		t.Errorf("after family %d (%+v) V→N: classes %+v, before %+v", fam.Index, fam.Classes, after.Classes, before.Classes)
	}
	var now *struct {
		Index   int
		Beats   int
		Class   string
		Classes struct{ N, S, V, F, Q int }
		Example int64 `json:"example_sample"`
	}
	for i := range after.Families {
		if after.Families[i].Index == fam.Index {
			now = &after.Families[i]
		}
	}
	if now == nil || now.Class != "N" || now.Classes.N != fam.Beats || now.Beats != fam.Beats {
		t.Errorf("family %d after relabel: %+v", fam.Index, now)
	}
	if len(after.Corrections) != 1 || after.Corrections[0].Target != "family" || after.Corrections[0].From != "V" || after.Corrections[0].To != "N" {
		t.Errorf("corrections %+v", after.Corrections)
	}
	// A later correction of one beat of the family wins for that beat.
	if code, b := post(token, fmt.Sprintf(`{"target":"beat","sample":%d,"class":"V"}`, fam.Example)); code != 201 {
		t.Fatalf("beat relabel: %d %s", code, b)
	}
	if got := report(); got.Classes.V != after.Classes.V+1 {
		t.Errorf("beat V after the family's N: V %d, want %d", got.Classes.V, after.Classes.V+1)
	}

	// Nonsense is refused with a message.
	for body, want := range map[string]string{
		`{"target":"family","family":9999,"class":"V"}`:                                      "no beat family 9999",
		`{"target":"family","class":"V"}`:                                                    "names the family",
		fmt.Sprintf(`{"target":"family","family":%d,"class":"X"}`, fam.Index):                "EC57",
		fmt.Sprintf(`{"target":"family","family":%d,"class":"N"}`, before.Families[0].Index): "already N",
	} {
		if code, b := post(token, body); code != 400 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s, want 400 naming %q", body, code, b, want)
		}
	}
	if code, b := post(ts.user("other-family@example.org", "clinician"), fmt.Sprintf(`{"target":"family","family":%d,"class":"Q"}`, fam.Index)); code != 404 {
		t.Errorf("another user relabelled a family: %d %s", code, b)
	}

	// The portal: the page draws the families; its form relabels one.
	b := newBrowser(t, ts.base)
	b.login(email, password)
	pg := b.get(fmt.Sprintf("/analyses/%d/report", id))
	if pg.status != 200 || pg.count("holter-family") != min(len(after.Families), 16) {
		t.Fatalf("report page: %d with %d family rows, want %d", pg.status, pg.count("holter-family"), min(len(after.Families), 16))
	}
	if n := pg.doc.Find(`[data-testid="holter-family"] svg.chart-beat path.series`).Length(); n != pg.count("holter-family") {
		t.Errorf("%d representative beats drawn for %d families", n, pg.count("holter-family"))
	}
	second := before.Families[0]
	for _, f := range before.Families[1:] {
		if f.Index != fam.Index {
			second = f
			break
		}
	}
	to := "Q"
	if second.Class == "Q" {
		to = "N"
	}
	res := b.post(fmt.Sprintf("/analyses/%d/report/corrections", id), url.Values{"target": {"family"}, "family": {fmt.Sprint(second.Index)}, "class": {to}})
	if res.status != 303 {
		t.Fatalf("family form: %d %s", res.status, res.body)
	}
	pg = b.follow(res.location())
	row := pg.doc.Find(fmt.Sprintf(`[data-testid="holter-family"][data-family="%d"]`, second.Index))
	if got, _ := row.Attr("data-class"); got != to {
		t.Errorf("family %d after the form: class %q, want %s", second.Index, got, to)
	}
	if !strings.Contains(pg.doc.Find(`[data-testid="holter-correction-log"]`).Text(), fmt.Sprintf("every beat of family %d", second.Index)) {
		t.Error("the correction log does not list the family relabel")
	}

	// The verified result is untouched; both family relabels are audited.
	if _, again := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/result", id), token, nil, ""); !bytes.Equal(again, verified) {
		t.Error("the verified result changed with the family corrections")
	}
	log, err := ts.st.AuditLog(context.Background(), 200)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range log {
		if a.Action == "analysis.correct" && a.UserID != 0 && strings.Contains(a.Detail, "beat family") {
			seen[a.Detail[strings.Index(a.Detail, "beat family"):]] = true
		}
	}
	for _, want := range []string{fmt.Sprintf("beat family %d V -> N", fam.Index), fmt.Sprintf("beat family %d %s -> %s", second.Index, second.Class, to)} {
		if !seen[want] {
			t.Errorf("audit has no %q: %v", want, seen)
		}
	}
}
