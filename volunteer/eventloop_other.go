//go:build !(js && wasm)

package volunteer

import (
	"context"
	"runtime"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
)

// eventLoopTurn lets other goroutines run; natively there is no event loop
// to return to (see eventloop_js.go for the browser).
func eventLoopTurn(ctx context.Context) error {
	runtime.Gosched()
	return ctx.Err()
}

// payloadDigest is canon.Digest(b); the browser build asks WebCrypto.
func payloadDigest(ctx context.Context, b []byte) (string, error) {
	return canon.Digest(b), ctx.Err()
}
