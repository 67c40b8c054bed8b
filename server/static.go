package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/pulsegrid/pulsegrid/static"
)

// staticTypes are the asset types served under /static/ (anything else in
// the directory, such as the Go file that embeds it, is not served), and
// whether they are worth compressing.
var staticTypes = map[string]struct {
	mime     string
	compress bool
}{
	".js":    {"text/javascript; charset=utf-8", true},
	".mjs":   {"text/javascript; charset=utf-8", true},
	".css":   {"text/css; charset=utf-8", true},
	".wasm":  {"application/wasm", true}, // required by WebAssembly.instantiateStreaming
	".json":  {"application/json", true},
	".map":   {"application/json", true},
	".svg":   {"image/svg+xml", true},
	".txt":   {"text/plain; charset=utf-8", true},
	".png":   {"image/png", false},
	".ico":   {"image/x-icon", false},
	".woff2": {"font/woff2", false},
}

// staticAsset is one file under /static/, with its content hash and its
// gzip encoding: the NAME.gz built beside it (make wasm writes
// worker.wasm.gz) when that is the same content, else made once at start
// (see precompress) so that no request waits for it.
type staticAsset struct {
	name     string // path below /static/, e.g. "js/donate.js"
	mime     string
	hash     string // 16 hex digits of the SHA-256 of raw
	raw      []byte
	compress bool
	gzOnce   sync.Once
	gz       []byte // nil when compression does not pay
	// prebuilt is true when gz is the NAME.gz file found beside the asset.
	prebuilt bool
}

// hashedName is the asset's cache-forever name: worker.wasm → worker.<hash>.wasm.
func (a *staticAsset) hashedName() string {
	ext := path.Ext(a.name)
	return strings.TrimSuffix(a.name, ext) + "." + a.hash + ext
}

// usePrebuilt takes gz, the content of the NAME.gz file beside the asset,
// as its encoding if it decompresses to raw (a stale one, left from an
// older build, is ignored).
func (a *staticAsset) usePrebuilt(gz []byte) bool {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return false
	}
	plain, err := io.ReadAll(io.LimitReader(zr, int64(len(a.raw))+1))
	if err != nil || !bytes.Equal(plain, a.raw) || len(gz) >= len(a.raw) {
		return false
	}
	a.gzOnce.Do(func() { a.gz, a.prebuilt = gz, true })
	return a.prebuilt
}

func (a *staticAsset) gzipped() []byte {
	a.gzOnce.Do(func() {
		if !a.compress {
			return
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(a.raw)
		zw.Close()
		if b.Len() < len(a.raw)*9/10 {
			a.gz = b.Bytes()
		}
	})
	return a.gz
}

// staticSet is every asset, by plain and by hashed name, and the manifest
// that maps one to the other for scripts (GET /static/manifest.json).
type staticSet struct {
	plain    map[string]*staticAsset
	hashed   map[string]*staticAsset
	manifest []byte
}

func newStaticSet(fsys fs.FS) (*staticSet, error) {
	s := &staticSet{plain: map[string]*staticAsset{}, hashed: map[string]*staticAsset{}}
	urls := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		t, ok := staticTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(raw)
		a := &staticAsset{name: p, mime: t.mime, hash: hex.EncodeToString(sum[:8]), raw: raw, compress: t.compress}
		if t.compress {
			if gz, err := fs.ReadFile(fsys, p+".gz"); err == nil {
				a.usePrebuilt(gz)
			}
		}
		s.plain[p] = a
		s.hashed[a.hashedName()] = a
		urls[p] = "/static/" + a.hashedName()
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.manifest, err = json.MarshalIndent(urls, "", "  ")
	return s, err
}

// precompress gzips every compressible asset that has no prebuilt
// encoding yet. handleStatic runs it in the background at start: a request
// that comes before it finished waits for that asset only (sync.Once).
func (s *staticSet) precompress() {
	for _, a := range s.plain {
		a.gzipped()
	}
}

// handleStatic serves the embedded assets under /static/. A plain name
// (/static/js/donate.js) is revalidated on every use (ETag, no-cache); a
// hashed name from /static/manifest.json (/static/worker.<hash>.wasm) never
// changes and is cached for a year. Compressible assets are sent gzipped
// to clients that accept it.
func handleStatic(d Deps) http.Handler {
	set, err := newStaticSet(static.Files)
	if err != nil {
		d.Logger.Error("static assets", "err", err)
		set = &staticSet{manifest: []byte("{}")}
	}
	go set.precompress()
	return serveStatic(set)
}

func serveStatic(set *staticSet) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		h := w.Header()
		if name == "manifest.json" {
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-cache")
			w.Write(set.manifest)
			return
		}
		a, immutable := set.hashed[name], true
		if a == nil {
			a, immutable = set.plain[name], false
		}
		if a == nil {
			http.Error(w, "no such static file: /static/"+name+" (the names a page may use are in /static/manifest.json; worker.wasm is built by make wasm)", http.StatusNotFound)
			return
		}
		body, etag := a.raw, `"`+a.hash+`"`
		h.Add("Vary", "Accept-Encoding")
		if gz := a.gzipped(); gz != nil && acceptsGzip(r) {
			body, etag = gz, `"`+a.hash+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("Content-Type", a.mime)
		h.Set("ETag", etag)
		if immutable {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// handleFavicon answers /favicon.ico, which browsers ask for on every
// site whatever the page links (pages link /static/favicon.svg), with the
// same SVG icon.
func handleFavicon() http.Handler {
	icon, err := fs.ReadFile(static.Files, "favicon.svg")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(icon))
	})
}
