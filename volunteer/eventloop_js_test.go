//go:build js && wasm

package volunteer

import (
	"context"
	"syscall/js"
	"testing"
)

// TestEventLoopTurnUsesNoTimer: a turn goes through the MessageChannel (a
// timer would be clamped to 4 ms in browsers), and it really returns to
// the event loop: JavaScript queued before it has run when it returns. A
// structural check rather than a timing, which a loaded machine breaks.
func TestEventLoopTurnUsesNoTimer(t *testing.T) {
	ran := false
	cb := js.FuncOf(func(js.Value, []js.Value) any { ran = true; return nil })
	defer cb.Release()
	js.Global().Call("queueMicrotask", cb)
	if err := eventLoopTurn(context.Background()); err != nil {
		t.Fatal(err)
	}
	if turns.port.IsUndefined() {
		t.Fatal("no MessageChannel: turns fall back to a timer")
	}
	if !ran {
		t.Error("the turn returned without the event loop running what was queued before it")
	}
}
