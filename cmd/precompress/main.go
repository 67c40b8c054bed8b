// Command precompress writes the brotli encoding of a static asset beside
// it (FILE.br, quality 11), which the server embeds and sends as is to
// browsers that accept br: make wasm runs it for static/worker.wasm. At
// its best quality brotli takes about half a minute for the 6 MB module,
// so a FILE.br that already decodes to FILE is left alone.
//
//	go run ./cmd/precompress static/worker.wasm
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: precompress FILE...")
		os.Exit(2)
	}
	for _, name := range os.Args[1:] {
		if err := precompress(name); err != nil {
			fmt.Fprintln(os.Stderr, "precompress:", err)
			os.Exit(1)
		}
	}
}

func precompress(name string) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(name + ".br"); err == nil {
		plain, err := io.ReadAll(io.LimitReader(brotli.NewReader(bytes.NewReader(old)), int64(len(raw))+1))
		if err == nil && bytes.Equal(plain, raw) {
			fmt.Printf("precompress: %s.br is current (%d bytes)\n", name, len(old))
			return nil
		}
	}
	var b bytes.Buffer
	w := brotli.NewWriterOptions(&b, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 24})
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	// Written to a temporary file and renamed, so that an interrupted run
	// leaves no truncated .br to embed (the server would ignore it anyway).
	tmp, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".br.*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), name+".br"); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	fmt.Printf("precompress: %s.br written (%d → %d bytes)\n", name, len(raw), b.Len())
	return nil
}
