package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestBodiesOutsideUploadsAreBounded: POST /login needs no account, and
// Go's form parsing would keep up to 10 MB of an urlencoded body in memory
// (and spool multipart file parts beyond 32 MB to the temp directory) for
// every such request. Outside the two upload routes a body is read up to
// maxBody: a stated larger length is refused with 413 before any of it is
// read, and a chunked body of unknown length is cut at maxBody.
// limit is server.maxBody, the bound on bodies outside uploads.
const limit = 1 << 20

func TestBodiesOutsideUploadsAreBounded(t *testing.T) {
	ts := startServer(t, t.TempDir(), "127.0.0.1:0", gridConfig())
	defer ts.stop()
	big := "email=a%40b.org&password=" + strings.Repeat("x", 2*limit)

	code, body := ts.do("POST", "/login", "", strings.NewReader(big), "application/x-www-form-urlencoded")
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "outside uploads") {
		t.Errorf("2 MiB login form with its length: %d %.200s, want 413 naming the limit", code, body)
	}
	// Without a length (chunked): io.MultiReader hides the size from net/http.
	code, body = ts.do("POST", "/login", "", io.MultiReader(strings.NewReader(big)), "application/x-www-form-urlencoded")
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB chunked login form: %d %.200s, want 413", code, body)
	}
	code, body = ts.do("POST", "/api/v1/analyses", "", bytes.NewReader(make([]byte, limit+1)), "application/json")
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("API body of limit+1 bytes: %d %.200s, want 413", code, body)
	}
	// A body of ordinary size still reaches the handler (wrong password: not 413).
	code, _ = ts.do("POST", "/login", "", strings.NewReader("email=a%40b.org&password=wrong-password-1"), "application/x-www-form-urlencoded")
	if code == http.StatusRequestEntityTooLarge {
		t.Errorf("a small login form got 413")
	}
	// Uploads keep their own, larger limit: a 2 MiB upload is not refused for its size.
	tok := ts.user("maxbody@example.org", "clinician")
	id := ts.upload(tok, "100", nil)
	if id <= 0 {
		t.Errorf("an upload of record 100 (%d) was refused", id)
	}
	// API bodies are JSON whatever the type says: `curl -d '{…}'` sends
	// them as urlencoded, and the form parsing of the portal's forms must
	// not eat them (it did: "request body: EOF").
	js := fmt.Sprintf(`{"dataset_id": %d, "algorithm": "ecg.beats@1", "params": {}, "priority": "routine"}`, id)
	code, body = ts.do("POST", "/api/v1/analyses", tok, strings.NewReader(js), "application/x-www-form-urlencoded")
	if code != http.StatusCreated {
		t.Errorf("JSON sent as urlencoded to the API: %d %.300s, want 201", code, body)
	}
}
