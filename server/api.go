package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/export"
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

func handleGridStats(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Grid.Stats())
	})
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, Errorf(EInvalid, "%q is not an id: ids are positive integers", r.PathValue("id"))
	}
	return id, nil
}

// ownDataset loads a dataset the request's user owns; others' datasets are
// reported as not found, so their existence does not leak.
func ownDataset(d Deps, r *http.Request, id int64) (store.Dataset, error) {
	ds, err := d.Store.Dataset(r.Context(), id)
	if err != nil {
		return ds, err
	}
	if !canSee(r, ds.OwnerID) {
		return ds, Errorf(ENotFound, "dataset %d not found", id)
	}
	return ds, nil
}

func ownAnalysis(d Deps, r *http.Request) (store.Analysis, error) {
	id, err := pathID(r)
	if err != nil {
		return store.Analysis{}, err
	}
	a, err := d.Store.Analysis(r.Context(), id)
	if err != nil {
		return a, err
	}
	if !canSee(r, a.OwnerID) {
		return a, Errorf(ENotFound, "analysis %d not found", id)
	}
	return a, nil
}

func audit(d Deps, r *http.Request, action, object, detail string) {
	if err := d.Store.Audit(r.Context(), store.AuditEntry{UserID: userFrom(r).ID, Action: action, Object: object, Detail: detail}); err != nil {
		d.Logger.Error("audit log", "err", err, "action", action, "object", object)
	}
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
		var tpl *template.Template
		if name := strings.TrimSpace(u.fields["template"]); name != "" {
			if tpl, err = lookupTemplate(r.Context(), d.Store, name); err != nil {
				writeError(w, r, d.Logger, err)
				return
			}
		}
		stored, problems, err := ingest(r.Context(), d, userFrom(r).ID, u, tpl)
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
			audit(d, r, "dataset.upload", fmt.Sprintf("dataset/%d", s.dataset.ID), fmt.Sprintf("%d files, %s", len(s.files), s.format))
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
		if _, err := ownDataset(d, r, id); err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		d.Grid.Forget(id, 0)
		if err := d.Store.DeleteDataset(r.Context(), id); err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		audit(d, r, "dataset.delete", fmt.Sprintf("dataset/%d", id), "")
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
		if _, err := ownDataset(d, r, req.DatasetID); err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		alg, err := d.Registry.Lookup(req.Algorithm)
		if err != nil {
			writeError(w, r, d.Logger, Errorf(EInvalid, "algorithm: %v", err))
			return
		}
		params, err := alg.Params(req.Params)
		if err != nil {
			writeError(w, r, d.Logger, Errorf(EInvalid, "params for %s: %v", alg.Name(), err))
			return
		}
		switch req.Priority {
		case "", "routine", "urgent", "stat":
		default:
			writeError(w, r, d.Logger, Errorf(EInvalid, "priority %q: want routine, urgent or stat", req.Priority))
			return
		}
		a, err := d.Grid.Start(r.Context(), store.Analysis{DatasetID: req.DatasetID, OwnerID: userFrom(r).ID, Algorithm: alg.Name(), Params: params, Priority: req.Priority})
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		audit(d, r, "analysis.start", fmt.Sprintf("analysis/%d", a.ID), fmt.Sprintf("%s on dataset/%d", a.Algorithm, a.DatasetID))
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
		a, err := ownAnalysis(d, r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		format := r.URL.Query().Get("format")
		if format == "" {
			format = "json"
		}
		if !export.Valid(format) {
			writeError(w, r, d.Logger, Errorf(EInvalid, "format %q: want json, csv or wfdb", format))
			return
		}
		res, body, err := finishedResult(r.Context(), d, a)
		if err != nil && !(format == "json" && body != nil) {
			writeError(w, r, d.Logger, err)
			return
		}
		audit(d, r, "analysis.export", fmt.Sprintf("analysis/%d", a.ID), format)
		if err := writeExport(r.Context(), d, w, a, res, body, format); err != nil {
			writeError(w, r, d.Logger, err)
		}
	})
}

func handleAnalysisCancel(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := ownAnalysis(d, r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		if err := d.Grid.Cancel(r.Context(), a.ID); err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		audit(d, r, "analysis.cancel", fmt.Sprintf("analysis/%d", a.ID), "")
		a, err = d.Store.Analysis(r.Context(), a.ID)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		writeJSON(w, http.StatusOK, toJSON(d, a))
	})
}

func handleAnalysisDelete(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := ownAnalysis(d, r)
		if err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		d.Grid.Forget(0, a.ID)
		if err := d.Store.DeleteAnalysis(r.Context(), a.ID); err != nil {
			writeError(w, r, d.Logger, err)
			return
		}
		audit(d, r, "analysis.delete", fmt.Sprintf("analysis/%d", a.ID), "")
		w.WriteHeader(http.StatusNoContent)
	})
}
