//go:build js && wasm

package volunteer

import (
	"context"
	"syscall/js"
	"testing"
)

// TestEventLoopTurnRunsQueuedTasks: a task queued in JavaScript before the
// turn (a message, as Pause is in the browser worker) has run when the
// turn returns.
func TestEventLoopTurnRunsQueuedTasks(t *testing.T) {
	ran := make(chan struct{}, 1)
	onMsg := js.FuncOf(func(js.Value, []js.Value) any { ran <- struct{}{}; return nil })
	defer onMsg.Release()
	mc := js.Global().Get("MessageChannel").New()
	mc.Get("port1").Set("onmessage", onMsg)
	defer mc.Get("port1").Call("close")
	mc.Get("port2").Call("postMessage", 1)
	if err := eventLoopTurn(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	default:
		t.Fatal("the message queued before the turn had not been handled when it returned")
	}
}
