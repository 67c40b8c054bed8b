//go:build js && wasm

package main

import (
	"encoding/json"
	"syscall/js"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/volunteer"
)

// TestBatch: events reach the page in one message per batch, oldest first,
// flushed at once by flush and by itself within eventEvery.
func TestBatch(t *testing.T) {
	got := make(chan map[string]any, 8)
	f := js.FuncOf(func(_ js.Value, args []js.Value) any {
		var m map[string]any
		if err := json.Unmarshal([]byte(args[0].String()), &m); err != nil {
			t.Errorf("emitted message is not JSON: %v", err)
		}
		got <- m
		return nil
	})
	defer f.Release()
	js.Global().Set("pulsegridEmit", f)

	var b batch
	b.flush() // nothing pending: no message
	for _, k := range []volunteer.EventKind{volunteer.EventChunkStarted, volunteer.EventChunkDone, volunteer.EventVerdict} {
		b.add(volunteer.Event{Kind: k})
	}
	b.flush()
	select {
	case m := <-got:
		events, _ := m["events"].([]any)
		var kinds []string
		for _, e := range events {
			kinds = append(kinds, e.(map[string]any)["kind"].(string))
		}
		if m["type"] != "events" || len(kinds) != 3 || kinds[0] != "chunk-started" || kinds[1] != "chunk-done" || kinds[2] != "verdict" {
			t.Errorf("flush emitted %v, want one events message with chunk-started, chunk-done, verdict", m)
		}
	default:
		t.Fatal("flush emitted nothing")
	}
	select {
	case m := <-got:
		t.Fatalf("a second message %v for one batch", m)
	default:
	}

	b.add(volunteer.Event{Kind: volunteer.EventChunkDone})
	select {
	case m := <-got:
		if events, _ := m["events"].([]any); len(events) != 1 {
			t.Errorf("timed flush emitted %v, want the one event", m)
		}
	case <-time.After(20 * eventEvery):
		t.Fatalf("an event waited more than %v", 20*eventEvery)
	}
}
