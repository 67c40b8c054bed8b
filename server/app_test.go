package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/pulsegrid/pulsegrid/server"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// TestUseCasesRefuseOthersData: every use case of app.go (delete dataset,
// start, cancel, delete and export an analysis) answers "not found" for
// another user's id, through the JSON API and through the portal alike,
// and leaves the object as it was with nothing audited for the prober;
// its owner, through the same route, gets past the check. Dropping the
// access check of one use case (say a.Dataset(ctx, id) in DeleteDataset)
// fails its two subtests.
func TestUseCasesRefuseOthersData(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	ctx := context.Background()
	const pw = "granite-orchard-lantern"
	owner := ps.addUser(t, "owner@example.org", store.RoleClinician, pw, false)
	prober := ps.addUser(t, "prober@example.org", store.RoleClinician, pw, false)
	as := map[int64]struct {
		tok string
		b   *browser
	}{}
	for _, u := range []store.User{owner, prober} {
		b := newBrowser(t, ps.base)
		if p := b.login(u.Email, pw); p.status != http.StatusSeeOther {
			t.Fatalf("login %s: %d", u.Email, p.status)
		}
		as[u.ID] = struct {
			tok string
			b   *browser
		}{ps.token(t, u), b}
	}
	api := func(u store.User, method, path, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, ps.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+as[u.ID].tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	portal := func(u store.User, method, path string, form url.Values) page {
		t.Helper()
		if method == "GET" {
			return as[u.ID].b.get(path)
		}
		return as[u.ID].b.post(path, form)
	}
	newDataset := func() int64 {
		ds, err := ps.st.CreateDataset(ctx, store.Dataset{OwnerID: owner.ID, Name: "x"}, testRecording())
		if err != nil {
			t.Fatal(err)
		}
		return ds.ID
	}
	newAnalysis := func() int64 {
		a, err := ps.st.CreateAnalysis(ctx, store.Analysis{DatasetID: newDataset(), OwnerID: owner.ID, Algorithm: "ecg.beats@1", Params: []byte(`{}`), Priority: store.PriorityRoutine})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	datasetThere := func(id int64) bool { _, err := ps.st.Dataset(ctx, id); return err == nil }
	analysisUntouched := func(id int64) bool {
		a, err := ps.st.Analysis(ctx, id)
		return err == nil && a.Status == store.StatusQueued
	}
	analysesOf := func(u store.User) int {
		as, err := ps.st.Analyses(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(as)
	}
	startBody := func(id int64) string {
		return fmt.Sprintf(`{"dataset_id": %d, "algorithm": "ecg.beats@1", "params": {}, "priority": "routine"}`, id)
	}
	startForm := func(id int64) url.Values {
		return url.Values{"dataset": {fmt.Sprint(id)}, "algorithm": {"ecg.beats@1"}, "priority": {"routine"}}
	}

	at := func(path string, id int64) string {
		if strings.Contains(path, "%d") {
			return fmt.Sprintf(path, id)
		}
		return path
	}
	type attempt struct {
		// do asks as u for the object id and reports whether the answer was
		// "not found".
		do func(u store.User, id int64) (notFound bool, answer string)
	}
	apiAttempt := func(method, path string, body func(int64) string, want int) attempt {
		return attempt{func(u store.User, id int64) (bool, string) {
			b := ""
			if body != nil {
				b = body(id)
			}
			code := api(u, method, at(path, id), b)
			if u.ID == owner.ID && code != want {
				t.Errorf("owner: %s %s answered %d, want %d", method, at(path, id), code, want)
			}
			return code == http.StatusNotFound, fmt.Sprint(code)
		}}
	}
	portalAttempt := func(method, path string, form func(int64) url.Values, want int) attempt {
		return attempt{func(u store.User, id int64) (bool, string) {
			var f url.Values
			if form != nil {
				f = form(id)
			}
			p := portal(u, method, at(path, id), f)
			if u.ID == owner.ID && p.status != want {
				t.Errorf("owner: %s %s answered %d, want %d: %s", method, at(path, id), p.status, want, p.body)
			}
			// The portal's start form lists a dataset it cannot use
			// among the form's problems (422), as for a mistyped id.
			if p.status == http.StatusUnprocessableEntity {
				return strings.Contains(p.doc.Text(), fmt.Sprintf("Dataset %d not found", id)), fmt.Sprint(p.status)
			}
			return p.status == http.StatusNotFound, fmt.Sprint(p.status)
		}}
	}
	confirm := func(int64) url.Values { return url.Values{"confirm": {"yes"}} }

	for _, c := range []struct {
		name      string
		action    string // audited on success
		make      func() int64
		untouched func(int64) bool
		api       attempt
		portal    attempt
	}{
		{"DeleteDataset", "dataset.delete", newDataset, datasetThere,
			apiAttempt("DELETE", "/api/v1/datasets/%d", nil, http.StatusNoContent),
			portalAttempt("POST", "/datasets/%d/delete", confirm, http.StatusSeeOther)},
		{"StartAnalyses", "analysis.start", newDataset, func(int64) bool { return analysesOf(prober) == 0 },
			apiAttempt("POST", "/api/v1/analyses", startBody, http.StatusCreated),
			portalAttempt("POST", "/analyses", startForm, http.StatusSeeOther)},
		{"CancelAnalysis", "analysis.cancel", newAnalysis, analysisUntouched,
			apiAttempt("POST", "/api/v1/analyses/%d/cancel", nil, http.StatusOK),
			portalAttempt("POST", "/analyses/%d/cancel", nil, http.StatusSeeOther)},
		{"DeleteAnalysis", "analysis.delete", newAnalysis, analysisUntouched,
			apiAttempt("DELETE", "/api/v1/analyses/%d", nil, http.StatusNoContent),
			portalAttempt("POST", "/analyses/%d/delete", nil, http.StatusSeeOther)},
		// A queued analysis has no result yet: its owner passes the access
		// check and is told so (409); the prober is told nothing.
		{"ExportResult", "analysis.export", newAnalysis, analysisUntouched,
			apiAttempt("GET", "/api/v1/analyses/%d/result?format=csv", nil, http.StatusConflict),
			portalAttempt("GET", "/analyses/%d/download?format=csv", nil, http.StatusConflict)},
	} {
		for _, via := range []struct {
			name string
			a    attempt
		}{{"API", c.api}, {"Portal", c.portal}} {
			t.Run(c.name+"/"+via.name, func(t *testing.T) {
				id := c.make()
				notFound, answer := via.a.do(prober, id)
				if !notFound {
					t.Errorf("another user's id %d: answered %s, want not found", id, answer)
				}
				if !c.untouched(id) {
					t.Errorf("another user's request changed object %d", id)
				}
				for _, e := range ps.audit(t, store.AuditFilter{Action: c.action}) {
					if e.UserID == prober.ID {
						t.Errorf("the refused request was audited as done: %+v", e)
					}
				}
				if notFound, answer := via.a.do(owner, id); notFound {
					t.Errorf("the owner's own id %d: answered %s", id, answer)
				}
			})
		}
	}
}

// TestUploadBelongsToUploader: UploadDatasets stores an upload as the
// acting user's, through the API and the portal, audited as theirs; the
// other user is told it does not exist (a bug storing it as anyone else's,
// say owner 0, fails).
func TestUploadBelongsToUploader(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	ctx := context.Background()
	const pw = "granite-orchard-lantern"
	up := ps.addUser(t, "uploader@example.org", store.RoleClinician, pw, false)
	other := ps.addUser(t, "other@example.org", store.RoleClinician, pw, false)
	upTok, otherTok := ps.token(t, up), ps.token(t, other)

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, ext := range []string{".hea", ".dat"} {
		fw, _ := mw.CreateFormFile("files", "100"+ext)
		b, err := os.ReadFile(mitdb + "100" + ext)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(b)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", ps.base+"/api/v1/datasets", &buf)
	req.Header.Set("Authorization", "Bearer "+upTok)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var viaAPI struct{ ID int64 }
	json.NewDecoder(resp.Body).Decode(&viaAPI)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || viaAPI.ID == 0 {
		t.Fatalf("API upload: %d, id %d", resp.StatusCode, viaAPI.ID)
	}

	b := newBrowser(t, ps.base)
	b.login(up.Email, pw)
	p := b.uploadRecord("100", []string{".hea", ".dat"}, "text/html")
	if p.status != http.StatusSeeOther {
		t.Fatalf("portal upload: %d %s", p.status, p.body)
	}
	viaPortal := idFrom(t, p.location(), "/datasets/")

	for _, id := range []int64{viaAPI.ID, viaPortal} {
		ds, err := ps.st.Dataset(ctx, id)
		if err != nil || ds.OwnerID != up.ID {
			t.Errorf("dataset %d: owner %d (%v), want the uploader %d", id, ds.OwnerID, err, up.ID)
		}
		if code := apiStatus(t, ps.base, fmt.Sprintf("/api/v1/datasets/%d", id), otherTok); code != http.StatusNotFound {
			t.Errorf("another user reading dataset %d: %d, want 404", id, code)
		}
		var audited bool
		for _, e := range ps.audit(t, store.AuditFilter{Action: "dataset.upload"}) {
			audited = audited || (e.Object == fmt.Sprintf("dataset/%d", id) && e.UserID == up.ID)
		}
		if !audited {
			t.Errorf("upload of dataset %d is not audited as the uploader's", id)
		}
	}
}

// TestStartRefusalSaidOnce: a start the use case refuses is refused in the
// same words through the API (400, its JSON error) and the portal (422,
// among the form's problems), and nothing starts; a handler that checks
// the priority itself again, in its own words, fails here.
func TestStartRefusalSaidOnce(t *testing.T) {
	ps := startAccounts(t, server.Limits{})
	ctx := context.Background()
	const pw = "granite-orchard-lantern"
	u := ps.addUser(t, "clin@example.org", store.RoleClinician, pw, false)
	ds, err := ps.st.CreateDataset(ctx, store.Dataset{OwnerID: u.ID, Name: "x"}, testRecording())
	if err != nil {
		t.Fatal(err)
	}
	const want = `priority "asap": want routine, urgent or stat`

	req, _ := http.NewRequest("POST", ps.base+"/api/v1/analyses", strings.NewReader(fmt.Sprintf(`{"dataset_id": %d, "algorithm": "ecg.beats@1", "priority": "asap"}`, ds.ID)))
	req.Header.Set("Authorization", "Bearer "+ps.token(t, u))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Code, Error string }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || body.Code != "invalid" || body.Error != want {
		t.Errorf("API: %d %+v, want 400 invalid %q", resp.StatusCode, body, want)
	}

	b := newBrowser(t, ps.base)
	b.login(u.Email, pw)
	p := b.post("/analyses", url.Values{"dataset": {fmt.Sprint(ds.ID)}, "algorithm": {"ecg.beats@1"}, "priority": {"asap"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(strings.ToLower(p.doc.Text()), want) {
		t.Errorf("portal: %d, want 422 listing %q", p.status, want)
	}
	if as, _ := ps.st.Analyses(ctx, u.ID); len(as) != 0 {
		t.Errorf("a refused start started %d analyses", len(as))
	}
}
