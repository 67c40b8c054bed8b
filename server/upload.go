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

// ingest parses and checks every recording of an upload and stores them
// all, or nothing. Problems with the files come back as problems (nothing
// stored); err is for the server's own failures.
func ingest(ctx context.Context, d Deps, owner int64, u *upload, tpl *template.Template) ([]storedRecording, []uploadProblem, error) {
	loaded, problems := loadSpooled(u.files, d.MaxUpload*4)
	if len(problems) > 0 {
		return nil, problems, nil
	}
	recs, problems := readRecordings(loaded, tpl)
	if len(problems) > 0 {
		return nil, problems, nil
	}
	trusted, _ := strconv.ParseBool(u.fields["trusted_only"])
	trusted = trusted || u.fields["trusted_only"] == "on"
	tplName := ""
	if tpl != nil {
		tplName = tpl.Name
	}
	var stored []storedRecording
	for _, rc := range recs {
		name := rc.name
		if n := strings.TrimSpace(u.fields["name"]); n != "" && len(recs) == 1 {
			name = n
		}
		ds, err := d.Store.CreateDataset(ctx, store.Dataset{OwnerID: owner, Name: truncate(name, 200), TrustedOnly: trusted}, rc.rec)
		if err == nil {
			stored = append(stored, storedRecording{recording: rc, dataset: ds})
			err = d.Store.SetDatasetMeta(ctx, ds.ID, store.DatasetMeta{Format: rc.format, Template: tplName, SizeBytes: rc.size})
		}
		if err != nil {
			for _, s := range stored {
				d.Store.DeleteDataset(ctx, s.dataset.ID)
			}
			return nil, nil, fmt.Errorf("store recording %s (nothing of the upload was kept): %w", rc.name, err)
		}
	}
	return stored, nil, nil
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
			rec, rc.warnings = clean, vs
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
