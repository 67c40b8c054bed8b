package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/export"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// progress is an analysis's chunks verified of total: live from the grid
// while it runs, as stored once it finished.
func progress(d Deps, a store.Analysis) (verified, total int) {
	if !a.Finished() {
		if v, t, ok := d.Grid.Progress(a.ID); ok {
			return v, t
		}
	}
	return a.ChunksVerified, a.ChunksTotal
}

// finishedResult loads the stored result JSON of a done analysis and decodes
// it. The JSON comes back even when it cannot be decoded (say, the server no
// longer has the algorithm), so that it stays downloadable.
func finishedResult(ctx context.Context, d Deps, a store.Analysis) (pipeline.Result, []byte, error) {
	if a.Status != store.StatusDone {
		v, t := progress(d, a)
		return nil, nil, Errorf(EConflict, "analysis %d is %s (%d of %d chunks verified): the result exists once it is done", a.ID, a.Status, v, t)
	}
	body, err := d.Store.AnalysisResult(ctx, a.ID)
	if err != nil {
		return nil, nil, err
	}
	alg, err := d.Registry.Lookup(a.Algorithm)
	if err != nil {
		return nil, body, Errorf(EConflict, "this server no longer has %s, which is needed to read the result; download it as JSON", a.Algorithm)
	}
	key := resultKey{a.ID, a.FinishedAt}
	if res, ok := d.results.get(key); ok {
		return res, body, nil
	}
	res, err := alg.DecodeResult(body)
	if err != nil {
		return nil, body, fmt.Errorf("decode stored result of analysis %d: %w", a.ID, err)
	}
	d.results.put(key, res)
	return res, body, nil
}

// resultCache keeps the last few decoded results: scrolling the strip of a
// 24-hour record asks for the same 116,000 beats on every step, and
// decoding them took most of each request. A finished result never
// changes; the key includes the finish time so that a reused id cannot
// match.
type resultCache struct {
	mu      sync.Mutex
	entries []resultEntry // most recently used last
}

type resultKey struct {
	id       int64
	finished time.Time
}

type resultEntry struct {
	key resultKey
	res pipeline.Result
}

// resultCacheSize bounds the cache (a 24-hour beats result is ~5 MB).
const resultCacheSize = 16

func (c *resultCache) get(k resultKey) (pipeline.Result, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.key == k {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			return e.res, true
		}
	}
	return nil, false
}

func (c *resultCache) put(k resultKey, res pipeline.Result) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == resultCacheSize {
		c.entries = c.entries[1:]
	}
	c.entries = append(c.entries, resultEntry{k, res})
}

// writeExport answers a result download in one of export.Formats: JSON is
// the stored document itself, the others are rendered from the result.
func writeExport(w http.ResponseWriter, a store.Analysis, res pipeline.Result, body []byte, format string) error {
	f := export.File{Data: body, ContentType: "application/json", Ext: ".json"}
	if format != "json" {
		var err error
		if f, err = export.Encode(res, format); err != nil {
			if errors.Is(err, export.ErrNoEvents) {
				return Errorf(EInvalid, "%s results have no events to write as WFDB annotations; download CSV or JSON", a.Algorithm)
			}
			return err
		}
	}
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="analysis-%d%s"`, a.ID, f.Ext))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(f.Data)
	return err
}
