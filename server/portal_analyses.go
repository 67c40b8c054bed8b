package server

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

// analysisRows lists the analyses the request's user may see that keep
// passes, as table rows. owner narrows an admin's view (0: everyone's).
func (p *portal) analysisRows(r *http.Request, keep func(store.Analysis) bool, owner int64) ([]views.AnalysisRow, error) {
	u := userFrom(r)
	if u.Role != store.RoleAdmin {
		owner = u.ID
	}
	as, err := p.d.Store.Analyses(r.Context(), owner)
	if err != nil {
		return nil, err
	}
	var ids []int64
	var kept []store.Analysis
	for _, a := range as {
		if keep == nil || keep(a) {
			kept = append(kept, a)
			ids = append(ids, a.ID)
		}
	}
	batches, err := p.d.Store.Batches(r.Context(), ids)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	var rows []views.AnalysisRow
	for _, a := range kept {
		name, ok := names[a.DatasetID]
		if !ok {
			if ds, err := p.d.Store.Dataset(r.Context(), a.DatasetID); err == nil {
				name = ds.Name
			}
			names[a.DatasetID] = name
		}
		verified, total := progress(p.d, a)
		rows = append(rows, views.AnalysisRow{ID: a.ID, Algorithm: a.Algorithm, DatasetID: a.DatasetID, DatasetName: name, Status: a.Status,
			Priority: a.Priority, ChunksVerified: verified, ChunksTotal: total, Created: a.CreatedAt, BatchID: batches[a.ID]})
	}
	return rows, nil
}

func (p *portal) handleAnalyses() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		rows, err := p.analysisRows(r, nil, 0)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		p.render(w, r, http.StatusOK, "Analyses", "analyses", views.Analyses(views.AnalysesPage{Rows: rows}))
	})
}

func (p *portal) analysisNewPage(r *http.Request) (views.AnalysisNewPage, error) {
	var page views.AnalysisNewPage
	for _, n := range p.d.Registry.Names() {
		a, _ := p.d.Registry.Lookup(n)
		info := a.Describe()
		def := "{}"
		if b, err := a.Params(nil); err == nil && len(b) > 0 {
			def = string(b)
		}
		page.Algorithms = append(page.Algorithms, views.AlgorithmOption{Name: n, Description: info.Description, DefaultParams: def})
	}
	ds, err := p.visibleDatasets(r)
	if err != nil {
		return page, err
	}
	for _, d := range ds {
		page.Datasets = append(page.Datasets, views.Option{Value: strconv.FormatInt(d.ID, 10), Label: d.Name})
		row := make([]string, len(page.Algorithms))
		for j, o := range page.Algorithms {
			if a, err := p.d.Registry.Lookup(o.Name); err == nil {
				row[j] = misfit(a, d)
			}
		}
		page.Fits = append(page.Fits, row)
	}
	return page, nil
}

// misfit says why alg cannot run on ds with its default parameters, or ""
// when it can: the Reason of grid.CanRun, the check Start makes first, so
// the form and the server give the same answer in the same words.
func misfit(alg pipeline.Algorithm, ds store.Dataset) string {
	params, err := alg.Params(nil)
	if err != nil {
		return ""
	}
	var se *grid.SplitError
	if err := grid.CanRun(alg, ds, params); errors.As(err, &se) {
		return se.Reason
	}
	return ""
}

func (p *portal) handleAnalysisNew() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		page, err := p.analysisNewPage(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		page.Selected = r.URL.Query()["dataset"]
		page.Chosen = r.URL.Query()["algorithm"]
		p.render(w, r, http.StatusOK, "New analysis", "analyses", views.AnalysisNew(page))
	})
}

// handleAnalysisStart starts every chosen algorithm on every chosen
// dataset through the grid (the same checks as the API), as one batch.
// Everything is checked before anything starts.
func (p *portal) handleAnalysisStart() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			p.fail(w, r, Errorf(EInvalid, "form: %v", err))
			return
		}
		algs, dsIDs := r.PostForm["algorithm"], r.PostForm["dataset"]
		rawParams := strings.TrimSpace(r.PostFormValue("params"))
		priority := r.PostFormValue("priority")
		var problems []views.Problem
		req := StartRequest{Algorithms: algs, Priority: priority}
		if rawParams != "" && rawParams != "{}" {
			if !json.Valid([]byte(rawParams)) {
				problems = append(problems, views.Problem{Message: "Parameters must be a JSON object, e.g. {\"lead\": \"MLII\"}."})
			} else {
				req.Params = json.RawMessage(rawParams)
			}
		}
		for _, s := range dsIDs {
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				problems = append(problems, views.Problem{Message: fmt.Sprintf("Dataset %q was not found.", s)})
				continue
			}
			req.Datasets = append(req.Datasets, id)
		}
		var out StartOutcome
		var err error
		if len(problems) > 0 {
			err = useCases(p.d).CheckStart(r.Context(), req) // every problem at once; nothing starts
		} else {
			out, err = useCases(p.d).StartAnalyses(r.Context(), req)
		}
		var ps Problems
		if errors.As(err, &ps) {
			for _, e := range ps {
				problems = append(problems, views.Problem{Message: sentence(e.Message)})
			}
		} else if err != nil {
			p.fail(w, r, err)
			return
		}
		if len(problems) > 0 {
			page, err := p.analysisNewPage(r)
			if err != nil {
				p.fail(w, r, err)
				return
			}
			if priority == "" {
				priority = store.PriorityRoutine
			}
			page.Selected, page.Chosen, page.Params, page.Priority, page.Problems = dsIDs, algs, rawParams, priority, problems
			p.render(w, r, http.StatusUnprocessableEntity, "New analysis", "analyses", views.AnalysisNew(page))
			return
		}
		var failed []string
		for _, f := range out.Failed {
			err := f.Err
			if ErrorCode(err) == EInternal {
				p.d.Logger.Error("start analysis", "err", err)
				err = Errorf(EInternal, "internal error")
			}
			failed = append(failed, startProblem(f.Algorithm, f.DatasetName, err))
		}
		switch {
		case len(failed) == 1 && out.Jobs == 1:
			p.flash(r, "error", "The analysis could not start: "+failed[0]+".")
		case len(failed) > 0:
			p.flash(r, "error", fmt.Sprintf("%d of %d analyses could not start: %s.", len(failed), out.Jobs, strings.Join(failed, "; ")))
		}
		switch {
		case len(out.Started) == 0:
			redirect(w, r, "/analyses")
		case out.Batch != 0:
			redirect(w, r, fmt.Sprintf("/batches/%d", out.Batch))
		default:
			redirect(w, r, fmt.Sprintf("/analyses/%d", out.Started[0].ID))
		}
	})
}

func (p *portal) handleAnalysis() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		a, err := p.analysis(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		page := views.AnalysisPage{ID: a.ID, Algorithm: a.Algorithm, DatasetID: a.DatasetID, Status: a.Status, Priority: a.Priority,
			Created: a.CreatedAt, Finished: a.FinishedAt, Error: a.Error, ETASeconds: -1}
		if ds, err := p.d.Store.Dataset(r.Context(), a.DatasetID); err == nil {
			page.DatasetName = ds.Name
		}
		pr := analysisProgress(p.d, a)
		page.ChunksVerified, page.ChunksTotal = pr.ChunksVerified, pr.ChunksTotal
		page.ChunksQueued, page.ChunksRunning, page.ChunksAwaiting = pr.ChunksQueued, pr.ChunksRunning, pr.ChunksAwaitingReplica
		page.VolunteersWorking, page.VolunteersConnected, page.Quorum = pr.VolunteersWorking, pr.VolunteersConnected, pr.Quorum
		page.WaitingFor, page.Stored = pr.WaitingFor, pr.Source == sourceDatabase
		if pr.ETASeconds != nil {
			page.ETASeconds = *pr.ETASeconds
		}
		if b, err := p.d.Store.Batches(r.Context(), []int64{a.ID}); err == nil {
			page.BatchID = b[a.ID]
		}
		p.render(w, r, http.StatusOK, fmt.Sprintf("Analysis #%d", a.ID), "analyses", views.AnalysisProgress(page))
	})
}

func (p *portal) handleAnalysisCancel() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		id, err := p.analysisID(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		a, err := useCases(p.d).CancelAnalysis(r.Context(), id)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		p.flash(r, "info", "The analysis was cancelled.")
		redirect(w, r, fmt.Sprintf("/analyses/%d", a.ID))
	})
}

func (p *portal) handleAnalysisDelete() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		id, err := p.analysisID(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if err := useCases(p.d).DeleteAnalysis(r.Context(), id); err != nil {
			p.fail(w, r, err)
			return
		}
		p.flash(r, "success", fmt.Sprintf("Analysis #%d and its result were deleted.", id))
		redirect(w, r, "/analyses")
	})
}

func (p *portal) handleResult() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		a, err := p.analysis(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if a.Status != store.StatusDone {
			// No result yet (or never, when it failed): the progress page
			// says how far it is, or why it stopped.
			if !a.Finished() {
				p.flash(r, "info", fmt.Sprintf("Analysis #%d has no result yet: it is %s. This page follows it.", a.ID, a.Status))
			}
			http.Redirect(w, r, fmt.Sprintf("/analyses/%d", a.ID), http.StatusSeeOther)
			return
		}
		res, err := decodedResult(r.Context(), p.d, a)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		page, err := p.resultPage(r, a, res)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		audit(p.d, r, "analysis.view", fmt.Sprintf("analysis/%d", a.ID), "result")
		p.render(w, r, http.StatusOK, fmt.Sprintf("Result of analysis #%d", a.ID), "analyses", views.Result(page))
	})
}

// stripWindow reads ?from=&to= (seconds), defaulting to the first 10 s
// and keeping the window within the record and at most 5 minutes wide.
func stripWindow(r *http.Request, duration float64) (from, to float64) {
	from, _ = strconv.ParseFloat(r.URL.Query().Get("from"), 64)
	to, _ = strconv.ParseFloat(r.URL.Query().Get("to"), 64)
	if !(from >= 0) || math.IsInf(from, 0) {
		from = 0
	}
	if !(to > from) || math.IsInf(to, 0) {
		to = from + 10
	}
	to = min(to, from+300)
	if duration > 0 && to > duration {
		w := to - from
		to = duration
		from = max(duration-w, 0)
	}
	return from, to
}

func (p *portal) handleStrip() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		a, err := p.analysis(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		res, err := decodedResult(r.Context(), p.d, a)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		beats, ok := beatsOf(res)
		cl, isClassify := classifyOf(res)
		if !ok && !isClassify {
			p.fail(w, r, Errorf(ENotFound, "%s results have no ECG strip", a.Algorithm))
			return
		}
		ds, err := p.d.Store.Dataset(r.Context(), a.DatasetID)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		var s views.StripView
		if isClassify { // the Holter report's strip (server/holter.go)
			if cl, _, err = correctedClassify(r.Context(), p.d, a, cl); err == nil {
				s, err = p.classifyStrip(r, a, ds, cl)
			}
		} else {
			s, err = p.strip(r, a, ds, beats)
		}
		if err != nil {
			p.fail(w, r, err)
			return
		}
		audit(p.d, r, "analysis.strip", fmt.Sprintf("analysis/%d", a.ID), r.URL.RawQuery)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		views.StripFragment(s).Render(r.Context(), w)
	})
}

// handleDownload is the portal's export: the API's use case (app.go),
// with its errors shown as pages.
func (p *portal) handleDownload() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		id, err := p.analysisID(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		x, err := useCases(p.d).ExportResult(r.Context(), id, r.URL.Query().Get("format"))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if err := writeExport(r.Context(), p.d, w, x.Analysis, x.Result, x.Body, x.Format); err != nil {
			p.fail(w, r, err)
		}
	})
}

// batch loads the analyses of the path's batch that the user may see (in
// the order started); a batch with none of theirs is not found.
func (p *portal) batch(r *http.Request) (int64, []store.Analysis, error) {
	id, err := pathID(r)
	if err != nil {
		return 0, nil, Errorf(ENotFound, "batch not found")
	}
	as, err := p.d.Store.BatchAnalyses(r.Context(), id)
	if err != nil {
		return id, nil, err
	}
	var visible []store.Analysis
	for _, a := range as {
		if canSee(r, a.OwnerID) {
			visible = append(visible, a)
		}
	}
	if len(visible) == 0 {
		return id, nil, Errorf(ENotFound, "batch %d not found", id)
	}
	return id, visible, nil
}

// cohortBatchPage builds the cohort view of a batch: a section per
// algorithm in the order started, or only the one only names (an
// algorithm the batch does not have shows them all). A section whose
// results cannot be read says why; the others are still shown.
func (p *portal) cohortBatchPage(r *http.Request, batchID int64, as []store.Analysis, only string) (views.CohortBatchPage, error) {
	page := views.CohortBatchPage{BatchID: batchID}
	for _, a := range as {
		if !slices.Contains(page.Algorithms, a.Algorithm) {
			page.Algorithms = append(page.Algorithms, a.Algorithm)
		}
	}
	if slices.Contains(page.Algorithms, only) {
		page.Only = only
	}
	for _, alg := range page.Algorithms {
		if page.Only != "" && alg != page.Only {
			continue
		}
		sec := views.CohortSection{CohortPage: views.CohortPage{BatchID: batchID, Algorithm: alg}}
		if a, err := p.d.Registry.Lookup(alg); err == nil {
			sec.Title = a.Describe().Title
		}
		c, err := p.cohortPage(r, batchID, as, alg)
		switch code := ErrorCode(err); {
		case err == nil:
			sec.CohortPage = c
		case code == EInternal:
			return page, err
		default:
			sec.Problem = err.Error()
		}
		page.Sections = append(page.Sections, sec)
	}
	names := map[int64]string{}
	for _, a := range as {
		name, ok := names[a.DatasetID]
		if !ok {
			if ds, err := p.d.Store.Dataset(r.Context(), a.DatasetID); err == nil {
				name = ds.Name
			}
			names[a.DatasetID] = name
		}
		// The figures of the progress JSON, which batch.js then polls.
		pr := analysisProgress(p.d, a)
		ba := views.BatchAnalysis{ID: a.ID, Algorithm: a.Algorithm, DatasetID: a.DatasetID, DatasetName: name, Status: a.Status,
			ChunksVerified: pr.ChunksVerified, ChunksTotal: pr.ChunksTotal, ChunksQueued: pr.ChunksQueued, ChunksRunning: pr.ChunksRunning,
			ChunksAwaiting: pr.ChunksAwaitingReplica, WaitingFor: pr.WaitingFor, ETASeconds: -1, Stored: pr.Source == sourceDatabase}
		if pr.ETASeconds != nil {
			ba.ETASeconds = *pr.ETASeconds
		}
		page.Progress = append(page.Progress, ba)
		page.Quorum = pr.Quorum
	}
	page.CSV = fmt.Sprintf("/batches/%d/download?format=csv", batchID)
	if page.Only != "" {
		page.CSV += "&algorithm=" + url.QueryEscape(page.Only)
	}
	return page, nil
}

func (p *portal) handleCohort() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		id, as, err := p.batch(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		page, err := p.cohortBatchPage(r, id, as, r.URL.Query().Get("algorithm"))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		title := fmt.Sprintf("Batch #%d", id)
		detail := "all"
		if page.Only != "" {
			title += ": " + page.Only
			detail = page.Only
		}
		audit(p.d, r, "batch.view", fmt.Sprintf("batch/%d", id), detail)
		p.render(w, r, http.StatusOK, title, "analyses", views.CohortBatch(page))
	})
}

// handleCohortDownload is the cohort table as CSV, one row per figure of
// a recording and one per aggregate (see cohortCSV); ?algorithm= narrows
// it as it narrows the page. Like every export, it is audited.
func (p *portal) handleCohortDownload() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		id, as, err := p.batch(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if f := r.URL.Query().Get("format"); f != "" && f != "csv" {
			p.fail(w, r, Errorf(EInvalid, "format %q: the cohort table downloads as csv", f))
			return
		}
		page, err := p.cohortBatchPage(r, id, as, r.URL.Query().Get("algorithm"))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		datasets := map[int64]int64{}
		for _, a := range as {
			datasets[a.ID] = a.DatasetID
		}
		body, err := cohortCSV(page, datasets)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		detail := "csv"
		if page.Only != "" {
			detail += " " + page.Only
		}
		audit(p.d, r, "batch.export", fmt.Sprintf("batch/%d", id), detail)
		writeAttachment(w, fmt.Sprintf("batch-%d-cohort.csv", id), "text/csv; charset=utf-8", body)
	})
}

// cohortCSVHeader is the header of the cohort table's CSV. It is long
// ("tidy"): a row per figure of a recording (statistic "value") and a row
// per aggregate across the recordings (statistic mean, median, q1, q3 or
// n, with the recording columns empty), so that every section fits one
// header whatever its recordings.
var cohortCSVHeader = []string{"algorithm", "measure", "unit", "statistic", "analysis_id", "dataset_id", "dataset", "value"}

// cohortCSV writes the sections of page as CSV; datasets maps analysis
// ids to dataset ids. Missing values are empty cells.
func cohortCSV(page views.CohortBatchPage, datasets map[int64]int64) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(cohortCSVHeader)
	num := func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	for _, s := range page.Sections {
		for _, m := range s.Metrics {
			for i, rec := range s.Recordings {
				v := math.NaN()
				if i < len(m.Values) {
					v = m.Values[i]
				}
				w.Write([]string{s.Algorithm, m.Name, m.Unit, "value", strconv.FormatInt(rec.AnalysisID, 10),
					strconv.FormatInt(datasets[rec.AnalysisID], 10), csvText(rec.DatasetName), num(v)})
			}
			agg := views.Aggregate(m.Values)
			for _, st := range []struct {
				name string
				v    float64
			}{{"mean", agg.Mean}, {"median", agg.Median}, {"q1", agg.Q1}, {"q3", agg.Q3}, {"n", float64(agg.N)}} {
				w.Write([]string{s.Algorithm, m.Name, m.Unit, st.name, "", "", "", num(st.v)})
			}
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// csvText keeps a spreadsheet from reading a name typed at upload as a
// formula (a leading =, +, -, @, tab or carriage return).
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// startProblem is why an analysis could not start, said once: a
// grid.SplitError names the algorithm and the recording itself
// ("ecg.beats@1 cannot run on Recording 2026-12-03 #1: no ECG channel…");
// another error is put in the same words around its message.
func startProblem(alg, dataset string, err error) string {
	var se *grid.SplitError
	if errors.As(err, &se) {
		return se.Error()
	}
	return alg + " cannot start on " + dataset + ": " + err.Error()
}
