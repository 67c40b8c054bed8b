//go:build !js

package main

// These tests run natively: they ask the go tool about the js/wasm build.
//
// What the wasm build really contains: coder/websocket imports net/http
// (and so crypto/tls) for the types of its DialOptions even on js/wasm,
// where it dials through the browser's WebSocket (internal/wsjs). So the
// package list cannot exclude net/http; what matters is that no server,
// client or TLS code is linked, which TestLinkedFunctions checks on the
// function names of the linked binary.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func goTool(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("go %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func TestDeps(t *testing.T) {
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(goTool(t, "list", "-deps", "."))) {
		deps[p] = true
	}
	forbidden := []string{"database/sql", "html/template", "text/template", "net/http/httptest", "net/http/pprof", "os/exec"}
	for _, p := range forbidden {
		if deps[p] {
			t.Errorf("the js/wasm worker imports %s", p)
		}
	}
	forbiddenPrefixes := []string{"modernc.org/", "github.com/a-h/templ", "github.com/prometheus/", "github.com/alexedwards/scs",
		"github.com/pulsegrid/pulsegrid/server", "github.com/pulsegrid/pulsegrid/views", "golang.org/x/crypto"}
	for p := range deps {
		for _, f := range forbiddenPrefixes {
			if strings.HasPrefix(p, f) {
				t.Errorf("the js/wasm worker imports %s", p)
			}
		}
	}
	for _, p := range []string{"github.com/pulsegrid/pulsegrid/volunteer", "github.com/pulsegrid/pulsegrid/algorithms/catalog",
		"github.com/coder/websocket/internal/wsjs", "syscall/js"} {
		if !deps[p] {
			t.Errorf("the js/wasm worker does not import %s (it should: that is what it is for)", p)
		}
	}
}

func TestLinkedFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm binary")
	}
	bin := filepath.Join(t.TempDir(), "worker.wasm")
	goTool(t, "build", "-trimpath", "-o", bin, ".") // no -s: keep the name section
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	names, err := wasmFunctionNames(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 1000 {
		t.Fatalf("got %d function names from the name section, want thousands", len(names))
	}
	forbidden := []string{
		"net/http.(*Server)", "net/http.(*conn)", "net/http.(*Transport)", "net/http.(*Client)",
		"net/http.ListenAndServe", "crypto/tls.(*Conn)", "crypto/x509.(*Certificate)", "crypto/x509.Parse", "database/sql.", "html/template.",
		"modernc.org/", "github.com/pulsegrid/pulsegrid/server",
	}
	var linkedHTTP []string
	for _, n := range names {
		for _, f := range forbidden {
			if strings.HasPrefix(n, wasmName(f)) {
				t.Errorf("linked into the wasm worker: %s", n)
			}
		}
		if strings.HasPrefix(n, wasmName("net/http.")) {
			linkedHTTP = append(linkedHTTP, n)
		}
	}
	t.Logf("net/http functions linked (package initialisers only are expected): %v", linkedHTTP)
	for _, want := range []string{"github.com/pulsegrid/pulsegrid/volunteer.(*Volunteer).Run", "github.com/coder/websocket.Dial"} {
		found := false
		for _, n := range names {
			found = found || n == wasmName(want)
		}
		if !found {
			t.Errorf("%s is not in the name section: the parser or the build is wrong", want)
		}
	}
}

// wasmName is how the Go linker spells a symbol in the wasm name section.
var wasmName = strings.NewReplacer("/", "_", "(*", "__", ")", "_").Replace

// wasmFunctionNames reads the function names of a wasm module's "name"
// custom section (subsection 1).
func wasmFunctionNames(b []byte) ([]string, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) {
		return nil, errors.New("not a wasm module: bad magic")
	}
	r := &leb{b: b, off: 8}
	for r.off < len(b) {
		id := r.byte()
		size := int(r.u32())
		end := r.off + size
		if r.err != nil || end > len(b) {
			return nil, fmt.Errorf("section at byte %d runs past the end of the module", r.off)
		}
		if id == 0 {
			sec := &leb{b: b[:end], off: r.off}
			if sec.name() == "name" {
				for sec.off < end && sec.err == nil {
					sub := sec.byte()
					n := int(sec.u32())
					if sub != 1 {
						sec.off += n
						continue
					}
					count := int(sec.u32())
					names := make([]string, 0, count)
					for range count {
						sec.u32()
						names = append(names, sec.name())
					}
					return names, sec.err
				}
			}
		}
		r.off = end
	}
	return nil, errors.New("no function names: the module has no name section (built with -ldflags=-s?)")
}

type leb struct {
	b   []byte
	off int
	err error
}

func (r *leb) byte() byte {
	if r.off >= len(r.b) {
		r.err = fmt.Errorf("unexpected end at byte %d", r.off)
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *leb) u32() uint32 {
	v, n := binary.Uvarint(r.b[min(r.off, len(r.b)):])
	if n <= 0 {
		r.err = fmt.Errorf("bad LEB128 at byte %d", r.off)
		return 0
	}
	r.off += n
	return uint32(v)
}

func (r *leb) name() string {
	n := int(r.u32())
	if r.err != nil || r.off+n > len(r.b) {
		r.err = fmt.Errorf("name at byte %d runs past the end", r.off)
		return ""
	}
	r.off += n
	return string(r.b[r.off-n : r.off])
}
