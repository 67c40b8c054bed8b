package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/PuerkitoBio/goquery"
)

func staticFixture(t *testing.T) (http.Handler, map[string]string) {
	t.Helper()
	wasm := append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("go wasm "), 4096)...)
	set, err := newStaticSet(fstest.MapFS{
		"worker.wasm":  {Data: wasm},
		"js/donate.js": {Data: []byte(strings.Repeat("console.log('donate');\n", 200))},
		"css/app.css":  {Data: []byte("body{}")},
		"static.go":    {Data: []byte("package static")},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := serveStatic(set)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/static/manifest.json", nil))
	var manifest map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &manifest); err != nil {
		t.Fatalf("manifest: %v: %s", err, rec.Body)
	}
	return h, manifest
}

func TestStatic(t *testing.T) {
	h, manifest := staticFixture(t)
	if _, ok := manifest["static.go"]; ok {
		t.Errorf("manifest lists static.go: only web assets are served")
	}
	hashedWasm := manifest["worker.wasm"]
	if !strings.HasPrefix(hashedWasm, "/static/worker.") || !strings.HasSuffix(hashedWasm, ".wasm") || len(hashedWasm) != len("/static/worker..wasm")+16 {
		t.Fatalf("manifest worker.wasm = %q, want /static/worker.<16 hex>.wasm", hashedWasm)
	}
	for _, tc := range []struct {
		name, path, acceptEncoding, ifNoneMatch string
		status                                  int
		mime, encoding, cache                   string
	}{
		{"HashedWasmGzip", hashedWasm, "gzip, deflate, br", "", 200, "application/wasm", "gzip", "public, max-age=31536000, immutable"},
		{"HashedWasmIdentity", hashedWasm, "", "", 200, "application/wasm", "", "public, max-age=31536000, immutable"},
		{"GzipRefusedByQ0", hashedWasm, "gzip;q=0", "", 200, "application/wasm", "", "public, max-age=31536000, immutable"},
		{"PlainJSRevalidated", "/static/js/donate.js", "gzip", "", 200, "text/javascript; charset=utf-8", "gzip", "no-cache"},
		{"SmallCSSNotCompressed", "/static/css/app.css", "gzip", "", 200, "text/css; charset=utf-8", "", "no-cache"},
		{"StaleHash", "/static/worker.0123456789abcdef.wasm", "", "", 404, "", "", ""},
		{"GoSourceNotServed", "/static/static.go", "", "", 404, "", "", ""},
		{"Missing", "/static/js/nope.js", "", "", 404, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.path, nil)
			if tc.acceptEncoding != "" {
				req.Header.Set("Accept-Encoding", tc.acceptEncoding)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("GET %s: got status %d, want %d", tc.path, rec.Code, tc.status)
			}
			if tc.status != 200 {
				return
			}
			hd := rec.Header()
			if got := hd.Get("Content-Type"); got != tc.mime {
				t.Errorf("Content-Type: got %q, want %q", got, tc.mime)
			}
			if got := hd.Get("Content-Encoding"); got != tc.encoding {
				t.Errorf("Content-Encoding: got %q, want %q", got, tc.encoding)
			}
			if got := hd.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control: got %q, want %q", got, tc.cache)
			}
			body := rec.Body.Bytes()
			if tc.encoding == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if strings.HasSuffix(tc.path, ".wasm") && !bytes.HasPrefix(body, []byte("\x00asm")) {
				t.Errorf("body does not start with the wasm magic")
			}
			// A second request with the ETag is answered 304.
			req2 := httptest.NewRequest("GET", tc.path, nil)
			req2.Header.Set("Accept-Encoding", tc.acceptEncoding)
			req2.Header.Set("If-None-Match", hd.Get("ETag"))
			rec2 := httptest.NewRecorder()
			h.ServeHTTP(rec2, req2)
			if rec2.Code != http.StatusNotModified {
				t.Errorf("revalidation with ETag %s: got %d, want 304", hd.Get("ETag"), rec2.Code)
			}
		})
	}
}

func TestDonatePage(t *testing.T) {
	rec := httptest.NewRecorder()
	// securityHeaders is how NewServer wraps every route.
	securityHeaders(handleDonate(Deps{Logger: slog.New(slog.DiscardHandler)})).ServeHTTP(rec, httptest.NewRequest("GET", "/donate", nil))
	if rec.Code != 200 {
		t.Fatalf("got status %d, want 200", rec.Code)
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "'wasm-unsafe-eval'") || strings.Contains(csp, "'unsafe-inline'") {
		t.Errorf("Content-Security-Policy %q: want 'wasm-unsafe-eval' (the worker compiles wasm) and no 'unsafe-inline'", csp)
	}
	doc, err := goquery.NewDocumentFromReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"donate-start", "donate-pause", "donate-resume", "donate-cpu", "donate-threads", "donate-status", "donate-chunks-done", "donate-verified"} {
		if n := doc.Find(`[data-testid="` + id + `"]`).Length(); n != 1 {
			t.Errorf("%s: found %d elements, want 1", id, n)
		}
	}
	if got := doc.Find(`#donate-threads option`).Length(); got != donateMaxThreads {
		t.Errorf("threads select: got %d options, want %d", got, donateMaxThreads)
	}
	if doc.Find(`script[src="/static/js/donate.js"][type="module"]`).Length() != 1 {
		t.Errorf("the page does not load /static/js/donate.js as a module")
	}
	if doc.Find(`[aria-current="page"][data-testid="nav-donate"]`).Length() != 1 {
		t.Errorf("the navigation does not mark Donate as the current page")
	}
}

// TestStaticPrebuiltGzip: the worker.wasm.gz that make wasm writes beside
// worker.wasm is what the first request gets, byte for byte (nothing is
// compressed at start or per request); a stale one is not used.
func TestStaticPrebuiltGzip(t *testing.T) {
	wasm := append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("go wasm prebuilt "), 4096)...)
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // not the server's level: its output would differ
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	first := func(fsys fstest.MapFS) (*staticAsset, *httptest.ResponseRecorder) {
		t.Helper()
		set, err := newStaticSet(fsys)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/static/worker.wasm", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		serveStatic(set).ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("first GET worker.wasm: %d, Content-Encoding %q, want 200 gzip", rec.Code, rec.Header().Get("Content-Encoding"))
		}
		return set.plain["worker.wasm"], rec
	}
	t.Run("Prebuilt", func(t *testing.T) {
		pre := gz(wasm)
		a, rec := first(fstest.MapFS{"worker.wasm": {Data: wasm}, "worker.wasm.gz": {Data: pre}})
		if !a.prebuilt || !bytes.Equal(rec.Body.Bytes(), pre) {
			t.Errorf("first request: prebuilt %v, body equal to worker.wasm.gz %v; want the prebuilt copy itself", a.prebuilt, bytes.Equal(rec.Body.Bytes(), pre))
		}
	})
	t.Run("StalePrebuiltIgnored", func(t *testing.T) {
		stale := gz(append([]byte("\x00asm"), bytes.Repeat([]byte("an older build "), 4096)...))
		a, rec := first(fstest.MapFS{"worker.wasm": {Data: wasm}, "worker.wasm.gz": {Data: stale}})
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(zr)
		if a.prebuilt || !bytes.Equal(body, wasm) {
			t.Errorf("stale worker.wasm.gz: prebuilt %v, body is the current wasm %v; want it ignored", a.prebuilt, bytes.Equal(body, wasm))
		}
	})
	t.Run("CompressedAtStart", func(t *testing.T) {
		set, err := newStaticSet(fstest.MapFS{"worker.wasm": {Data: wasm}})
		if err != nil {
			t.Fatal(err)
		}
		set.precompress()
		if a := set.plain["worker.wasm"]; a.gz == nil || a.prebuilt {
			t.Errorf("without worker.wasm.gz, precompress made no encoding")
		}
	})
	t.Run("GzNotServedItself", func(t *testing.T) {
		set, _ := newStaticSet(fstest.MapFS{"worker.wasm": {Data: wasm}, "worker.wasm.gz": {Data: gz(wasm)}})
		rec := httptest.NewRecorder()
		serveStatic(set).ServeHTTP(rec, httptest.NewRequest("GET", "/static/worker.wasm.gz", nil))
		if rec.Code != 404 {
			t.Errorf("GET worker.wasm.gz: got %d, want 404 (it is an encoding, not an asset)", rec.Code)
		}
	})
}
