package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/algorithms/template"
	"github.com/pulsegrid/pulsegrid/server/store"
)

func handleHealthz(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := d.Store.CountUsers(r.Context()); err != nil {
			writeError(w, r, d.Logger, fmt.Errorf("database: %w", err))
			return
		}
		if d.Grid == nil {
			writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "grid": nil}) // a standby: the leader runs it
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "grid": d.Grid.Stats()})
	})
}

func handleAPINotFound(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, d.Logger, Errorf(ENotFound, "no API endpoint %s %s; docs/api.md lists them", r.Method, r.URL.Path))
	})
}

func handleMe() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, userFrom(r))
	})
}

func handleAlgorithms(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := []pipeline.Info{}
		for _, n := range d.Registry.Names() {
			a, _ := d.Registry.Lookup(n)
			out = append(out, a.Describe())
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, Errorf(EInvalid, "%q is not an id: ids are positive integers", r.PathValue("id"))
	}
	return id, nil
}

// ownDataset loads a dataset the request's user may see (app.go).
func ownDataset(d Deps, r *http.Request, id int64) (store.Dataset, error) {
	return useCases(d).Dataset(r.Context(), id)
}

// ownAnalysis loads the analysis of the path's id that the request's user may see.
func ownAnalysis(d Deps, r *http.Request) (store.Analysis, error) {
	id, err := pathID(r)
	if err != nil {
		return store.Analysis{}, err
	}
	return useCases(d).Analysis(r.Context(), id)
}

func audit(d Deps, r *http.Request, action, object, detail string) {
	auditCtx(d, r.Context(), action, object, detail, "")
}

// datasetJSON is a dataset as the API shows it; Identity only to its owner
// on the dataset's own page, never in listings.
type datasetJSON struct {
	store.Dataset
	Identity   *signal.Identity     `json:"identity,omitempty"`
	Warnings   []template.Violation `json:"template_violations,omitempty"`
	References int                  `json:"reference_annotations,omitempty"`
}

// handleDatasetUpload stores the recordings of one upload (see upload.go):
// one recording answers its dataset, several answer {"id": first, "datasets": [...]}.
// Problems with the files answer 422 with every problem listed.
func handleDatasetUpload(d Deps) http.Handler {
	known := map[string]bool{"name": true, "template": true, "trusted_only": true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := receiveUpload(w, r, d)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		defer u.remove()
		for field := range u.fields {
			if !known[field] {
				writeError(w, r, d.Logger, Errorf(EInvalid, "unknown form field %q (want files, name, template, trusted_only)", field))
				return
			}
		}
		stored, problems, err := useCases(d).UploadDatasets(r.Context(), u, u.fields["template"])
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		if len(problems) > 0 {
			writeJSON(w, statusOf[EUnprocessable], map[string]any{"code": EUnprocessable, "error": summary(problems), "problems": problems})
			return
		}
		out := make([]datasetJSON, len(stored))
		for i, s := range stored {
			out[i] = datasetJSON{Dataset: s.dataset, Identity: &s.rec.Identity, Warnings: s.warnings, References: s.references}
		}
		if len(out) == 1 {
			writeJSON(w, http.StatusCreated, out[0])
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"id": out[0].ID, "datasets": out})
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func handleDatasetList(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ds, err := d.Store.Datasets(r.Context(), visibleOwner(r))
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, ds)
	})
}

func handleDatasetShow(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		ds, err := ownDataset(d, r, id)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		ident, anns, _, err := d.Store.DatasetIdentity(r.Context(), id)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		audit(d, r, "dataset.view", fmt.Sprintf("dataset/%d", id), "")
		writeJSON(w, http.StatusOK, datasetJSON{Dataset: ds, Identity: &ident, References: len(anns)})
	})
}

func handleDatasetDelete(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		if err := useCases(d).DeleteDataset(r.Context(), id); err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// analysisJSON is an analysis as the API shows it.
type analysisJSON struct {
	ID         int64           `json:"id"`
	DatasetID  int64           `json:"dataset_id"`
	Algorithm  string          `json:"algorithm"`
	Params     json.RawMessage `json:"params"`
	Priority   string          `json:"priority"`
	Status     string          `json:"status"`
	Progress   progressJSON    `json:"progress"`
	Error      string          `json:"error,omitempty"`
	Summary    string          `json:"summary,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`
}

func toJSON(d Deps, a store.Analysis) analysisJSON {
	j := analysisJSON{ID: a.ID, DatasetID: a.DatasetID, Algorithm: a.Algorithm, Params: a.Params, Priority: a.Priority, Status: a.Status,
		Error: a.Error, Summary: a.Summary, CreatedAt: a.CreatedAt, FinishedAt: a.FinishedAt}
	j.Progress = analysisProgress(d, a)
	return j
}

// analysisRequest is the body of POST /api/v1/analyses.
type analysisRequest struct {
	DatasetID int64           `json:"dataset_id"`
	Algorithm string          `json:"algorithm"`
	Params    json.RawMessage `json:"params"`
	Priority  string          `json:"priority"`
}

func handleAnalysisCreate(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req analysisRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, r, d.Logger, Errorf(EInvalid, "request body: %v; want {\"dataset_id\": N, \"algorithm\": \"ecg.beats@1\", \"params\": {}, \"priority\": \"routine\"}", err))
			return
		}
		if req.DatasetID <= 0 {
			writeError(w, r, d.Logger, Errorf(EInvalid, "dataset_id is missing"))
			return
		}
		out, err := useCases(d).StartAnalyses(r.Context(), StartRequest{Datasets: []int64{req.DatasetID}, Algorithms: []string{req.Algorithm}, Params: req.Params, Priority: req.Priority})
		var ps Problems
		if errors.As(err, &ps) {
			err = ps[0] // one request, one reason: the first
		}
		if err == nil && len(out.Failed) > 0 {
			err = out.Failed[0].Err
		}
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		a := out.Started[0]
		writeJSON(w, http.StatusCreated, toJSON(d, a))
	})
}

func handleAnalysisList(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		as, err := d.Store.Analyses(r.Context(), visibleOwner(r))
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		ds := r.URL.Query().Get("dataset_id")
		out := []analysisJSON{}
		for _, a := range as {
			if ds == "" || ds == strconv.FormatInt(a.DatasetID, 10) {
				out = append(out, toJSON(d, a))
			}
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func handleAnalysisShow(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := ownAnalysis(d, r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, toJSON(d, a))
	})
}

func handleAnalysisResult(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		x, err := useCases(d).ExportResult(r.Context(), id, r.URL.Query().Get("format"))
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		if err := writeExport(r.Context(), d, w, x.Analysis, x.Result, x.Body, x.Format); err != nil {
			writeError(w, r, d.Logger, err)
		}
	})
}

func handleAnalysisCancel(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		a, err := useCases(d).CancelAnalysis(r.Context(), id)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, toJSON(d, a))
	})
}

func handleAnalysisDelete(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		if err := useCases(d).DeleteAnalysis(r.Context(), id); err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
