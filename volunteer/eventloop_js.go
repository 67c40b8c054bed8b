//go:build js && wasm

package volunteer

import (
	"context"
	"encoding/hex"
	"errors"
	"sync"
	"syscall/js"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
)

// turns hands the browser's event loop one turn without a timer. Go on
// js/wasm returns to the event loop only when every goroutine is blocked;
// blocking on a timer would do, but a timer armed from a timer callback is
// clamped by browsers to at least 4 ms once nested five deep (HTML's timer
// nesting rule, which Chromium applies to workers too), which cost a slot
// 4 ms per yield. A message on a MessageChannel is a task of its own with no
// clamp: the turn costs a few microseconds. Messages from the page queued
// before it (Pause, a new CPU share) run first, as posted messages run in
// order; other pending tasks (websocket frames) get their turn too.
var turns struct {
	once    sync.Once
	port    js.Value // the sending end; invalid when MessageChannel is missing
	mu      sync.Mutex
	waiters []chan struct{} // one per message posted, in posting order
}

func initTurns() {
	mc := js.Global().Get("MessageChannel")
	if mc.Type() != js.TypeFunction {
		return
	}
	ch := mc.New()
	ch.Get("port1").Set("onmessage", js.FuncOf(func(js.Value, []js.Value) any {
		turns.mu.Lock()
		w := turns.waiters[0]
		turns.waiters = turns.waiters[1:]
		turns.mu.Unlock()
		close(w)
		return nil
	}))
	turns.port = ch.Get("port2")
}

// eventLoopTurn returns after the event loop has run the tasks queued
// before it, or when ctx ends.
func eventLoopTurn(ctx context.Context) error {
	turns.once.Do(initTurns)
	if turns.port.IsUndefined() {
		return sleep(ctx, time.Millisecond) // no MessageChannel: a timer, clamped or not
	}
	w := make(chan struct{})
	turns.mu.Lock()
	turns.waiters = append(turns.waiters, w)
	turns.port.Call("postMessage", 0)
	turns.mu.Unlock()
	select {
	case <-w:
		return ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// webCryptoMin is the payload size from which payloadDigest asks WebCrypto:
// Go's SHA-256 compiled to wasm hashes about 160 MB/s in Chromium (1.1 ms
// for a 60 s ECG chunk, more than running the chunk), WebCrypto runs the
// native, hardware-accelerated code; below this size the asynchronous round
// trip is not worth it.
const webCryptoMin = 16 << 10

// payloadDigest is canon.Digest(b) (SHA-256, lowercase hex), computed by
// the browser's WebCrypto when it is there (secure contexts only: https or
// loopback) and b is large, else in Go.
func payloadDigest(ctx context.Context, b []byte) (string, error) {
	if len(b) < webCryptoMin {
		return canon.Digest(b), nil
	}
	subtle := js.Global().Get("crypto")
	if subtle.Type() == js.TypeObject {
		subtle = subtle.Get("subtle")
	}
	if subtle.Type() != js.TypeObject {
		return canon.Digest(b), nil
	}
	buf := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(buf, b)
	type answer struct {
		sum []byte
		err error
	}
	done := make(chan answer, 1)
	// Released when the promise settles, not when this function returns:
	// after a cancel the promise still calls one of them.
	var onOK, onErr js.Func
	onOK = js.FuncOf(func(_ js.Value, args []js.Value) any {
		u := js.Global().Get("Uint8Array").New(args[0])
		sum := make([]byte, u.Length())
		js.CopyBytesToGo(sum, u)
		done <- answer{sum: sum}
		onOK.Release()
		onErr.Release()
		return nil
	})
	onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		msg := "crypto.subtle.digest failed"
		if len(args) > 0 {
			msg += ": " + args[0].Call("toString").String()
		}
		done <- answer{err: errors.New(msg)}
		onOK.Release()
		onErr.Release()
		return nil
	})
	subtle.Call("digest", "SHA-256", buf).Call("then", onOK, onErr)
	select {
	case a := <-done:
		if a.err != nil || len(a.sum) != 32 {
			return canon.Digest(b), nil // the Go code is always right, only slower
		}
		return hex.EncodeToString(a.sum), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
