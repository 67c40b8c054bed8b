package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

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
	res, err := alg.DecodeResult(body)
	if err != nil {
		return nil, body, fmt.Errorf("decode stored result of analysis %d: %w", a.ID, err)
	}
	return res, body, nil
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
