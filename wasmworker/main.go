//go:build js && wasm

// Command wasmworker is the browser volunteer: one volunteer.Volunteer (one
// slot) running the algorithms/ pipeline inside a dedicated Web Worker. The
// page starts one worker per thread; static/js/worker.js loads this module
// and relays messages between the page and the functions below.
//
// JS API, installed on the worker's globalThis when the module starts:
//
//	pulsegrid.start(json)  json: {"server": "http://host:port", "identity": {"id","secret"} | null,
//	                               "cpu": 1..100, "agent": "…", "slice_ms": 50, "nickname": "…",
//	                               "team": "…"}
//	                       creates the volunteer and runs it; later calls set the CPU share
//	                       and the nickname and team (sent at the next connection: pause, then start
//	                       again to rename now) and act like resume.
//	pulsegrid.pause()      cancels the run at once: the running chunk stops at its next
//	                       yield and the websocket closes, so the server re-issues the
//	                       lease immediately.
//	pulsegrid.resume()     runs again with the same identity and counters.
//	pulsegrid.setCPU(n)    CPU share in percent; applies at the next slice.
//	pulsegrid.stats()      a JSON string of volunteer.Stats (total_verified and credit are the
//	                       server's all-time totals for the identity).
//	pulsegrid.stop()       like pause, for good (the page then terminates the worker).
//
// Messages out go through globalThis.pulsegridEmit(json), which worker.js
// defines (it posts them to the page). Each is an object with "type":
//
//	{"type":"ready"}                                  the API is installed
//	{"type":"events", "events": [volunteer.Event, …], "stats": volunteer.Stats}
//	{"type":"state", "state": "running"|"paused"|"stopped", "error": "…", "stats": …}
//
// Events go out in batches, at most every 50 ms (eventEvery): a chunk of a
// minute of ECG takes about a millisecond, and a message per event cost the
// worker more than the chunk's own computing (and the page a render each).
// Pending events are flushed before every state message, so the page sees
// them in order.
//
// Durations are nanoseconds (Go's encoding). An event of kind "connected"
// carries the identity to persist; the page keeps it in localStorage and
// gives it to every worker, so that all threads are one volunteer.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"syscall/js"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

// startOptions is the argument of pulsegrid.start.
type startOptions struct {
	Server   string              `json:"server"`
	Identity *volunteer.Identity `json:"identity"`
	CPU      int                 `json:"cpu"`
	Agent    string              `json:"agent"`
	SliceMS  int                 `json:"slice_ms"`
	Nickname string              `json:"nickname"` // public, on the leaderboard; empty: anonymous
	Team     string              `json:"team"`     // the team joined, by name; empty: none
}

// host owns the worker's volunteer and the context of its current run.
type host struct {
	mu     sync.Mutex
	v      *volunteer.Volunteer
	cancel context.CancelFunc // non-nil while a run is active
	run    int                // generation, so a finished old run does not report over a new one
	done   chan struct{}      // closed when the last run has returned
	events batch              // events waiting to be posted to the page
}

// eventEvery is the longest an event waits in a batch.
const eventEvery = 50 * time.Millisecond

// batch collects events for one message to the page.
type batch struct {
	mu     sync.Mutex
	events []volunteer.Event
	timer  *time.Timer // non-nil while a flush is scheduled
	// v gives the stats sent with a batch; atomic, so that flush needs no
	// lock of the host's (it is called with host.mu held).
	v atomic.Pointer[volunteer.Volunteer]
}

func (b *batch) add(e volunteer.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, e)
	if b.timer == nil {
		b.timer = time.AfterFunc(eventEvery, b.flush)
	}
}

// flush emits the pending events, if any, now.
func (b *batch) flush() {
	b.mu.Lock()
	events := b.events
	b.events = nil
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	b.mu.Unlock()
	if len(events) > 0 {
		var st volunteer.Stats
		if v := b.v.Load(); v != nil {
			st = v.Stats()
		}
		emit(map[string]any{"type": "events", "events": events, "stats": st})
	}
}

func main() {
	h := &host{}
	api := map[string]any{
		"start": js.FuncOf(func(_ js.Value, args []js.Value) any {
			if len(args) < 1 {
				return "start needs one JSON argument"
			}
			if err := h.start(args[0].String()); err != nil {
				return err.Error()
			}
			return nil
		}),
		"pause":  js.FuncOf(func(js.Value, []js.Value) any { h.pause("paused"); return nil }),
		"stop":   js.FuncOf(func(js.Value, []js.Value) any { h.pause("stopped"); return nil }),
		"resume": js.FuncOf(func(js.Value, []js.Value) any { h.resume(); return nil }),
		"setCPU": js.FuncOf(func(_ js.Value, args []js.Value) any {
			if len(args) > 0 && h.volunteer() != nil {
				h.volunteer().SetCPU(args[0].Int())
			}
			return nil
		}),
		"stats": js.FuncOf(func(js.Value, []js.Value) any {
			b, _ := json.Marshal(h.stats())
			return string(b)
		}),
	}
	js.Global().Set("pulsegrid", js.ValueOf(api))
	emit(map[string]any{"type": "ready"})
	select {} // the functions above are the program from now on
}

// emit hands a message to worker.js, which posts it to the page.
func emit(m any) {
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	js.Global().Call("pulsegridEmit", string(b))
}

func (h *host) volunteer() *volunteer.Volunteer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.v
}

func (h *host) stats() volunteer.Stats {
	if v := h.volunteer(); v != nil {
		return v.Stats()
	}
	return volunteer.Stats{}
}

func (h *host) start(arg string) error {
	var o startOptions
	if err := json.Unmarshal([]byte(arg), &o); err != nil {
		return errors.New("start: argument is not the expected JSON object: " + err.Error())
	}
	if o.Server == "" {
		return errors.New("start: server URL missing")
	}
	h.mu.Lock()
	if h.v == nil {
		cfg := volunteer.Config{
			Server:   o.Server,
			Registry: catalog.All(),
			Slots:    1, // one worker is one slot; the page runs one worker per thread
			// Short chunks: the next lease is here when one ends, instead of a
			// round trip later (while a chunk computes, the worker's event loop
			// does not run, so a lease asked for then arrives only after it).
			Prefetch: 1,
			CPU:      o.CPU,
			Agent:    o.Agent,
			Nickname: o.Nickname,
			Team:     o.Team,
			Slice:    time.Duration(max(o.SliceMS, 0)) * time.Millisecond,
			OnEvent:  h.events.add,
		}
		if cfg.Slice == 0 {
			// Short slices: the event loop (and so Pause) gets a turn every 50 ms.
			cfg.Slice = 50 * time.Millisecond
		}
		if o.Identity != nil {
			cfg.Identity = *o.Identity
		}
		h.v = volunteer.New(cfg)
		h.events.v.Store(h.v)
	} else {
		if o.CPU > 0 {
			h.v.SetCPU(o.CPU)
		}
		h.v.SetNickname(o.Nickname)
		h.v.SetTeam(o.Team)
	}
	h.mu.Unlock()
	h.resume()
	return nil
}

func (h *host) resume() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.v == nil || h.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.run++
	gen, v, prev := h.run, h.v, h.done
	done := make(chan struct{})
	h.done = done
	go func() {
		defer close(done)
		if prev != nil {
			<-prev // one run at a time: the paused one unwinds first (a few ms)
		}
		err := v.Run(ctx)
		h.mu.Lock()
		current := gen == h.run
		if current {
			h.cancel = nil
		}
		h.mu.Unlock()
		if current && !errors.Is(err, context.Canceled) {
			// Only a permanent refusal by the server ends Run on its own.
			h.events.flush()
			emit(map[string]any{"type": "state", "state": "stopped", "error": errString(err), "stats": v.Stats()})
		}
	}()
	h.events.flush()
	emit(map[string]any{"type": "state", "state": "running", "stats": v.Stats()})
}

func (h *host) pause(state string) {
	h.mu.Lock()
	cancel := h.cancel
	h.cancel = nil
	h.run++
	h.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	h.events.flush()
	emit(map[string]any{"type": "state", "state": state, "stats": h.stats()})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
