package server

import (
	"archive/zip"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/formats"
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

// lookupTemplate finds an ingest template by name: built-in first.
func (p *portal) lookupTemplate(r *http.Request, name string) (*template.Template, error) {
	if t, err := template.Builtin(name); err == nil {
		return t, nil
	}
	it, err := p.d.Store.IngestTemplateByName(r.Context(), name)
	if err != nil {
		return nil, fmt.Errorf("no template named %q", name)
	}
	return template.Parse([]byte(it.JSON))
}

func (p *portal) handleUploadForm() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusOK, "Upload recordings", "upload", views.Upload(views.UploadPage{Templates: p.templateOptions(r), MaxBytes: p.d.MaxUpload}))
	})
}

// uploadProblem is one problem of an upload, as JSON for upload.js.
type uploadProblem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// spooled is one uploaded file, on disk until it is parsed.
type spooled struct {
	name string
	path string
	size int64
}

// maxZipEntries bounds the members of one uploaded .zip.
const maxZipEntries = 2000

// handleUpload stores one or many recordings. The request streams to
// temporary files (the body is never held in memory as a whole); each file
// is then read once into memory for its parser. Every recording is parsed
// and checked before any is stored, and a failure while storing removes
// the ones already stored, so a rejected upload leaves nothing behind.
func (p *portal) handleUpload() http.Handler {
	return p.auth(false, func(w http.ResponseWriter, r *http.Request) {
		wantJSON := strings.Contains(r.Header.Get("Accept"), "application/json")
		reject := func(status int, problems []uploadProblem) {
			if wantJSON {
				msg := problems[0].Message
				if len(problems) > 1 {
					msg = fmt.Sprintf("%d problems; nothing was stored", len(problems))
				}
				writeJSON(w, status, map[string]any{"error": msg, "problems": problems})
				return
			}
			page := views.UploadPage{Templates: p.templateOptions(r), Template: r.FormValue("template"), MaxBytes: p.d.MaxUpload}
			for _, pr := range problems {
				page.Problems = append(page.Problems, views.Problem{File: pr.File, Line: pr.Line, Message: pr.Message})
			}
			p.render(w, r, status, "Upload recordings", "upload", views.Upload(page))
		}
		dir, err := p.spoolDir()
		if err != nil {
			p.fail(w, r, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, p.d.MaxUpload)
		mr, err := r.MultipartReader()
		if err != nil {
			reject(http.StatusBadRequest, []uploadProblem{{Message: "the upload must be a multipart form with the files in the field \"files\""}})
			return
		}
		var files []spooled
		defer func() {
			for _, f := range files {
				os.Remove(f.path)
			}
		}()
		fields := map[string]string{}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				e := uploadError(err, p.d.MaxUpload)
				reject(statusOf[ErrorCode(e)], []uploadProblem{{Message: e.Error()}})
				return
			}
			switch part.FormName() {
			case "files", "file":
				if part.FileName() == "" {
					part.Close()
					continue
				}
				f, err := spool(dir, part)
				if f.path != "" {
					files = append(files, f)
				}
				if err != nil {
					e := uploadError(err, p.d.MaxUpload)
					reject(statusOf[ErrorCode(e)], []uploadProblem{{File: f.name, Message: e.Error()}})
					return
				}
			default:
				b, _ := io.ReadAll(io.LimitReader(part, 1024))
				fields[part.FormName()] = string(b)
				part.Close()
			}
			if len(files) > maxFiles {
				reject(http.StatusRequestEntityTooLarge, []uploadProblem{{Message: fmt.Sprintf("more than %d files in one upload", maxFiles)}})
				return
			}
		}
		if len(files) == 0 {
			reject(http.StatusBadRequest, []uploadProblem{{Message: "choose the recording's files: a WFDB record (.hea with its .dat, optionally .atr), an .edf, a .csv, or a .zip of them"}})
			return
		}
		var tpl *template.Template
		tplName := strings.TrimSpace(fields["template"])
		if tplName != "" {
			if tpl, err = p.lookupTemplate(r, tplName); err != nil {
				reject(http.StatusBadRequest, []uploadProblem{{Message: "template: " + err.Error()}})
				return
			}
		}
		loaded, problems := loadSpooled(files, p.d.MaxUpload*4)
		if len(problems) > 0 {
			reject(http.StatusUnprocessableEntity, problems)
			return
		}
		recs, problems := readRecordings(loaded, tpl)
		if len(problems) > 0 {
			reject(http.StatusUnprocessableEntity, problems)
			return
		}
		var stored []store.Dataset
		for _, rc := range recs {
			ds, err := p.d.Store.CreateDataset(r.Context(), store.Dataset{OwnerID: userFrom(r).ID, Name: truncate(rc.name, 200), TrustedOnly: fields["trusted_only"] == "on" || fields["trusted_only"] == "true"}, rc.rec)
			if err == nil {
				stored = append(stored, ds)
				err = p.d.Store.SetDatasetMeta(r.Context(), ds.ID, store.DatasetMeta{Format: rc.format, Template: tplName, SizeBytes: rc.size})
			}
			if err != nil {
				for _, s := range stored {
					p.d.Store.DeleteDataset(r.Context(), s.ID)
				}
				p.d.Logger.Error("store upload", "err", err)
				reject(http.StatusInternalServerError, []uploadProblem{{File: rc.name, Message: "the server could not store the recording; nothing was kept (the server log has the details)"}})
				return
			}
		}
		for i, ds := range stored {
			audit(p.d, r, "dataset.upload", fmt.Sprintf("dataset/%d", ds.ID), fmt.Sprintf("%d files, %s", len(recs[i].files), recs[i].format))
		}
		to := "/datasets"
		if len(stored) == 1 {
			to = fmt.Sprintf("/datasets/%d", stored[0].ID)
		}
		if wantJSON {
			body := map[string]any{"url": to, "ids": datasetIDs(stored)}
			if len(stored) == 1 {
				body["id"] = stored[0].ID
			}
			writeJSON(w, http.StatusCreated, body)
			return
		}
		p.flash(r, "success", fmt.Sprintf("%d recording(s) stored.", len(stored)))
		redirect(w, r, to)
	})
}

// spool copies one multipart file to a temporary file.
func spool(dir string, part io.ReadCloser) (spooled, error) {
	defer part.Close()
	fp, ok := part.(interface{ FileName() string })
	name := ""
	if ok {
		name = filepath.Base(strings.ReplaceAll(fp.FileName(), "\\", "/"))
	}
	f, err := os.CreateTemp(dir, "upload-*")
	if err != nil {
		return spooled{name: name}, err
	}
	s := spooled{name: name, path: f.Name()}
	s.size, err = io.Copy(f, part)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return s, err
}

// loadSpooled reads the spooled files into memory, expanding .zip
// archives (at most maxExpanded bytes uncompressed in all).
func loadSpooled(files []spooled, maxExpanded int64) ([]formats.File, []uploadProblem) {
	var out []formats.File
	var problems []uploadProblem
	var expanded int64
	for _, f := range files {
		if !strings.EqualFold(filepath.Ext(f.name), ".zip") {
			b, err := os.ReadFile(f.path)
			if err != nil {
				problems = append(problems, uploadProblem{File: f.name, Message: err.Error()})
				continue
			}
			out = append(out, formats.File{Name: f.name, Data: b})
			continue
		}
		zr, err := zip.OpenReader(f.path)
		if err != nil {
			problems = append(problems, uploadProblem{File: f.name, Message: "not a readable .zip archive: " + err.Error()})
			continue
		}
		if len(zr.File) > maxZipEntries {
			problems = append(problems, uploadProblem{File: f.name, Message: fmt.Sprintf("%d members; at most %d per archive", len(zr.File), maxZipEntries)})
			zr.Close()
			continue
		}
		for _, zf := range zr.File {
			if zf.FileInfo().IsDir() {
				continue
			}
			base := path.Base(zf.Name)
			if strings.HasPrefix(base, ".") || strings.HasPrefix(zf.Name, "__MACOSX/") {
				continue // Finder's resource forks and hidden files
			}
			expanded += int64(zf.UncompressedSize64)
			if expanded > maxExpanded {
				problems = append(problems, uploadProblem{File: f.name, Message: fmt.Sprintf("expands to more than %d MiB", maxExpanded>>20)})
				break
			}
			rc, err := zf.Open()
			if err != nil {
				problems = append(problems, uploadProblem{File: f.name + ":" + zf.Name, Message: err.Error()})
				continue
			}
			b, err := io.ReadAll(io.LimitReader(rc, int64(zf.UncompressedSize64)+1))
			rc.Close()
			if err != nil {
				problems = append(problems, uploadProblem{File: f.name + ":" + zf.Name, Message: err.Error()})
				continue
			}
			out = append(out, formats.File{Name: base, Data: b})
		}
		zr.Close()
	}
	return out, problems
}

// recording is one parsed recording of an upload.
type recording struct {
	name   string
	format string
	size   int64
	files  []formats.File
	rec    *signal.Recording
}

// groupFiles splits an upload into recordings: every CSV and EDF file is
// one; WFDB files form one record if they read as one (a multi-segment
// record has several headers), otherwise one record per file stem.
func groupFiles(files []formats.File) [][]formats.File {
	var groups [][]formats.File
	var wfdbFiles []formats.File
	for _, f := range files {
		k, err := formats.Detect(f)
		if err == nil && k == formats.KindWFDB {
			wfdbFiles = append(wfdbFiles, f)
			continue
		}
		groups = append(groups, []formats.File{f})
	}
	if len(wfdbFiles) == 0 {
		return groups
	}
	stems := map[string]int{}
	var byStem [][]formats.File
	heads := 0
	for _, f := range wfdbFiles {
		stem := strings.TrimSuffix(f.Name, filepath.Ext(f.Name))
		if strings.EqualFold(filepath.Ext(f.Name), ".hea") {
			heads++
		}
		i, ok := stems[stem]
		if !ok {
			i = len(byStem)
			stems[stem] = i
			byStem = append(byStem, nil)
		}
		byStem[i] = append(byStem[i], f)
	}
	if heads > 1 {
		if _, err := formats.Read(wfdbFiles); err != nil {
			return append(groups, byStem...)
		}
	}
	return append(groups, wfdbFiles)
}

// readRecordings parses every recording and applies the template,
// collecting every problem.
func readRecordings(files []formats.File, tpl *template.Template) ([]recording, []uploadProblem) {
	var recs []recording
	var problems []uploadProblem
	opt := formats.Options{}
	if tpl != nil {
		opt.CSV = tpl.CSVOptions()
	}
	for _, g := range groupFiles(files) {
		first := g[0].Name
		rc := recording{name: strings.TrimSuffix(first, filepath.Ext(first)), files: g}
		for _, f := range g {
			rc.size += int64(len(f.Data))
		}
		if k, err := formats.Detect(g[0]); err == nil {
			rc.format = string(k)
		}
		rec, err := formats.ReadWith(g, opt)
		if err != nil {
			problems = append(problems, problemsOf(first, err)...)
			continue
		}
		if rec.Identity.Record != "" {
			rc.name = rec.Identity.Record
		}
		if tpl != nil {
			clean, vs, err := tpl.Apply(rec)
			if err != nil {
				rejected := 0
				for _, v := range vs {
					if v.Action == template.ActionReject {
						problems = append(problems, uploadProblem{File: first, Message: fmt.Sprintf("template %s: %s", tpl.Name, v.Message)})
						rejected++
					}
				}
				if rejected == 0 {
					problems = append(problems, uploadProblem{File: first, Message: fmt.Sprintf("template %s rejected the recording: %v", tpl.Name, err)})
				}
				continue
			}
			rec = clean
		}
		if err := rec.Signal.Validate(); err != nil {
			problems = append(problems, problemsOf(first, err)...)
			continue
		}
		rc.rec = rec
		recs = append(recs, rc)
	}
	return recs, problems
}

// problemsOf splits a joined error into one problem per line and picks up
// "line N" where the reader named it.
func problemsOf(file string, err error) []uploadProblem {
	var out []uploadProblem
	var joined interface{ Unwrap() []error }
	errs := []error{err}
	if errors.As(err, &joined) {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		for _, msg := range strings.Split(e.Error(), "\n") {
			if msg = strings.TrimSpace(msg); msg == "" {
				continue
			}
			out = append(out, uploadProblem{File: file, Line: lineOf(msg), Message: msg})
		}
	}
	return out
}

func lineOf(msg string) int {
	_, rest, ok := strings.Cut(msg, "line ")
	if !ok {
		return 0
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(rest[:end])
	return n
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
			if v != v {
				continue
			}
			if mn != mn || v < mn {
				mn = v
			}
			if mx != mx || v > mx {
				mx = v
			}
		}
		out = append(out, mn, mx)
	}
	return out
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
	sig, err := p.d.Store.DatasetSignal(r.Context(), id)
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
	for _, c := range sig.Channels {
		ci := views.ChannelInfo{Name: c.Name, Unit: c.Unit, Rate: c.Rate, Samples: int64(len(c.Samples)), Min: math.NaN(), Max: math.NaN()}
		for _, v := range c.Samples {
			if v != v {
				ci.Missing++
				continue
			}
			if ci.Min != ci.Min || v < ci.Min {
				ci.Min = v
			}
			if ci.Max != ci.Max || v > ci.Max {
				ci.Max = v
			}
		}
		ci.Preview = decimateMinMax(c.Samples, previewPoints/2)
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
		if _, err := p.dataset(r, id); err != nil {
			p.fail(w, r, err)
			return
		}
		if r.PostFormValue("confirm") != "yes" {
			page, err := p.datasetPage(r, id)
			if err != nil {
				p.fail(w, r, err)
				return
			}
			page.ConfirmError = "Tick the box to confirm that the dataset and everything derived from it should be deleted."
			p.render(w, r, http.StatusUnprocessableEntity, page.Name, "datasets", views.DatasetDetail(page))
			return
		}
		p.d.Grid.Forget(id, 0)
		if err := p.d.Store.DeleteDataset(r.Context(), id); err != nil {
			p.fail(w, r, err)
			return
		}
		audit(p.d, r, "dataset.delete", fmt.Sprintf("dataset/%d", id), "")
		p.flash(r, "success", "The dataset and everything derived from it were deleted.")
		redirect(w, r, "/datasets")
	})
}
