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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"

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
// encodings, all made before the server answers its first request: no
// visitor waits for a compression. The gzip and brotli encodings are the
// NAME.gz and NAME.br files built beside the asset (make wasm writes them
// for worker.wasm) when they decode to the same content; without a
// matching NAME.gz the asset is gzipped once at start (see newStaticSet).
type staticAsset struct {
	name string // path below /static/, e.g. "js/donate.js"
	mime string
	hash string // 16 hex digits of the SHA-256 of raw
	raw  []byte
	gz   []byte // nil when compression does not pay
	br   []byte // nil without a matching prebuilt NAME.br
	// prebuilt is true when gz is the NAME.gz file found beside the asset.
	prebuilt bool
}

// hashedName is the asset's cache-forever name: worker.wasm → worker.<hash>.wasm.
func (a *staticAsset) hashedName() string {
	ext := path.Ext(a.name)
	return strings.TrimSuffix(a.name, ext) + "." + a.hash + ext
}

// decodesTo reports whether enc, decoded by newReader, gives back raw
// exactly and is smaller than it (a stale file, left from an older build,
// does not).
func decodesTo(enc, raw []byte, newReader func(io.Reader) (io.Reader, error)) bool {
	if len(enc) >= len(raw) {
		return false
	}
	zr, err := newReader(bytes.NewReader(enc))
	if err != nil {
		return false
	}
	plain, err := io.ReadAll(io.LimitReader(zr, int64(len(raw))+1))
	return err == nil && bytes.Equal(plain, raw)
}

func newGzipReader(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }

func newBrotliReader(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }

// usePrebuilt takes gz and br, the content of the NAME.gz and NAME.br files
// beside the asset (nil when missing), as its encodings when they decode to
// raw.
func (a *staticAsset) usePrebuilt(gz, br []byte) {
	if gz != nil && decodesTo(gz, a.raw, newGzipReader) {
		a.gz, a.prebuilt = gz, true
	}
	if br != nil && decodesTo(br, a.raw, newBrotliReader) {
		a.br = br
	}
}

// compressGzip makes the gzip encoding at start when no prebuilt one
// matched; it is kept only when it saves a tenth.
func (a *staticAsset) compressGzip() {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(a.raw)
	zw.Close()
	if b.Len() < len(a.raw)*9/10 {
		a.gz = b.Bytes()
	}
}

// staticSet is every asset, by plain and by hashed name, and the manifest
// that maps one to the other for scripts (GET /static/manifest.json).
type staticSet struct {
	plain    map[string]*staticAsset
	hashed   map[string]*staticAsset
	manifest []byte
}

// newStaticSet reads every asset of fsys and makes its encodings.
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
		a := &staticAsset{name: p, mime: t.mime, hash: hex.EncodeToString(sum[:8]), raw: raw}
		if t.compress {
			gz, _ := fs.ReadFile(fsys, p+".gz")
			br, _ := fs.ReadFile(fsys, p+".br")
			a.usePrebuilt(gz, br)
			if a.gz == nil {
				a.compressGzip()
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

// embeddedStatic is the set of the embedded assets, built once per
// process: checking the prebuilt encodings of a 6 MB module takes tens of
// milliseconds, and every test server would repeat it.
var embeddedStatic = sync.OnceValues(func() (*staticSet, error) { return newStaticSet(static.Files) })

// handleStatic serves the embedded assets under /static/. A plain name
// (/static/js/donate.js) is revalidated on every use (ETag, no-cache); a
// hashed name from /static/manifest.json (/static/worker.<hash>.wasm) never
// changes and is cached for a year. Compressible assets are sent with
// brotli or gzip to clients that accept it; every encoding is ready before
// the first request (handleStatic runs while the routes are built, before
// the server listens).
func handleStatic(d Deps) http.Handler {
	set, err := embeddedStatic()
	if err != nil {
		d.Logger.Error("static assets", "err", err)
		set = &staticSet{manifest: []byte("{}")}
	}
	if a := set.plain["worker.wasm"]; a != nil && !a.prebuilt {
		d.Logger.Warn("static/worker.wasm.gz is missing or stale: the module was gzipped at start (make wasm writes worker.wasm.gz and worker.wasm.br, smaller and with no start-up cost)")
	}
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
		if a.gz != nil || a.br != nil {
			h.Add("Vary", "Accept-Encoding")
			accepted := parseAcceptEncoding(r.Header.Get("Accept-Encoding"))
			qbr, qgz := accepted.quality("br"), accepted.quality("gzip")
			switch {
			case a.br != nil && qbr > 0 && (a.gz == nil || qbr >= qgz):
				body, etag = a.br, `"`+a.hash+`-br"`
				h.Set("Content-Encoding", "br")
			case a.gz != nil && qgz > 0:
				body, etag = a.gz, `"`+a.hash+`-gz"`
				h.Set("Content-Encoding", "gzip")
			}
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

// acceptEncoding is a parsed Accept-Encoding header: each coding's
// quality, and that of "*" (-1 when absent).
type acceptEncoding struct {
	q    map[string]float64
	star float64
}

func parseAcceptEncoding(header string) acceptEncoding {
	ae := acceptEncoding{q: map[string]float64{}, star: -1}
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		enc = strings.ToLower(strings.TrimSpace(enc))
		if enc == "" {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = f
				} else {
					q = 0 // an unreadable weight does not grant anything
				}
			}
		}
		if enc == "*" {
			ae.star = q
		} else {
			ae.q[enc] = q
		}
	}
	return ae
}

// quality is the weight the client gives the coding: its own, else that
// of "*", else 0 (RFC 9110, 12.5.3). Only weights above 0 allow it.
func (ae acceptEncoding) quality(coding string) float64 {
	if q, ok := ae.q[coding]; ok {
		return q
	}
	return max(ae.star, 0)
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
