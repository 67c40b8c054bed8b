package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/PuerkitoBio/goquery"
	"github.com/andybalholm/brotli"

	"github.com/pulsegrid/pulsegrid/static"
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
		if a := set.plain["worker.wasm"]; a.gz == nil || a.prebuilt {
			t.Errorf("without worker.wasm.gz, newStaticSet made no gzip encoding before the first request")
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

// TestStaticWorkerWasmEncodings fetches worker.wasm over a real HTTP
// server with each Accept-Encoding a client may send and checks the
// encoding chosen, its ETag and Vary, and that the body decodes to the
// module byte for byte; first on a fixture with prebuilt .gz and .br, then
// on the embedded module itself (make wasm builds it and its encodings).
func TestStaticWorkerWasmEncodings(t *testing.T) {
	wasm := append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte("go wasm encodings "), 8192)...)
	var gzb, brb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gzb, gzip.BestSpeed)
	zw.Write(wasm)
	zw.Close()
	bw := brotli.NewWriterLevel(&brb, 5)
	bw.Write(wasm)
	bw.Close()
	fixture, err := newStaticSet(fstest.MapFS{
		"worker.wasm":    {Data: wasm},
		"worker.wasm.gz": {Data: gzb.Bytes()},
		"worker.wasm.br": {Data: brb.Bytes()},
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, set *staticSet, module []byte, withBrotli bool) {
		srv := httptest.NewServer(serveStatic(set))
		defer srv.Close()
		// The client must not decode for us: what arrives is what a browser gets.
		client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
		url := srv.URL + "/static/" + set.plain["worker.wasm"].hashedName()
		br := "br"
		if !withBrotli {
			br = "gzip" // no .br: a client that accepts both gets gzip
		}
		etags := map[string]string{}
		for _, tc := range []struct{ name, accept, want string }{
			{"Identity", "", ""},
			{"IdentityOnly", "identity", ""},
			{"Gzip", "gzip", "gzip"},
			{"Brotli", "br", map[bool]string{true: "br", false: ""}[withBrotli]},
			{"Chromium", "gzip, deflate, br, zstd", br},
			{"BrotliRefused", "br;q=0, gzip", "gzip"},
			{"GzipPreferred", "br;q=0.5, gzip;q=1.0", "gzip"},
			{"Star", "*", br},
			{"GzipRefused", "gzip;q=0", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req, _ := http.NewRequest("GET", url, nil)
				if tc.accept != "" {
					req.Header.Set("Accept-Encoding", tc.accept)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 200 {
					t.Fatalf("Accept-Encoding %q: got status %d, want 200", tc.accept, resp.StatusCode)
				}
				if got := resp.Header.Get("Content-Encoding"); got != tc.want {
					t.Fatalf("Accept-Encoding %q: got Content-Encoding %q, want %q", tc.accept, got, tc.want)
				}
				if got := resp.Header.Get("Vary"); got != "Accept-Encoding" {
					t.Errorf("Vary: got %q, want Accept-Encoding", got)
				}
				if got := resp.Header.Get("Content-Type"); got != "application/wasm" {
					t.Errorf("Content-Type: got %q, want application/wasm", got)
				}
				etag := resp.Header.Get("ETag")
				if prev, ok := etags[tc.want]; ok && prev != etag {
					t.Errorf("encoding %q: ETag %s, earlier %s: want one ETag per encoding", tc.want, etag, prev)
				}
				for enc, other := range etags {
					if enc != tc.want && other == etag {
						t.Errorf("encodings %q and %q share the ETag %s: a cache would mix them up", enc, tc.want, etag)
					}
				}
				etags[tc.want] = etag
				var r io.Reader = bytes.NewReader(body)
				switch tc.want {
				case "gzip":
					if r, err = gzip.NewReader(r); err != nil {
						t.Fatal(err)
					}
				case "br":
					r = brotli.NewReader(r)
				}
				plain, err := io.ReadAll(r)
				if err != nil {
					t.Fatalf("decode %s: %v", tc.want, err)
				}
				if !bytes.Equal(plain, module) {
					t.Errorf("Accept-Encoding %q: body decodes to %d bytes that are not the module (%d bytes)", tc.accept, len(plain), len(module))
				}
				if tc.want != "" && len(body) >= len(module) {
					t.Errorf("%s body of %d bytes, module %d: not compressed", tc.want, len(body), len(module))
				}
			})
		}
	}
	t.Run("Fixture", func(t *testing.T) { check(t, fixture, wasm, true) })
	// The embedded module, when this checkout has built it (make wasm,
	// which every make target that runs tests depends on).
	set, err := embeddedStatic()
	if err != nil {
		t.Fatal(err)
	}
	if a := set.plain["worker.wasm"]; a != nil {
		if _, err := fs.Stat(static.Files, "worker.wasm.br"); err == nil && a.br == nil {
			t.Errorf("embedded worker.wasm.br does not decode to the embedded worker.wasm (stale: run make wasm)")
		}
		t.Run("Embedded", func(t *testing.T) { check(t, set, a.raw, a.br != nil) })
	}
}
