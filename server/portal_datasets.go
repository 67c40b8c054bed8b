package server

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/algorithms/template"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/views"
)

// ownerEmails maps user ids to emails for the admin's owner column.
func (p *portal) ownerEmails(r *http.Request) map[int64]string {
	out := map[int64]string{}
	if userFrom(r).Role != store.RoleAdmin {
		return out
	}
	us, err := p.d.Store.Users(r.Context())
	if err != nil {
		return out
	}
	for _, u := range us {
		out[u.ID] = u.Email
	}
	return out
}

// visibleDatasets are the user's datasets, or everyone's for an admin.
func (p *portal) visibleDatasets(r *http.Request) ([]store.Dataset, error) {
	return p.d.Store.Datasets(r.Context(), visibleOwner(r))
}

func datasetIDs(ds []store.Dataset) []int64 {
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	return ids
}

func formatLabel(f string) string {
	switch f {
	case "wfdb":
		return "WFDB"
	case "edf":
		return "EDF"
	case "csv":
		return "CSV"
	}
	return strings.ToUpper(f)
}

func (p *portal) handleDatasets() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		ds, err := p.visibleDatasets(r)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		metas, err := p.d.Store.DatasetMetas(r.Context(), datasetIDs(ds))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		emails := p.ownerEmails(r)
		q := r.URL.Query()
		page := views.DatasetsPage{Query: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort"), Desc: q.Get("dir") == "desc"}
		needle := strings.ToLower(page.Query)
		for _, d := range ds {
			m := metas[d.ID]
			row := views.DatasetRow{ID: d.ID, Name: d.Name, Format: formatLabel(m.Format), Template: m.Template, Channels: len(d.Channels),
				DurationSec: d.Duration, SizeBytes: m.SizeBytes, Uploaded: d.CreatedAt, Owner: emails[d.OwnerID]}
			if needle != "" && !strings.Contains(strings.ToLower(row.Name+" "+row.Format+" "+row.Template+" "+row.Owner), needle) {
				continue
			}
			page.Rows = append(page.Rows, row)
		}
		sortDatasetRows(page.Rows, page.Sort, page.Desc)
		p.render(w, r, http.StatusOK, "Datasets", "datasets", views.Datasets(page))
	})
}

func sortDatasetRows(rows []views.DatasetRow, col string, desc bool) {
	var f func(a, b views.DatasetRow) int
	switch col {
	case "name":
		f = func(a, b views.DatasetRow) int { return cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) }
	case "format":
		f = func(a, b views.DatasetRow) int { return cmp.Compare(a.Format, b.Format) }
	case "duration":
		f = func(a, b views.DatasetRow) int { return cmp.Compare(a.DurationSec, b.DurationSec) }
	case "channels":
		f = func(a, b views.DatasetRow) int { return cmp.Compare(a.Channels, b.Channels) }
	case "size":
		f = func(a, b views.DatasetRow) int { return cmp.Compare(a.SizeBytes, b.SizeBytes) }
	case "uploaded":
		f = func(a, b views.DatasetRow) int { return cmp.Compare(a.ID, b.ID) }
	default:
		return // newest first, as the store lists them
	}
	slices.SortStableFunc(rows, func(a, b views.DatasetRow) int {
		if desc {
			return f(b, a)
		}
		return f(a, b)
	})
}

// templateOptions are the ingest templates an upload may use: the
// built-in ones and the administrators'.
func (p *portal) templateOptions(r *http.Request) []views.Option {
	opts := []views.Option{{Value: "", Label: "None: keep the recording as it is"}}
	for _, t := range template.Builtins() {
		label := t.Name
		if t.Title != "" {
			label = t.Title + " (" + t.Name + ")"
		}
		opts = append(opts, views.Option{Value: t.Name, Label: label})
	}
	if ts, err := p.d.Store.IngestTemplates(r.Context()); err == nil {
		for _, t := range ts {
			opts = append(opts, views.Option{Value: t.Name, Label: t.Name + " (custom)"})
		}
	}
	return opts
}

func (p *portal) handleUploadForm() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusOK, "Upload recordings", "upload", views.Upload(views.UploadPage{Templates: p.templateOptions(r), MaxBytes: p.d.MaxUpload}))
	})
}

// handleUpload stores one or many recordings (see upload.go); it answers
// upload.js with JSON and a browser without JavaScript with a page.
func (p *portal) handleUpload() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		wantJSON := strings.Contains(r.Header.Get("Accept"), "application/json")
		reject := func(status int, problems []uploadProblem) {
			for i := range problems {
				problems[i] = problems[i].saidOnce()
			}
			if wantJSON {
				writeJSON(w, status, map[string]any{"error": summary(problems), "problems": problems})
				return
			}
			page := views.UploadPage{Templates: p.templateOptions(r), Template: r.FormValue("template"), MaxBytes: p.d.MaxUpload}
			for _, pr := range problems {
				page.Problems = append(page.Problems, views.Problem{File: pr.File, Line: pr.Line, Message: pr.Message})
			}
			p.render(w, r, status, "Upload recordings", "upload", views.Upload(page))
		}
		failed := func(err error) {
			if ErrorCode(err) == EInternal {
				p.d.Logger.Error("upload", "err", err)
				reject(http.StatusInternalServerError, []uploadProblem{{Message: "the server could not store the upload; nothing was kept (the server log has the details)"}})
				return
			}
			setRetryAfter(w, err)
			reject(statusOf[ErrorCode(err)], []uploadProblem{{Message: err.Error()}})
		}
		u, err := receiveUpload(w, r, p.d)
		if err != nil {
			failed(err)
			return
		}
		defer u.remove()
		stored, problems, err := useCases(p.d).UploadDatasets(r.Context(), u, u.fields["template"])
		if err != nil {
			failed(err)
			return
		}
		if len(problems) > 0 {
			reject(http.StatusUnprocessableEntity, problems)
			return
		}
		ids := make([]int64, len(stored))
		for i, s := range stored {
			ids[i] = s.dataset.ID
		}
		to := "/datasets"
		if len(stored) == 1 {
			to = fmt.Sprintf("/datasets/%d", stored[0].dataset.ID)
		}
		if note := nameWarnings(stored); note != "" { // naming.go
			p.flash(r, "warning", note)
			if !wantJSON {
				redirect(w, r, to)
				return
			}
		}
		if wantJSON {
			body := map[string]any{"url": to, "ids": ids}
			if len(stored) == 1 {
				body["id"] = stored[0].dataset.ID
			}
			writeJSON(w, http.StatusCreated, body)
			return
		}
		p.flash(r, "success", fmt.Sprintf("%d recording(s) stored.", len(stored)))
		redirect(w, r, to)
	})
}

// previewPoints bounds the samples of a channel preview: min and max of
// each of 400 buckets keeps spikes visible at sparkline size.
const previewPoints = 800

// decimateMinMax returns min/max pairs of len(x)/buckets samples each, so
// a 24-hour channel becomes a few hundred points.
func decimateMinMax(x []float64, buckets int) []float64 {
	if len(x) <= 2*buckets {
		return slices.Clone(x)
	}
	out := make([]float64, 0, 2*buckets)
	for b := range buckets {
		lo, hi := b*len(x)/buckets, (b+1)*len(x)/buckets
		mn, mx := math.NaN(), math.NaN()
		for _, v := range x[lo:hi] {
			if v == v {
				mn, mx = nanMin(mn, v), nanMax(mx, v)
			}
		}
		out = append(out, mn, mx)
	}
	return out
}

// channelInfo is one channel's line on the dataset page. Its figures and
// preview come from the stored block summaries, so a 24-hour channel costs
// as little as a short one; a channel of fewer than two blocks per preview
// point is read whole, so that its preview is as fine as before.
func (p *portal) channelInfo(r *http.Request, id int64, ch int, c store.ChannelInfo) (views.ChannelInfo, error) {
	ci := views.ChannelInfo{Name: c.Name, Unit: c.Unit, Rate: c.Rate, Samples: int64(c.Samples), Min: math.NaN(), Max: math.NaN()}
	sums, err := p.d.Store.DatasetSummaries(r.Context(), id, ch)
	if err != nil {
		return ci, err
	}
	for _, b := range sums {
		ci.Missing += int64(b.Samples - b.Count)
		if b.Count > 0 {
			ci.Min, ci.Max = nanMin(ci.Min, b.Min), nanMax(ci.Max, b.Max)
		}
	}
	if len(sums) < 2*previewPoints {
		samples, err := p.d.Store.DatasetSamples(r.Context(), id, ch, 0, int64(c.Samples))
		ci.Preview = decimateMinMax(samples, previewPoints/2)
		return ci, err
	}
	buckets := previewPoints / 2
	for b := range buckets {
		mn, mx := math.NaN(), math.NaN()
		for _, s := range sums[b*len(sums)/buckets : (b+1)*len(sums)/buckets] {
			if s.Count > 0 {
				mn, mx = nanMin(mn, s.Min), nanMax(mx, s.Max)
			}
		}
		ci.Preview = append(ci.Preview, mn, mx)
	}
	return ci, nil
}

// nanMin and nanMax treat NaN as "none yet".
func nanMin(a, b float64) float64 {
	if a != a || b < a {
		return b
	}
	return a
}

func nanMax(a, b float64) float64 {
	if a != a || b > a {
		return b
	}
	return a
}

func (p *portal) handleDataset() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			p.fail(w, r, Errorf(ENotFound, "dataset not found"))
			return
		}
		page, err := p.datasetPage(r, id)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		audit(p.d, r, "dataset.view", fmt.Sprintf("dataset/%d", id), "")
		p.render(w, r, http.StatusOK, page.Name, "datasets", views.DatasetDetail(page))
	})
}

func (p *portal) datasetPage(r *http.Request, id int64) (views.DatasetPage, error) {
	ds, err := p.dataset(r, id)
	if err != nil {
		return views.DatasetPage{}, err
	}
	metas, err := p.d.Store.DatasetMetas(r.Context(), []int64{id})
	if err != nil {
		return views.DatasetPage{}, err
	}
	_, anns, _, err := p.d.Store.DatasetIdentity(r.Context(), id)
	if err != nil {
		return views.DatasetPage{}, err
	}
	m := metas[id]
	page := views.DatasetPage{ID: id, Name: ds.Name, Format: formatLabel(m.Format), Template: m.Template, Uploaded: ds.CreatedAt,
		DurationSec: ds.Duration, SizeBytes: m.SizeBytes, TrustedOnly: ds.TrustedOnly}
	for _, a := range anns {
		if signal.IsQRS(a.Code) {
			page.Annotations++
		}
	}
	for i, c := range ds.Channels {
		ci, err := p.channelInfo(r, id, i, c)
		if err != nil {
			return page, err
		}
		page.Channels = append(page.Channels, ci)
	}
	rows, err := p.analysisRows(r, func(a store.Analysis) bool { return a.DatasetID == id }, ds.OwnerID)
	page.Analyses = rows
	return page, err
}

func (p *portal) handleDatasetDelete() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			p.fail(w, r, Errorf(ENotFound, "dataset not found"))
			return
		}
		if r.PostFormValue("confirm") != "yes" {
			page, err := p.datasetPage(r, id) // not found unless the user may see it
			if err != nil {
				p.fail(w, r, err)
				return
			}
			page.ConfirmError = "Tick the box to confirm that the dataset and everything derived from it should be deleted."
			p.render(w, r, http.StatusUnprocessableEntity, page.Name, "datasets", views.DatasetDetail(page))
			return
		}
		if err := useCases(p.d).DeleteDataset(r.Context(), id); err != nil {
			p.fail(w, r, err)
			return
		}
		p.flash(r, "success", "The dataset and everything derived from it were deleted.")
		redirect(w, r, "/datasets")
	})
}

// saidOnce drops from the message the file and line the problem already
// names: the readers' errors start with them ("bad.csv: line 3, column
// 2…"), and the page and upload.js write "bad.csv, line 3: " before the
// message.
func (pr uploadProblem) saidOnce() uploadProblem {
	if pr.File != "" {
		pr.Message = strings.TrimPrefix(pr.Message, pr.File+": ")
	}
	if pr.Line > 0 {
		for _, prefix := range []string{fmt.Sprintf("line %d, ", pr.Line), fmt.Sprintf("line %d: ", pr.Line)} {
			pr.Message = strings.TrimPrefix(pr.Message, prefix)
		}
	}
	return pr
}
