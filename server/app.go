package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/export"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/algorithms/template"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// This file holds the use cases that change or hand out clinical data:
// each one is written once, with its access check and its audit entry
// inside, and the JSON API (api.go, upload.go) and the portal
// (portal_*.go) both call it. Handlers decode the request, call a use
// case and render what it returns; a refusal is an *Error (errors.go)
// that writeError shows as JSON and portal.fail as a page.
//
// The acting user comes from the context (WithUser), so that a use case
// cannot be called for "nobody": an anonymous context is refused.
//
// The use cases live in package server, not yet in a package of their
// own, because the ingest (upload.go) and result (results.go) code they
// call does; docs/ARCHITECTURE.md says where this is going.

// app is the set of use cases over the server's dependencies.
type app struct{ d Deps }

// useCases returns the use cases over d.
func useCases(d Deps) app { return app{d} }

// actor is the signed-in user of ctx, or an unauthorized error.
func actor(ctx context.Context) (store.User, error) {
	u := userOf(ctx)
	if u.ID == 0 {
		return u, Errorf(EUnauthorized, "sign in first")
	}
	return u, nil
}

// Dataset is the dataset id, if the acting user may see it (its owner or
// an admin). Anything else, missing included, is the same "not found",
// so that ids of other people's data reveal nothing.
func (a app) Dataset(ctx context.Context, id int64) (store.Dataset, error) {
	ds, err := a.d.Store.Dataset(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !mayAccess(ctx, ds.OwnerID)) {
		return store.Dataset{}, Errorf(ENotFound, "dataset %d not found", id)
	}
	return ds, err
}

// Analysis is the analysis id, if the acting user may see it.
func (a app) Analysis(ctx context.Context, id int64) (store.Analysis, error) {
	an, err := a.d.Store.Analysis(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !mayAccess(ctx, an.OwnerID)) {
		return store.Analysis{}, Errorf(ENotFound, "analysis %d not found", id)
	}
	return an, err
}

// audit records that the acting user did action to object.
func (a app) audit(ctx context.Context, action, object, detail string) {
	auditCtx(a.d, ctx, action, object, detail, "")
}

// UploadDatasets stores the recordings of a received upload (upload.go)
// as datasets of the acting user, checked against the named ingest
// template ("" for none), all or nothing. Problems with the files come
// back as problems, with nothing stored; err is a refusal or the server's
// own failure.
func (a app) UploadDatasets(ctx context.Context, u *upload, templateName string) ([]storedRecording, []uploadProblem, error) {
	me, err := actor(ctx)
	if err != nil {
		return nil, nil, err
	}
	var tpl *template.Template
	if name := strings.TrimSpace(templateName); name != "" {
		if tpl, err = lookupTemplate(ctx, a.d.Store, name); err != nil {
			return nil, nil, err
		}
	}
	stored, problems, err := ingest(ctx, a.d, me.ID, u, tpl)
	if err != nil || len(problems) > 0 {
		return nil, problems, err
	}
	for _, s := range stored {
		a.audit(ctx, "dataset.upload", fmt.Sprintf("dataset/%d", s.dataset.ID), fmt.Sprintf("%d files, %s", len(s.files), s.format))
	}
	return stored, nil, nil
}

// DeleteDataset deletes a dataset the acting user may see and everything
// derived from it, in the grid and in the store.
func (a app) DeleteDataset(ctx context.Context, id int64) error {
	if _, err := a.Dataset(ctx, id); err != nil {
		return err
	}
	a.d.work().Forget(id, 0)
	if err := a.d.Store.DeleteDataset(ctx, id); err != nil {
		return err
	}
	a.audit(ctx, "dataset.delete", fmt.Sprintf("dataset/%d", id), "")
	return nil
}

// StartRequest asks for every algorithm to run on every dataset, with the
// same parameters (nil: each algorithm's defaults) and priority ("": routine).
type StartRequest struct {
	Datasets   []int64
	Algorithms []string
	Params     json.RawMessage
	Priority   string
}

// StartFailure is one analysis of a started request that could not start.
type StartFailure struct {
	Algorithm, DatasetName string
	Err                    error
}

// StartOutcome is what StartAnalyses did.
type StartOutcome struct {
	Jobs    int              // analyses asked for
	Started []store.Analysis // in the order asked
	Failed  []StartFailure
	// Batch is the id of the batch the started analyses form (the first
	// one's id) when more than one started; 0 otherwise.
	Batch int64
}

// startJob is one analysis a start request asks for.
type startJob struct {
	alg     pipeline.Algorithm
	params  []byte
	dataset int64
	name    string // the dataset's
}

// CheckStart is StartAnalyses without starting anything: the request's
// Problems, or nil when it would start.
func (a app) CheckStart(ctx context.Context, req StartRequest) error {
	_, _, err := a.planStart(ctx, req)
	return err
}

// planStart checks a start request as a whole (datasets the acting user
// may see, known algorithms, valid parameters, a known priority) and
// lists the analyses it asks for, or refuses it with Problems.
func (a app) planStart(ctx context.Context, req StartRequest) ([]startJob, string, error) {
	if _, err := actor(ctx); err != nil {
		return nil, "", err
	}
	var problems Problems
	if len(req.Algorithms) == 0 {
		problems = append(problems, Errorf(EInvalid, "choose at least one algorithm"))
	}
	if len(req.Datasets) == 0 {
		problems = append(problems, Errorf(EInvalid, "choose at least one dataset"))
	}
	var datasets []store.Dataset
	for _, id := range req.Datasets {
		ds, err := a.Dataset(ctx, id)
		var refused *Error
		if errors.As(err, &refused) {
			problems = append(problems, refused)
			continue
		}
		if err != nil {
			return nil, "", err // the store's failure, not the request's
		}
		datasets = append(datasets, ds)
	}
	var jobs []startJob
	for _, n := range req.Algorithms {
		alg, err := a.d.Registry.Lookup(n)
		if err != nil {
			problems = append(problems, Errorf(EInvalid, "algorithm: %v", err))
			continue
		}
		params, err := alg.Params(req.Params)
		if err != nil {
			problems = append(problems, Errorf(EInvalid, "params for %s: %v", alg.Name(), err))
			continue
		}
		for _, ds := range datasets {
			jobs = append(jobs, startJob{alg, params, ds.ID, ds.Name})
		}
	}
	priority := req.Priority
	if priority == "" {
		priority = store.PriorityRoutine
	}
	if !store.ValidPriority(priority) {
		problems = append(problems, Errorf(EInvalid, "priority %q: want %s", priority, store.PriorityChoices()))
	}
	if len(problems) > 0 {
		return nil, "", problems
	}
	return jobs, priority, nil
}

// StartAnalyses checks the whole request first and refuses it with
// Problems if anything is wrong (CheckStart). Then every analysis is
// started through the grid: an algorithm may not apply to every recording
// of a batch (no ECG lead, no vital sign a rule needs), so the others still
// start and the outcome says which did not. Several started analyses form
// one batch.
func (a app) StartAnalyses(ctx context.Context, req StartRequest) (StartOutcome, error) {
	var out StartOutcome
	jobs, priority, err := a.planStart(ctx, req)
	if err != nil {
		return out, err
	}
	me := userOf(ctx)
	out.Jobs = len(jobs)
	for _, j := range jobs {
		an, err := a.d.work().Start(ctx, store.Analysis{DatasetID: j.dataset, OwnerID: me.ID, Algorithm: j.alg.Name(), Params: j.params, Priority: priority})
		if err != nil {
			out.Failed = append(out.Failed, StartFailure{Algorithm: j.alg.Name(), DatasetName: j.name, Err: err})
			continue
		}
		a.audit(ctx, "analysis.start", fmt.Sprintf("analysis/%d", an.ID), fmt.Sprintf("%s on dataset/%d", an.Algorithm, an.DatasetID))
		out.Started = append(out.Started, an)
	}
	if len(out.Started) > 1 {
		ids := make([]int64, len(out.Started))
		for i, an := range out.Started {
			ids[i] = an.ID
		}
		if err := a.d.Store.SetBatch(ctx, ids[0], ids); err != nil {
			return out, err
		}
		out.Batch = ids[0]
	}
	return out, nil
}

// CancelAnalysis cancels an analysis the acting user may see and returns
// it as it is now.
func (a app) CancelAnalysis(ctx context.Context, id int64) (store.Analysis, error) {
	an, err := a.Analysis(ctx, id)
	if err != nil {
		return an, err
	}
	if err := a.d.work().Cancel(ctx, an.ID); err != nil {
		return an, err
	}
	a.audit(ctx, "analysis.cancel", fmt.Sprintf("analysis/%d", an.ID), "")
	return a.d.Store.Analysis(ctx, an.ID)
}

// DeleteAnalysis deletes an analysis the acting user may see and its result.
func (a app) DeleteAnalysis(ctx context.Context, id int64) error {
	an, err := a.Analysis(ctx, id)
	if err != nil {
		return err
	}
	a.d.work().Forget(0, an.ID)
	if err := a.d.Store.DeleteAnalysis(ctx, an.ID); err != nil {
		return err
	}
	a.audit(ctx, "analysis.delete", fmt.Sprintf("analysis/%d", an.ID), "")
	return nil
}

// ResultExport is a finished result ready to be written in a format
// (writeExport, results.go).
type ResultExport struct {
	Analysis store.Analysis
	Result   pipeline.Result // nil when only the stored JSON can be read
	Body     []byte          // the stored result JSON
	Format   string
}

// ExportResult hands out the result of an analysis the acting user may
// see, in format ("": json), and audits the export. A result this server
// can no longer decode is still handed out as its stored JSON.
func (a app) ExportResult(ctx context.Context, id int64, format string) (ResultExport, error) {
	an, err := a.Analysis(ctx, id)
	if err != nil {
		return ResultExport{}, err
	}
	if format == "" {
		format = "json"
	}
	if !export.Valid(format) {
		return ResultExport{}, Errorf(EInvalid, "format %q: want json, csv or wfdb", format)
	}
	res, body, err := finishedResult(ctx, a.d, an)
	if err != nil && !(format == "json" && body != nil) {
		return ResultExport{}, err
	}
	a.audit(ctx, "analysis.export", fmt.Sprintf("analysis/%d", an.ID), format)
	return ResultExport{Analysis: an, Result: res, Body: body, Format: format}, nil
}

// CorrectReport adds a clinician's correction (a beat or a whole
// morphology family relabelled, an event dismissed or shown again) to the
// Holter report of analysis id, which the acting user may see, and audits
// it. The verified result is never written: the report is recomputed from
// it and the corrections (holter_corrections.go).
func (a app) CorrectReport(ctx context.Context, id int64, req correctionRequest) (store.Correction, error) {
	me, err := actor(ctx)
	if err != nil {
		return store.Correction{}, err
	}
	an, err := a.Analysis(ctx, id)
	if err != nil {
		return store.Correction{}, err
	}
	c, err := addCorrection(ctx, a.d, an, me, req)
	if err != nil {
		return c, err
	}
	a.audit(ctx, "analysis.correct", fmt.Sprintf("analysis/%d", c.AnalysisID), correctionDetail(c))
	return c, nil
}
