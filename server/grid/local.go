package grid

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// localWorker is a trusted in-process volunteer (--local-workers, the
// hospital's own machine, or an auditor). It speaks the protocol through the same Session
// as a remote volunteer, without a network in between, and its results
// settle a chunk alone.
type localWorker struct {
	g    *Grid
	s    *Session
	jobs chan localJob
	mu   sync.Mutex
	runs map[int64]context.CancelFunc
	ctx  context.Context
	end  context.CancelFunc
	done chan struct{}
}

type localJob struct {
	m       *protocol.Message
	payload []byte
}

// StartLocalWorkers adds n trusted in-process workers. Close stops them.
func (g *Grid) StartLocalWorkers(n int) error { return g.startLocal(n, false) }

// startLocal adds n trusted in-process workers: ordinary ones
// (--local-workers), or auditors that only verify (audit.go).
func (g *Grid) startLocal(n int, isAuditor bool) error {
	what := "local worker"
	if isAuditor {
		what = "auditor"
	}
	for i := range n {
		ctx, end := context.WithCancel(context.Background())
		w := &localWorker{g: g, jobs: make(chan localJob, 8), runs: map[int64]context.CancelFunc{}, ctx: ctx, end: end, done: make(chan struct{})}
		name := fmt.Sprintf("%s %d", what, i+1)
		hello := &protocol.Message{Type: protocol.TypeHello, Version: protocol.Version, Algorithms: g.reg.Names(), Slots: 1, Agent: name}
		rec := store.Volunteer{ID: strings.ReplaceAll(name, " ", "-"), Agent: name, CreatedAt: g.now()}
		kind := local
		if isAuditor {
			kind = auditor
		}
		s, _, err := g.connect(hello, rec, 0, "", w, kind)
		if err != nil {
			end()
			return err
		}
		g.mu.Lock()
		g.locals = append(g.locals, w)
		g.mu.Unlock()
		w.s = s
		go w.loop()
		if err := s.Handle(&protocol.Message{Type: protocol.TypeRequest, Count: 1}, nil); err != nil {
			return err
		}
	}
	return nil
}

// Send implements Sender.
func (w *localWorker) Send(m *protocol.Message, payload []byte) bool {
	switch m.Type {
	case protocol.TypeLease:
		select {
		case w.jobs <- localJob{m, payload}:
			return true
		default:
			return false
		}
	case protocol.TypeCancel:
		w.mu.Lock()
		if c := w.runs[m.LeaseID]; c != nil {
			c()
		}
		w.mu.Unlock()
	}
	return true
}

// Close implements Sender.
func (w *localWorker) Close(string) { w.end() }

func (w *localWorker) stop() {
	w.end()
	<-w.done
}

func (w *localWorker) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.ctx.Done():
			return
		case j := <-w.jobs:
			w.run(j)
			if w.ctx.Err() != nil {
				return
			}
			w.s.Handle(&protocol.Message{Type: protocol.TypeRequest, Count: 1}, nil)
		}
	}
}

func (w *localWorker) run(j localJob) {
	id := j.m.LeaseID
	ctx, cancel := context.WithCancel(w.ctx)
	w.mu.Lock()
	w.runs[id] = cancel
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.runs, id)
		w.mu.Unlock()
		cancel()
	}()
	w.s.Handle(&protocol.Message{Type: protocol.TypeAck, LeaseID: id}, nil)
	start := time.Now()
	out, err := runTask(w.g.reg, j.m.Algorithm, j.payload, pipeline.NoYield{Ctx: ctx})
	took := float64(time.Since(start).Microseconds()) / 1000
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		w.s.Handle(&protocol.Message{Type: protocol.TypeError, LeaseID: id, Reason: err.Error()}, nil)
		return
	}
	w.s.Handle(&protocol.Message{Type: protocol.TypeResult, LeaseID: id, Digest: canon.Digest(out), Size: len(out), CPUMS: took}, out)
}

func runTask(reg *pipeline.Registry, name string, payload []byte, y pipeline.Yielder) ([]byte, error) {
	alg, err := reg.Lookup(name)
	if err != nil {
		return nil, err
	}
	t, err := pipeline.DecodeTask(payload)
	if err != nil {
		return nil, err
	}
	if t.Algorithm != alg.Name() {
		return nil, fmt.Errorf("payload is for %s, lease says %s", t.Algorithm, alg.Name())
	}
	return alg.Run(t, y)
}
