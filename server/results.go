package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/export"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// progress is an analysis's chunks verified of total: live from the grid
// while it runs, as stored once it finished.
func progress(d Deps, a store.Analysis) (verified, total int) {
	if !a.Finished() && d.Grid != nil {
		if v, t, ok := d.Grid.Progress(a.ID); ok {
			return v, t
		}
	}
	return a.ChunksVerified, a.ChunksTotal
}

// progressJSON is the progress of an analysis as GET /api/v1/analyses/{id}
// sends it under "progress" and static/js/progress.js reads it: its list
// PROGRESS_FIELDS names exactly these json tags (TestProgressContract
// keeps the two in step), and docs/api.md describes them.
type progressJSON struct {
	ChunksTotal    int `json:"chunks_total"`
	ChunksVerified int `json:"chunks_verified"`
	// ChunksQueued wait for any volunteer, ChunksRunning are leased now,
	// ChunksAwaitingReplica have results too few for the quorum and wait
	// for a second opinion. All 0 once the analysis is finished.
	ChunksQueued          int `json:"chunks_queued"`
	ChunksRunning         int `json:"chunks_running"`
	ChunksAwaitingReplica int `json:"chunks_awaiting_replica"`
	// VolunteersWorking hold a lease on this analysis now; VolunteersConnected
	// could run it (both count local workers too; 0 once finished).
	VolunteersWorking   int `json:"volunteers_working"`
	VolunteersConnected int `json:"volunteers_connected"`
	// Quorum is how many agreeing results from distinct volunteers settle a chunk.
	Quorum int `json:"quorum"`
	// ETASeconds is the estimated time left, null when unknown or finished.
	ETASeconds *float64 `json:"eta_seconds"`
	// WaitingFor says what blocks the analysis: "" (nothing: it moves or it
	// is finished), "volunteers" (no connected volunteer can run it) or
	// "second_opinion" (chunks have one result and no connected volunteer
	// may give the next: it needs a volunteer from another network).
	WaitingFor string `json:"waiting_for"`
	// Source says where the figures come from: "grid" (live, from the
	// replica that runs the analysis) or "database" (the stored row: the
	// analysis is finished, or this replica does not run the grid; the
	// chunk states and volunteers are then 0 and the ETA null, unknown).
	Source string `json:"source"`
}

// Values of progressJSON.WaitingFor.
const (
	sourceGrid, sourceDatabase = "grid", "database"

	waitingVolunteers    = "volunteers"
	waitingSecondOpinion = "second_opinion"
)

// analysisProgress is the progress of a: live from the grid while it runs,
// from the store once it finished (no volunteers, no time left).
func analysisProgress(d Deps, a store.Analysis) progressJSON {
	p := progressJSON{ChunksTotal: a.ChunksTotal, ChunksVerified: a.ChunksVerified, Quorum: d.quorum(), Source: sourceDatabase}
	if a.Finished() || d.Grid == nil {
		// On a replica that does not run the grid the stored row is all
		// there is: its chunks_verified counts the verified chunk rows
		// (written with them), while the chunks' states, the volunteers
		// and the time left are the leader's to know.
		return p
	}
	g, ok := d.Grid.ProgressDetail(a.ID)
	if !ok {
		return p
	}
	p.Source = sourceGrid
	p.ChunksTotal, p.ChunksVerified = g.Total, g.Verified
	p.ChunksQueued, p.ChunksRunning, p.ChunksAwaitingReplica = g.Queued, g.Running, g.AwaitingReplica
	p.VolunteersWorking, p.VolunteersConnected, p.Quorum = g.VolunteersWorking, g.VolunteersConnected, g.Quorum
	switch {
	case g.VolunteersConnected == 0 && g.Queued+g.AwaitingReplica > 0:
		p.WaitingFor = waitingVolunteers
	case g.AwaitingReplica > 0 && g.ReplicaBlocked:
		p.WaitingFor = waitingSecondOpinion
	}
	// A rough estimate: the average pace since the start, while someone works.
	if el := time.Since(a.CreatedAt).Seconds(); p.ChunksVerified > 0 && el > 0 && g.VolunteersWorking > 0 {
		eta := el / float64(p.ChunksVerified) * float64(p.ChunksTotal-p.ChunksVerified)
		p.ETASeconds = &eta
	}
	return p
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
	key := cacheKey{a.ID, a.FinishedAt}
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

// Finished results and uploaded annotations never change, and decoding
// them took most of each request when scrolling the strip of a 24-hour
// record (116,000 beats and as many reference annotations per step), so
// the last few decoded ones are kept. Keys include a time (finish, upload)
// so that a reused id cannot match an old entry.

// lru keeps the size most recently used values.
type lru[K comparable, V any] struct {
	mu      sync.Mutex
	size    int
	entries []lruEntry[K, V] // most recently used last
}

type lruEntry[K comparable, V any] struct {
	key K
	val V
}

func newLRU[K comparable, V any](size int) *lru[K, V] { return &lru[K, V]{size: size} }

// get returns the value for k; a nil cache has nothing.
func (c *lru[K, V]) get(k K) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.key == k {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			return e.val, true
		}
	}
	return zero, false
}

// put stores v for k, forgetting the least recently used beyond size.
func (c *lru[K, V]) put(k K, v V) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == c.size {
		c.entries = c.entries[1:]
	}
	c.entries = append(c.entries, lruEntry[K, V]{k, v})
}

// cacheKey names an immutable thing by id and the time it came to be.
type cacheKey struct {
	id int64
	at time.Time
}

// cacheSize bounds each cache (a 24-hour beats result is ~5 MB).
const cacheSize = 16

// references are a dataset's uploaded annotations and their sample rate.
type references struct {
	anns []signal.Annotation
	rate float64
}

// datasetReferences returns a dataset's uploaded annotations, cached.
func datasetReferences(ctx context.Context, d Deps, ds store.Dataset) (references, error) {
	key := cacheKey{ds.ID, ds.CreatedAt}
	if refs, ok := d.references.get(key); ok {
		return refs, nil
	}
	_, anns, rate, err := d.Store.DatasetIdentity(ctx, ds.ID)
	if err != nil {
		return references{}, err
	}
	refs := references{anns, rate}
	d.references.put(key, refs)
	return refs, nil
}

// decodedResult is finishedResult for pages that only show the result: a
// decoded result in the cache is returned without reading the stored
// document again (10 MB for a 24-hour beats result, on every strip step).
func decodedResult(ctx context.Context, d Deps, a store.Analysis) (pipeline.Result, error) {
	if a.Status == store.StatusDone {
		if res, ok := d.results.get(cacheKey{a.ID, a.FinishedAt}); ok {
			return res, nil
		}
	}
	res, _, err := finishedResult(ctx, d, a)
	return res, err
}

// writeExport answers a result download in one of export.Formats: JSON is
// the stored document itself, the others are rendered from the result. The
// file is named after the recording (exportName).
func writeExport(ctx context.Context, d Deps, w http.ResponseWriter, a store.Analysis, res pipeline.Result, body []byte, format string) error {
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
	record := ""
	if ds, err := d.Store.Dataset(ctx, a.DatasetID); err == nil {
		record = ds.Name
	}
	return writeAttachment(w, exportName(record, a.ID, f.Ext), f.ContentType, f.Data)
}

// exportName names a download after its recording: WFDB annotations as
// RECORD.atr, which WFDB tools read beside RECORD.hea; CSV and JSON as
// RECORD-analysis-N.csv, so that two analyses of one record do not clash.
// Characters other than letters, digits, ".", "_" and "-" become "_" (the
// name goes into a header); a name left empty falls back to analysis-N.
func exportName(record string, analysisID int64, ext string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		case r == '.':
			return '.'
		}
		return '_'
	}, record)
	clean = strings.Trim(clean, "._")
	if len(clean) > 80 {
		clean = clean[:80]
	}
	if clean == "" {
		return fmt.Sprintf("analysis-%d%s", analysisID, ext)
	}
	if ext == ".atr" {
		return clean + ext
	}
	return fmt.Sprintf("%s-analysis-%d%s", clean, analysisID, ext)
}

// writeAttachment answers a download of a file called name.
func writeAttachment(w http.ResponseWriter, name, contentType string, data []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, name))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(data)
	return err
}
