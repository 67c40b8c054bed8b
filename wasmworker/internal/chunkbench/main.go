//go:build js && wasm

// Command chunkbench is a benchmark module, not shipped: it times the
// volunteer's compute (benchchunks: decode + Run of the 30 chunks of
// MIT-BIH 119) inside a browser's Web Worker, the same loop BenchmarkChunk
// times natively and in node, so that the browser's figure can be told
// apart from the volunteer loop's per-chunk overhead. e2e/bench/compute.bench.spec.js
// builds it, serves it and reports its figures.
//
// JS API, installed on globalThis when the module starts:
//
//	pulsegridBench.run(json)  json: {"files": {"119.hea": Uint8Array, …} (set on the object, not JSON),
//	                                 "passes": N, "mode": "compute"|"sleep"|"message"}
//	                          starts the benchmark and returns at once; the result goes to
//	                          globalThis.pulsegridBenchDone(json) as {"pass_ns": [..], "error": "…"}.
//
// Modes: "compute" runs the chunks back to back; "sleep" waits on a 1 ms Go
// timer after each chunk (the volunteer's minimum rest: the runtime returns
// to the event loop through setTimeout); "message" returns to the event
// loop after each chunk through a MessageChannel instead (no timer);
// "digest" also computes the payload's SHA-256 in Go, as the volunteer
// checks it. A mode with the suffix "-only" leaves out the chunk itself
// (e.g. "message-only": the event-loop round trips alone).
package main

import (
	"cmp"
	"encoding/json"
	"strings"
	"syscall/js"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/ecg"
	"github.com/pulsegrid/pulsegrid/wasmworker/internal/benchchunks"
)

type options struct {
	Passes       int    `json:"passes"`
	Mode         string `json:"mode"`
	ChunkSeconds int    `json:"chunk_seconds"` // 0: benchchunks.ChunkSeconds
}

type result struct {
	PassNS []int64 `json:"pass_ns"`
	Chunks int     `json:"chunks"`
	Error  string  `json:"error,omitempty"`
}

func main() {
	run := js.FuncOf(func(_ js.Value, args []js.Value) any {
		var o options
		if err := json.Unmarshal([]byte(args[0].String()), &o); err != nil {
			return err.Error()
		}
		files := args[1]
		go func() {
			r := bench(o, files)
			b, _ := json.Marshal(r)
			js.Global().Call("pulsegridBenchDone", string(b))
		}()
		return nil
	})
	js.Global().Set("pulsegridBench", js.ValueOf(map[string]any{"run": run}))
	js.Global().Call("pulsegridBenchDone", `{"ready":true}`)
	select {}
}

func bench(o options, files js.Value) result {
	payloads, err := benchchunks.Payloads("119.hea", float64(cmp.Or(o.ChunkSeconds, benchchunks.ChunkSeconds)), func(name string) ([]byte, error) {
		v := files.Get(name)
		if v.IsUndefined() {
			return nil, &missing{name}
		}
		b := make([]byte, v.Get("length").Int())
		js.CopyBytesToGo(b, v)
		return b, nil
	})
	if err != nil {
		return result{Error: err.Error()}
	}
	// A MessageChannel whose message wakes this goroutine: the runtime, with
	// nothing runnable, returns to the event loop without arming a timer.
	wake := make(chan struct{}, 1)
	mc := js.Global().Get("MessageChannel").New()
	onMsg := js.FuncOf(func(js.Value, []js.Value) any { wake <- struct{}{}; return nil })
	defer onMsg.Release()
	mc.Get("port1").Set("onmessage", onMsg)
	port2 := mc.Get("port2")

	alg := ecg.NewBeats()
	r := result{Chunks: len(payloads)}
	for range max(o.Passes, 1) {
		start := time.Now()
		for _, p := range payloads {
			if !strings.HasSuffix(o.Mode, "-only") {
				if _, err := benchchunks.Run(alg, p); err != nil {
					return result{Error: err.Error()}
				}
			}
			switch strings.TrimSuffix(o.Mode, "-only") {
			case "digest":
				canon.Digest(p)
			case "sleep":
				time.Sleep(time.Millisecond)
			case "message":
				port2.Call("postMessage", 0)
				<-wake
			}
		}
		r.PassNS = append(r.PassNS, int64(time.Since(start)))
	}
	return r
}

type missing struct{ name string }

func (m *missing) Error() string {
	return "bench file " + m.name + " was not given to pulsegridBench.run"
}
