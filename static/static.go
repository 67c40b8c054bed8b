// Package static embeds the browser assets (static/css, static/js,
// wasm_exec.js and worker.wasm, the last two built by `make wasm`) so that
// the one pulsegrid binary serves them; server/static.go serves them.
package static

import "embed"

// Files are the embedded assets. The pattern is "*" rather than a list so
// that a checkout without `make wasm` still builds (the worker is then
// missing, and /donate says so).
//
//go:embed *
var Files embed.FS
