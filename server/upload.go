package server

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
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

// upload is one multipart upload request: its files, spooled to disk, and
// its other form fields.
type upload struct {
	files  []spooled
	fields map[string]string
	// disk is what the upload holds of the server's shared upload disk
	// (diskpool.go): its spooled files and, once ingest expands them, its
	// archives' members. remove gives it back.
	disk *diskLease
}

// remove deletes the spooled files and gives their disk back. ingest has
// removed the expanded archive members by then.
func (u *upload) remove() {
	for _, f := range u.files {
		os.Remove(f.path)
	}
	u.disk.done()
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
	if r.ContentLength > d.MaxUpload {
		return nil, Errorf(ETooLarge, "upload exceeds the limit of %d MiB (serve --max-upload)", d.MaxUpload>>20)
	}
	r.Body = http.MaxBytesReader(w, r.Body, d.MaxUpload)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, Errorf(EInvalid, "the upload must be multipart/form-data with the recording's files in the field \"files\" (e.g. curl -F files=@100.hea -F files=@100.dat): %v", err)
	}
	// The whole stated length is reserved before the body is read, so that
	// parallel uploads are admitted or refused at once (diskpool.go).
	lease, err := d.disk.admit(r.ContentLength)
	if err != nil {
		return nil, err
	}
	u := &upload{fields: map[string]string{}, disk: lease}
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
			f, err := spool(dir, part, u.disk)
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
	u.disk.received()
	if len(u.files) == 0 {
		u.remove()
		return nil, Errorf(EInvalid, "no files: send the recording's files in the multipart field \"files\": a WFDB record (.hea with its .dat, optionally .atr), an .edf, a .csv, or a .zip of them")
	}
	return u, nil
}

func uploadError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	var e *Error
	if errors.As(err, &e) {
		return e // the shared disk budget is full (diskpool.go)
	}
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
	budget := 2 * d.MaxUpload
	for _, f := range u.files {
		budget -= f.size
	}
	files, release, problems := openSpooled(u.files, budget, dir, u.disk)
	defer release()
	if err := u.disk.refusal(); err != nil {
		return nil, nil, err // 413: the shared disk is full, not the archive's fault
	}
	if len(problems) > 0 {
		return nil, problems, nil
	}
	if len(files) == 0 {
		// openSpooled names an archive with nothing in it; this guards both
		// handlers, which answer with the first recording stored.
		return nil, []uploadProblem{{Message: "the upload holds no recording files"}}, nil
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
	if k, errs := formats.DetectAll(g); errs[0] == nil {
		rc.format = string(k[0])
	}
	opt := formats.Options{}
	if tpl != nil {
		opt.CSV = tpl.CSVOptions()
	}
	defer releaseWhileReading(g)()
	st, err := formats.Open(g, opt)
	if err != nil {
		return rc, nil, problemsOf(g, err), nil
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
		return rc, nil, problemsOf(g, err), nil
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
			return fail(problemsOf(g, err), nil)
		}
		if clean != nil {
			blocks = clean.Clean(blocks)
		}
		for i, b := range blocks {
			if err := signal.CheckSamples(i, channels[i].Name, pos[i], b); err != nil {
				return fail(problemsOf(g, err), nil)
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
	// The annotations go to the store with the dataset; an upload of many
	// recordings keeps only their count until it answers.
	rc.rec, rc.references = rec, len(rec.Annotations)
	anns := rec.Annotations
	rec.Annotations = nil
	if w == nil {
		return rc, nil, nil, nil
	}
	ds, err := w.Commit(rec.Identity, anns, rec.AnnotationRate)
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

// releaseWhileReading drops the pages of the mapped files from the process
// every 50 ms until stop is called: the readers go through a file once or
// twice (Open checks a CSV log's every row and a WFDB file's checksums),
// and without it every page they touched would stay resident, so the
// server's memory would grow with the length of the upload.
func releaseWhileReading(files []formats.File) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, f := range files {
					releasePages(f.Data)
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
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
func spool(dir string, part io.ReadCloser, disk *diskLease) (spooled, error) {
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
	s.size, err = io.Copy(leaseWriter{w: f, lease: disk, name: name}, part)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return s, err
}

// Limits of .zip expansion. An upload may use at most 2 × --max-upload of
// disk in all: its spooled files plus what its archives expand to, counted
// as the bytes are written (not from the sizes an archive declares, which
// a hostile one can get wrong).
const (
	// maxZipEntries bounds the members of one uploaded .zip.
	maxZipEntries = 2000
	// maxZipDirectory bounds an archive's central directory, which
	// archive/zip reads whole into memory before anything can be checked.
	maxZipDirectory = 4 << 20
	// maxZipRatio is the largest expansion (uncompressed ÷ compressed) of a
	// member beyond its first zipRatioFloor bytes: sampled signals and CSV
	// text deflate 2- to 20-fold, a run of zeros 1000-fold.
	maxZipRatio   = 200
	zipRatioFloor = 1 << 20
)

// openSpooled maps the spooled files into memory (not onto the heap:
// mapFile), expanding .zip archives into more spooled files first, which
// may write at most diskBudget bytes in all. release unmaps and removes
// what it made.
func openSpooled(files []spooled, diskBudget int64, dir string, disk *diskLease) (out []formats.File, release func(), problems []uploadProblem) {
	var undo []func()
	release = func() {
		for _, f := range undo {
			f()
		}
	}
	from := map[string]string{} // file name → where it came from, for duplicates
	open := func(name, origin, path string) {
		if prev, dup := from[name]; dup {
			problems = append(problems, uploadProblem{File: name, Message: fmt.Sprintf("%s and %s have the same name: a recording's files are matched by name, so each name may occur once", prev, origin)})
			return
		}
		from[name] = origin
		b, unmap, err := mapFile(path)
		if err != nil {
			problems = append(problems, uploadProblem{File: name, Message: err.Error()})
			return
		}
		undo = append(undo, unmap)
		out = append(out, formats.File{Name: name, Data: b})
	}
	budget := diskBudget
	for _, f := range files {
		if !strings.EqualFold(filepath.Ext(f.name), ".zip") {
			open(f.name, "the uploaded file", f.path)
			continue
		}
		members, tmps, probs := expandZip(f, dir, &budget, disk)
		for _, tmp := range tmps {
			undo = append(undo, func() { os.Remove(tmp) })
		}
		for _, m := range members {
			open(path.Base(m.name), f.name+" member "+m.name, m.path)
		}
		problems = append(problems, probs...)
		if budget < 0 {
			break // nothing more may be written
		}
	}
	return out, release, problems
}

// expandZip extracts the members of an uploaded archive to spooled files:
// members are named as in the archive; tmps lists every file it wrote, for
// removal. Directories, hidden files and macOS resource forks are skipped;
// an archive with nothing else is a problem, as are member names that
// leave the archive, links, archives inside the archive, and members that
// expand beyond *budget (which is then negative) or maxZipRatio.
func expandZip(f spooled, dir string, budget *int64, disk *diskLease) (members []spooled, tmps []string, problems []uploadProblem) {
	problem := func(format string, args ...any) {
		problems = append(problems, uploadProblem{File: f.name, Message: fmt.Sprintf(format, args...)})
	}
	if err := checkZipDirectory(f.path); err != nil {
		problem("%v", err)
		return nil, nil, problems
	}
	zr, err := zip.OpenReader(f.path)
	if err != nil {
		problem("not a readable .zip archive: %v", err)
		return nil, nil, problems
	}
	defer zr.Close()
	kept, skipped := 0, 0
	// What the whole archive may expand to: a thousand members of a few
	// kilobytes each can hide as many bombs.
	archive := zipRatioFloor + maxZipRatio*f.size
	for _, zf := range zr.File {
		name := strings.ReplaceAll(zf.Name, "\\", "/")
		base := path.Base(name)
		switch {
		case zf.FileInfo().IsDir() || strings.HasSuffix(name, "/"):
			skipped++
			continue
		case strings.HasPrefix(base, ".") || strings.HasPrefix(name, "__MACOSX/"):
			skipped++ // Finder's resource forks and hidden files
			continue
		case path.IsAbs(name) || slices.Contains(strings.Split(name, "/"), "..") || strings.Contains(name, ":"):
			problem("member %q: a name that leaves the archive (absolute, with a drive letter or \"..\") is refused", zf.Name)
			continue
		case zf.Mode()&os.ModeSymlink != 0:
			problem("member %s is a symbolic link: archive the file itself", zf.Name)
			continue
		case strings.EqualFold(path.Ext(base), ".zip"):
			problem("member %s is itself a .zip archive: archives inside archives are not expanded; put the recording's files in one archive", zf.Name)
			continue
		}
		kept++
		if zf.UncompressedSize64 > uint64(max(*budget, 0)) {
			problem("member %s declares %d bytes uncompressed, more than the %d MiB left of the upload's disk budget (2 × serve --max-upload)", zf.Name, zf.UncompressedSize64, max(*budget, 0)>>20)
			*budget = -1
			return members, tmps, problems
		}
		tmp, err := extract(zf, dir, budget, &archive, disk)
		if tmp != "" {
			tmps = append(tmps, tmp)
		}
		if err != nil {
			// One bad member condemns the archive: reading on would
			// only spend more disk on a file that is refused anyway.
			problem("member %s: %v", zf.Name, err)
			return members, tmps, problems
		}
		members = append(members, spooled{name: name, path: tmp})
	}
	if kept == 0 && len(problems) == 0 {
		if skipped == 0 {
			problem("the archive is empty: zip the recording's files (a .hea with its .dat, an .edf or a .csv)")
		} else {
			problem("the archive holds no recording files: its %d members are all directories or hidden files (names starting with \".\", __MACOSX/), which are skipped", skipped)
		}
	}
	return members, tmps, problems
}

// extract copies one archive member to a spooled file, counting what it
// writes against *budget and stopping at once when the member is longer
// than it declares, than the budget, or expands more than maxZipRatio-fold.
func extract(zf *zip.File, dir string, budget, archive *int64, disk *diskLease) (string, error) {
	rc, err := zf.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "unzip-*")
	if err != nil {
		return "", err
	}
	lw := &limitedWriter{w: leaseWriter{w: f, lease: disk, name: zf.Name}, declared: int64(zf.UncompressedSize64), compressed: int64(zf.CompressedSize64), budget: budget, archive: archive}
	_, err = io.Copy(lw, rc)
	switch {
	case lw.err != nil:
		err = lw.err
	case errors.Is(err, zip.ErrFormat):
		err = fmt.Errorf("damaged: its data does not match the %d bytes the archive declares", zf.UncompressedSize64)
	case errors.Is(err, zip.ErrChecksum):
		err = errors.New("damaged: its CRC-32 does not match its data")
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return f.Name(), err
}

// limitedWriter is extract's file: it refuses the write that would break a
// limit before that write reaches the disk.
type limitedWriter struct {
	w          io.Writer
	n          int64 // written so far
	declared   int64 // the member's uncompressed size, as the archive says
	compressed int64
	budget     *int64 // the upload's disk left
	archive    *int64 // what the archive may still expand to
	err        error
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	n := l.n + int64(len(p))
	switch {
	case n > l.declared:
		l.err = fmt.Errorf("longer than the %d bytes the archive declares", l.declared)
	case int64(len(p)) > *l.budget:
		*l.budget = -1
		l.err = errors.New("the upload expands beyond its disk budget (2 × serve --max-upload)")
	case n > zipRatioFloor && n > maxZipRatio*max(l.compressed, 1):
		l.err = fmt.Errorf("expands more than %d-fold (%d bytes from %d compressed), which no recording does: refused as a decompression bomb", maxZipRatio, n, l.compressed)
	case int64(len(p)) > *l.archive:
		l.err = fmt.Errorf("the archive's members expand to more than %d times its size, which no recording does: refused as a decompression bomb", maxZipRatio)
	}
	if l.err != nil {
		return 0, l.err
	}
	l.n = n
	*l.budget -= int64(len(p))
	*l.archive -= int64(len(p))
	return l.w.Write(p)
}

// checkZipDirectory reads an archive's end-of-central-directory record and
// refuses an archive whose directory (which archive/zip reads whole into
// memory) has more than maxZipEntries entries or maxZipDirectory bytes.
func checkZipDirectory(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	tail := min(fi.Size(), 20+22+65535) // zip64 locator, the record, its comment
	buf := make([]byte, tail)
	if _, err := f.ReadAt(buf, fi.Size()-tail); err != nil {
		return err
	}
	i := bytes.LastIndex(buf, []byte("PK\x05\x06"))
	if i < 0 || len(buf)-i < 22 {
		return errors.New("not a .zip archive: no end-of-central-directory record")
	}
	entries := uint64(binary.LittleEndian.Uint16(buf[i+10:]))
	size := uint64(binary.LittleEndian.Uint32(buf[i+12:]))
	if i >= 20 && bytes.Equal(buf[i-20:i-16], []byte("PK\x06\x07")) {
		// zip64: the counts are in the end record the locator points at.
		off := int64(binary.LittleEndian.Uint64(buf[i-20+8:]))
		rec := make([]byte, 56)
		if _, err := f.ReadAt(rec, off); err != nil || !bytes.Equal(rec[:4], []byte("PK\x06\x06")) {
			return errors.New("not a readable .zip archive: bad zip64 end record")
		}
		entries = binary.LittleEndian.Uint64(rec[32:])
		size = binary.LittleEndian.Uint64(rec[40:])
	}
	if entries > maxZipEntries {
		return fmt.Errorf("%d members; at most %d per archive", entries, maxZipEntries)
	}
	if size > maxZipDirectory {
		return fmt.Errorf("a central directory of %d bytes; at most %d MiB per archive", size, maxZipDirectory>>20)
	}
	return nil
}

// recording is one recording of an upload; rec has no samples (they went
// to the store as they were read).
type recording struct {
	name   string
	format string
	size   int64
	files  []formats.File
	rec    *signal.Recording // without its annotations, once stored
	// references is how many annotations the recording came with.
	references int
	// warnings are the template's violations that did not reject it.
	warnings []template.Violation
}

// groupFiles splits an upload into recordings: every CSV and EDF file is
// one; WFDB files form one record if they read as one (a multi-segment
// record has several headers), otherwise one record per file stem.
func groupFiles(files []formats.File) [][]formats.File {
	var groups [][]formats.File
	var wfdbFiles []formats.File
	kinds, errs := formats.DetectAll(files)
	for i, f := range files {
		if errs[i] == nil && kinds[i] == formats.KindWFDB {
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

// problemsOf splits a joined error into one problem per line. A reader's
// message starts with the file it is about (one of files, else the first
// is named) and often "line N" or "byte N": the file and line become the
// problem's fields and leave the message, so that each is said once.
func problemsOf(files []formats.File, err error) []uploadProblem {
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
			out = append(out, splitProblem(files, msg))
		}
	}
	return out
}

// splitProblem takes "FILE: line N: what", "FILE line N: what", "FILE: line
// N, column C: what" or "FILE byte N: what" apart.
func splitProblem(files []formats.File, msg string) uploadProblem {
	p := uploadProblem{File: files[0].Name, Message: msg}
	for _, f := range files {
		if rest, ok := strings.CutPrefix(msg, f.Name); ok && (strings.HasPrefix(rest, ": ") || strings.HasPrefix(rest, " line ") || strings.HasPrefix(rest, " byte ")) {
			p.File = f.Name
			msg = strings.TrimPrefix(strings.TrimPrefix(rest, ":"), " ")
			break
		}
	}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		end := 0
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		if n, err := strconv.Atoi(rest[:end]); err == nil && end < len(rest) && (rest[end] == ':' || rest[end] == ',') {
			p.Line = n
			msg = strings.TrimPrefix(strings.TrimPrefix(rest[end:], ":"), " ")
			if strings.HasPrefix(msg, ",") {
				msg = strings.TrimSpace(msg[1:])
			}
		}
	}
	p.Message = msg
	return p
}

// String is the problem in one line: "FILE, line N: what".
func (p uploadProblem) String() string {
	switch {
	case p.File == "":
		return p.Message
	case p.Line > 0:
		return fmt.Sprintf("%s, line %d: %s", p.File, p.Line, p.Message)
	}
	return p.File + ": " + p.Message
}

// summary is the one message an answer with problems leads with.
func summary(problems []uploadProblem) string {
	msg := problems[0].String()
	if len(problems) > 1 {
		msg = fmt.Sprintf("%s (and %d more problems; nothing was stored)", msg, len(problems)-1)
	}
	return msg
}
