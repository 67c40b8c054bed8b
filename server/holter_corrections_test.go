package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/volunteer"
)

// holterJSON is what TestHolterCorrections reads of a report.
type holterJSON struct {
	Beats   int
	Classes struct{ N, S, V int }
	Events  []struct {
		Kind  string
		Start int64
	}
	EventCounts []struct {
		Kind  string
		Count int
	} `json:"event_counts"`
	Corrected   bool
	Corrections []struct {
		Target, From, To, By string
		Sample               int64
	}
}

func (h holterJSON) count(kind string) int {
	for _, c := range h.EventCounts {
		if c.Kind == kind {
			return c.Count
		}
	}
	return -1
}

// TestHolterCorrections relabels a V beat of 119 as N and dismisses an
// event through the API, and checks that the report and its FHIR form are
// recomputed with them and marked corrected (a report that ignores the
// rows fails), that the event shows again when restored, that the verified
// result is byte for byte what it was (a correction written into the
// result fails), that each correction is audited with who and from -> to,
// that nonsense is refused with a message, and that another clinician gets
// not found (an owner check left out fails) while an admin may correct.
func TestHolterCorrections(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	startVolunteers(t, ts.base, 2, volunteer.Config{})
	owner := "holter-fix@example.org"
	token := ts.user(owner, "clinician")
	id := ts.analyse(token, ts.upload(token, "119", nil), "ecg.classify@1", "routine")
	if s := ts.waitDone(token, id, 3*time.Minute); s.Status != "done" {
		t.Fatalf("analysis: %+v", s)
	}
	report := func() holterJSON {
		t.Helper()
		code, body := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/report", id), token, nil, "")
		var h holterJSON
		if err := json.Unmarshal(body, &h); code != 200 || err != nil {
			t.Fatalf("report: %d %s", code, body)
		}
		return h
	}
	post := func(tok, body string) (int, []byte) {
		return ts.do("POST", fmt.Sprintf("/api/v1/analyses/%d/corrections", id), tok, strings.NewReader(body), "application/json")
	}
	_, verified := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/result", id), token, nil, "")
	var res struct {
		Beats []struct {
			Sample int64
			Class  string
		}
	}
	json.Unmarshal(verified, &res)
	v := int64(-1)
	for _, b := range res.Beats {
		if b.Class == "V" {
			v = b.Sample
			break
		}
	}
	before := report()
	if v < 0 || len(before.Events) == 0 || before.Corrected {
		t.Fatalf("119: first V at %d, %d events, corrected %v", v, len(before.Events), before.Corrected)
	}

	if code, b := post(token, fmt.Sprintf(`{"target":"beat","sample":%d,"class":"N"}`, v)); code != 201 {
		t.Fatalf("relabel: %d %s", code, b)
	}
	after := report()
	if !after.Corrected || after.Classes.V != before.Classes.V-1 || after.Classes.N != before.Classes.N+1 || after.Beats != before.Beats {
		t.Errorf("after V→N: corrected %v, classes %+v; before %+v", after.Corrected, after.Classes, before.Classes)
	}
	if len(after.Corrections) != 1 || after.Corrections[0].From != "V" || after.Corrections[0].To != "N" || after.Corrections[0].By != owner || after.Corrections[0].Sample != v {
		t.Errorf("corrections %+v", after.Corrections)
	}

	e := before.Events[0]
	if code, b := post(token, fmt.Sprintf(`{"target":"event","kind":%q,"start":%d,"dismiss":true}`, e.Kind, e.Start)); code != 201 {
		t.Fatalf("dismiss: %d %s", code, b)
	}
	dis := report()
	for _, x := range dis.Events {
		if x.Kind == e.Kind && x.Start == e.Start {
			t.Errorf("dismissed %s at %d is still listed", e.Kind, e.Start)
		}
	}
	if dis.count(e.Kind) != after.count(e.Kind)-1 {
		t.Errorf("%s count %d after dismissing one of %d", e.Kind, dis.count(e.Kind), after.count(e.Kind))
	}
	code, fhir := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/report?format=fhir", id), token, nil, "")
	if code != 200 || !bytes.Contains(fhir, []byte(`"status": "corrected"`)) || !bytes.Contains(fhir, []byte("Corrected: recomputed with 2")) {
		t.Errorf("FHIR after corrections: %d, no corrected status/conclusion", code)
	}
	if code, b := post(token, fmt.Sprintf(`{"target":"event","kind":%q,"start":%d,"dismiss":true}`, e.Kind, e.Start)); code != 400 {
		t.Errorf("dismissing twice: %d %s", code, b)
	}
	if code, b := post(token, fmt.Sprintf(`{"target":"event","kind":%q,"start":%d,"dismiss":false}`, e.Kind, e.Start)); code != 201 {
		t.Fatalf("restore: %d %s", code, b)
	}
	if back := report(); back.count(e.Kind) != after.count(e.Kind) || len(back.Corrections) != 3 {
		t.Errorf("after restoring: %s count %d, want %d; %d corrections", e.Kind, back.count(e.Kind), after.count(e.Kind), len(back.Corrections))
	}

	// Nonsense is refused with a message.
	for body, want := range map[string]string{
		fmt.Sprintf(`{"target":"beat","sample":%d,"class":"X"}`, v): "EC57",
		`{"target":"beat","sample":1,"class":"V"}`:                  "no beat",
		`{"target":"event","kind":"vt","start":1,"dismiss":true}`:   "event starts at sample 1",
		`{"target":"heart"}`: "target",
		`{"target":"beat","sample":1,"class":"V","extra":1}`: "unknown field",
	} {
		if code, b := post(token, body); code != 400 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s, want 400 naming %q", body, code, b, want)
		}
	}

	// The verified result is untouched.
	if _, now := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/result", id), token, nil, ""); !bytes.Equal(now, verified) {
		t.Error("the verified result changed with the corrections")
	}
	// Audited: who (the entry's user), from -> to.
	log, err := ts.st.AuditLog(context.Background(), 200)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range log {
		if a.Action == "analysis.correct" && a.Object == fmt.Sprintf("analysis/%d", id) {
			n++
			if a.UserID == 0 || !strings.Contains(a.Detail, "->") {
				t.Errorf("audit entry %+v", a)
			}
			if strings.Contains(a.Detail, fmt.Sprintf("beat at sample %d V -> N", v)) {
				n += 10
			}
		}
	}
	if n != 13 {
		t.Errorf("audit: %d correction entries (score %d), want 3 with the V -> N one", n%10, n)
	}

	// Another clinician cannot see or correct; an admin can correct.
	other := ts.user("other-fix@example.org", "clinician")
	if code, b := post(other, fmt.Sprintf(`{"target":"beat","sample":%d,"class":"V"}`, v)); code != 404 {
		t.Errorf("another user corrected: %d %s", code, b)
	}
	if code, _ := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/corrections", id), other, nil, ""); code != 404 {
		t.Errorf("another user listed the corrections: %d", code)
	}
	if got := report(); len(got.Corrections) != 3 {
		t.Errorf("%d corrections after the other user's attempt, want 3", len(got.Corrections))
	}
	admin := ts.user("admin-fix@example.org", "admin")
	if code, b := post(admin, fmt.Sprintf(`{"target":"beat","sample":%d,"class":"V"}`, v)); code != 201 {
		t.Errorf("admin correction: %d %s", code, b)
	}
	code, list := ts.do("GET", fmt.Sprintf("/api/v1/analyses/%d/corrections", id), token, nil, "")
	if code != 200 || !bytes.Contains(list, []byte("admin-fix@example.org")) {
		t.Errorf("corrections list: %d %s", code, list)
	}
}
