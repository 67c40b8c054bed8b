package server

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/formats"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
	"github.com/pulsegrid/pulsegrid/algorithms/template"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Uploads arrive the same way through the API and the portal: the request
// streams to temporary files (the body is never held in memory as a
// whole), .zip archives are expanded, the files are grouped into
// recordings, every recording is parsed and checked against the chosen
// template before any is stored, and a failure while storing removes the
// ones already stored, so a rejected upload leaves nothing behind.

// maxFiles bounds the files of one upload (a multi-segment WFDB record can
// have many).
const maxFiles = 1000

// uploadProblem is one problem of an upload, as JSON for the API and upload.js.
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

// upload is one multipart upload request: its files, spooled to disk, and
// its other form fields.
type upload struct {
	files  []spooled
	fields map[string]string
}

// remove deletes the spooled files.
func (u *upload) remove() {
	for _, f := range u.files {
		os.Remove(f.path)
	}
}

// spoolDir is where uploads are written while they arrive: under the data
// directory, so that a large upload does not fill a small /tmp.
func spoolDir(d Deps) (string, error) {
	if d.Portal.DataDir == "" {
		return os.TempDir(), nil
	}
	dir := filepath.Join(d.Portal.DataDir, "tmp")
	return dir, os.MkdirAll(dir, 0o700)
}

// receiveUpload streams a multipart upload (files in the field "files")
// to temporary files. Its errors are *Error values a person can act on.
// The caller removes the files.
func receiveUpload(w http.ResponseWriter, r *http.Request, d Deps) (*upload, error) {
	dir, err := spoolDir(d)
	if err != nil {
		return nil, err
	}
	r.Body = http.MaxBytesReader(w, r.Body, d.MaxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, Errorf(EInvalid, "the upload must be multipart/form-data with the recording's files in the field \"files\" (e.g. curl -F files=@100.hea -F files=@100.dat): %v", err)
	}
	u := &upload{fields: map[string]string{}}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			u.remove()
			return nil, uploadError(err, d.MaxUpload)
		}
		switch part.FormName() {
		case "files", "file":
			if part.FileName() == "" {
				part.Close()
				continue
			}
			f, err := spool(dir, part)
			if f.path != "" {
				u.files = append(u.files, f)
			}
			if err != nil {
				u.remove()
				return nil, uploadError(err, d.MaxUpload)
			}
		default:
			b, err := io.ReadAll(io.LimitReader(part, 1024))
			part.Close()
			if err != nil {
				u.remove()
				return nil, uploadError(err, d.MaxUpload)
			}
			u.fields[part.FormName()] = string(b)
		}
		if len(u.files) > maxFiles {
			u.remove()
			return nil, Errorf(ETooLarge, "more than %d files in one upload", maxFiles)
		}
	}
	if len(u.files) == 0 {
		return nil, Errorf(EInvalid, "no files: send the recording's files in the multipart field \"files\": a WFDB record (.hea with its .dat, optionally .atr), an .edf, a .csv, or a .zip of them")
	}
	return u, nil
}

func uploadError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return Errorf(ETooLarge, "upload exceeds the limit of %d MiB (serve --max-upload)", limit>>20)
	}
	return Errorf(EInvalid, "reading the upload: %v", err)
}

// lookupTemplate finds an ingest template by name: built-in first, then
// the ones administrators wrote.
func lookupTemplate(ctx context.Context, st store.Store, name string) (*template.Template, error) {
	if t, err := template.Builtin(name); err == nil {
		return t, nil
	}
	it, err := st.IngestTemplateByName(ctx, name)
	if err != nil {
		return nil, Errorf(EInvalid, "template: no template named %q", name)
	}
	t, err := template.Parse([]byte(it.JSON))
	if err != nil {
		return nil, Errorf(EInvalid, "template %q: %v", name, err)
	}
	return t, nil
}

// storedRecording is a recording of an upload and the dataset it became.
type storedRecording struct {
	recording
	dataset store.Dataset
}

// ingest reads and checks every recording of an upload and stores them
// all, or nothing. Each recording streams from its mapped files through
// the template into the store block by block, so a 24-hour recording is
// never whole in memory. The datasets become visible together once every
// recording is stored (PublishDatasets); before that a crash leaves
// nothing that the next start does not remove. Problems with the files
// come back as problems (nothing stored: recordings stored before a bad one
// is found are removed, and the rest are still read to report their
// problems too); err is for the server's own failures.
func ingest(ctx context.Context, d Deps, owner int64, u *upload, tpl *template.Template) ([]storedRecording, []uploadProblem, error) {
	dir, err := spoolDir(d)
	if err != nil {
		return nil, nil, err
	}
	files, release, problems := openSpooled(u.files, d.MaxUpload*4, dir)
	defer release()
	if len(problems) > 0 {
		return nil, problems, nil
	}
	trusted, _ := strconv.ParseBool(u.fields["trusted_only"])
	trusted = trusted || u.fields["trusted_only"] == "on"
	groups := groupFiles(files)
	var stored []storedRecording
	undo := func() {
		for _, s := range stored {
			d.Store.DeleteDataset(context.WithoutCancel(ctx), s.dataset.ID)
		}
	}
	for _, g := range groups {
		rc, ds, probs, err := ingestRecording(ctx, d, g, tpl, len(problems) == 0, func(rc *recording) store.Dataset {
			given := ""
			if len(groups) == 1 {
				given = u.fields["name"]
			}
			name, warn := datasetName(ctx, d.Store, owner, given, rc.name, time.Now()) // naming.go
			if warn != nil {
				rc.warnings = append(rc.warnings, *warn)
			}
			return store.Dataset{OwnerID: owner, Name: truncate(name, 200), TrustedOnly: trusted}
		})
		if err != nil {
			undo()
			return nil, nil, fmt.Errorf("store recording %s (nothing of the upload was kept): %w", rc.name, err)
		}
		problems = append(problems, probs...)
		if ds != nil {
			stored = append(stored, storedRecording{recording: rc, dataset: *ds})
		}
	}
	if len(problems) > 0 {
		undo()
		return nil, problems, nil
	}
	ids := make([]int64, len(stored))
	for i, s := range stored {
		ids[i] = s.dataset.ID
	}
	if err := d.Store.PublishDatasets(ctx, ids); err != nil {
		undo()
		return nil, nil, fmt.Errorf("publish the upload's datasets (nothing was kept): %w", err)
	}
	return stored, nil, nil
}

// ingestRecording reads one recording, checks it against the template and,
// when keep is set and nothing is wrong, stores it as the dataset newDataset
// describes. A recording with problems leaves nothing in the store.
func ingestRecording(ctx context.Context, d Deps, g []formats.File, tpl *template.Template, keep bool, newDataset func(*recording) store.Dataset) (recording, *store.Dataset, []uploadProblem, error) {
	first := g[0].Name
	rc := recording{name: strings.TrimSuffix(first, filepath.Ext(first)), files: g}
	for _, f := range g {
		rc.size += int64(len(f.Data))
	}
	if k, err := formats.Detect(g[0]); err == nil {
		rc.format = string(k)
	}
	opt := formats.Options{}
	if tpl != nil {
		opt.CSV = tpl.CSVOptions()
	}
	st, err := formats.Open(g, opt)
	if err != nil {
		return rc, nil, problemsOf(first, err), nil
	}
	rec := st.Recording
	if rec.Identity.Record != "" {
		rc.name = rec.Identity.Record
	}
	var clean *template.Cleaner
	channels := rec.Signal.Channels
	if tpl != nil {
		clean = tpl.Begin(rec)
		channels = clean.Channels()
		if clean.Rejected() {
			_, vs, err := clean.Finish()
			return rc, nil, templateProblems(first, tpl, vs, err), nil
		}
	}
	if err := (&signal.Signal{Channels: channels}).Validate(); err != nil {
		return rc, nil, problemsOf(first, err), nil
	}
	var w store.DatasetWriter
	if keep {
		if w, err = d.Store.BeginDataset(ctx, newDataset(&rc), channels); err != nil {
			return rc, nil, nil, err
		}
	}
	fail := func(probs []uploadProblem, err error) (recording, *store.Dataset, []uploadProblem, error) {
		if w != nil {
			w.Abort()
		}
		return rc, nil, probs, err
	}
	pos := make([]int64, len(channels))
	for {
		blocks, err := st.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(problemsOf(first, err), nil)
		}
		if clean != nil {
			blocks = clean.Clean(blocks)
		}
		for i, b := range blocks {
			if err := signal.CheckSamples(i, channels[i].Name, pos[i], b); err != nil {
				return fail(problemsOf(first, err), nil)
			}
			pos[i] += int64(len(b))
		}
		if w != nil {
			if err := w.Write(blocks); err != nil {
				return fail(nil, err)
			}
		}
	}
	if clean != nil {
		cleaned, vs, err := clean.Finish()
		if err != nil {
			return fail(templateProblems(first, tpl, vs, err), nil)
		}
		rec, rc.warnings = cleaned, append(rc.warnings, vs...)
	}
	rc.rec = rec
	if w == nil {
		return rc, nil, nil, nil
	}
	ds, err := w.Commit(rec.Identity, rec.Annotations, rec.AnnotationRate)
	if err == nil {
		tplName := ""
		if tpl != nil {
			tplName = tpl.Name
		}
		err = d.Store.SetDatasetMeta(ctx, ds.ID, store.DatasetMeta{Format: rc.format, Template: tplName, SizeBytes: rc.size})
	}
	if err != nil {
		d.Store.DeleteDataset(context.WithoutCancel(ctx), w.ID())
		return rc, nil, nil, err
	}
	return rc, &ds, nil, nil
}

// templateProblems lists the violations that made a template reject a
// recording.
func templateProblems(file string, tpl *template.Template, vs []template.Violation, err error) []uploadProblem {
	var problems []uploadProblem
	for _, v := range vs {
		if v.Action == template.ActionReject {
			problems = append(problems, uploadProblem{File: file, Message: fmt.Sprintf("template %s: %s", tpl.Name, v.Message)})
		}
	}
	if len(problems) == 0 {
		problems = append(problems, uploadProblem{File: file, Message: fmt.Sprintf("template %s rejected the recording: %v", tpl.Name, err)})
	}
	return problems
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

// openSpooled maps the spooled files into memory (not onto the heap:
// mapFile), expanding .zip archives into more spooled files first (at most
// maxExpanded bytes uncompressed in all). release unmaps and removes what
// it made.
func openSpooled(files []spooled, maxExpanded int64, dir string) (out []formats.File, release func(), problems []uploadProblem) {
	var undo []func()
	release = func() {
		for _, f := range undo {
			f()
		}
	}
	open := func(name, path string) {
		b, unmap, err := mapFile(path)
		if err != nil {
			problems = append(problems, uploadProblem{File: name, Message: err.Error()})
			return
		}
		undo = append(undo, unmap)
		out = append(out, formats.File{Name: name, Data: b})
	}
	var expanded int64
	for _, f := range files {
		if !strings.EqualFold(filepath.Ext(f.name), ".zip") {
			open(f.name, f.path)
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
			tmp, err := extract(zf, dir)
			if tmp != "" {
				undo = append(undo, func() { os.Remove(tmp) })
			}
			if err != nil {
				problems = append(problems, uploadProblem{File: f.name + ":" + zf.Name, Message: err.Error()})
				continue
			}
			open(base, tmp)
		}
		zr.Close()
	}
	return out, release, problems
}

// extract copies one archive member to a spooled file, no longer than the
// archive says it is.
func extract(zf *zip.File, dir string) (string, error) {
	rc, err := zf.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "unzip-*")
	if err != nil {
		return "", err
	}
	n, err := io.Copy(f, io.LimitReader(rc, int64(zf.UncompressedSize64)+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > int64(zf.UncompressedSize64) {
		err = fmt.Errorf("longer than the %d bytes the archive declares", zf.UncompressedSize64)
	}
	return f.Name(), err
}

// recording is one recording of an upload; rec has no samples (they went
// to the store as they were read).
type recording struct {
	name   string
	format string
	size   int64
	files  []formats.File
	rec    *signal.Recording
	// warnings are the template's violations that did not reject it.
	warnings []template.Violation
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
		if _, err := formats.Open(wfdbFiles, formats.Options{}); err != nil {
			return append(groups, byStem...)
		}
	}
	return append(groups, wfdbFiles)
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
