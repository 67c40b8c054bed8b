// Package formats turns uploaded files into one signal.Recording, choosing
// the reader by file name extension and content:
//
//   - WFDB: one record header (.hea) with the signal files it names (.dat
//     or any other name the header gives) and optionally its annotations
//     (<record>.atr, or <record>.qrs when there is no .atr). For a
//     multi-segment record, upload the master header, the segment headers
//     and their signal files.
//   - EDF, EDF+ and BDF: one .edf, .rec or .bdf file (or any file that
//     starts with an EDF or BDF header).
//   - CSV logs in pulsegrid's dialect (package csvlog): one .csv or .txt
//     file.
//
// Every uploaded file must be used: a stray file is an error rather than
// something silently ignored, because it usually means the wrong file was
// picked. docs/formats.md describes the formats.
//
// Read and ReadWith return the whole recording. Open returns a Stream
// instead: the recording's headers and annotations at once, its samples
// block by block, so that a 24-hour Holter file need never be held in
// memory as float64 values. WFDB and EDF samples are decoded from the
// files' bytes as the blocks are asked for (File.Data may be a
// memory-mapped file); a CSV log is read twice, once to check it and infer
// its sample rate from all its rows, then row by row onto the grid
// (csvlog.Open). ReadWith is Open with every block collected (for CSV,
// csvlog.Read, which keeps the rows anyway): the same samples and the same
// errors.
package formats

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/csvlog"
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// File is one uploaded file: its name as uploaded (no directories needed)
// and its bytes.
type File struct {
	Name string
	Data []byte
}

// Options tune the readers.
type Options struct {
	// CSV is passed to csvlog.Read (duplicate-time policy and so on).
	CSV csvlog.Options
}

// Kind is a recording format.
type Kind string

// The formats Read understands.
const (
	KindWFDB Kind = "wfdb"
	KindEDF  Kind = "edf"
	KindCSV  Kind = "csv"
)

// Read reads one recording from its files with default options.
func Read(files []File) (*signal.Recording, error) {
	return ReadWith(files, Options{})
}

// ReadWith reads one recording from its files. Identity.FileNames lists
// every file, in the order given. It is Open with every block collected,
// so both give the same recording and the same errors.
func ReadWith(files []File, opt Options) (*signal.Recording, error) {
	s, err := open(files, opt, false)
	if err != nil {
		return nil, err
	}
	return s.collect()
}

// Open parses a recording's headers and annotations and returns a Stream
// that yields its samples block by block. WFDB and EDF samples are decoded
// from the files' bytes as Next asks for them, so File.Data may be a
// memory-mapped file of any length; a CSV log is checked in one reading and
// placed on its grid in a second (csvlog.Open). Every check ReadWith
// makes happens here: an Open that succeeds gives a Stream whose Next does
// not fail. Identity.FileNames lists every file, in the order given.
func Open(files []File, opt Options) (*Stream, error) { return open(files, opt, true) }

// open is Open; streamCSV chooses csvlog's Stream over parsing a CSV log
// whole, which ReadWith does since it keeps the samples anyway (and which
// makes the two an independent check of each other in the tests).
func open(files []File, opt Options, streamCSV bool) (*Stream, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("no files: expected a WFDB record (.hea + .dat), an .edf file or a .csv file")
	}
	byKind := map[Kind][]File{}
	var kinds []Kind
	seen := map[string]bool{}
	detected, errs := DetectAll(files)
	for i, f := range files {
		if f.Name == "" {
			return nil, fmt.Errorf("a file has no name: the name's extension says what format it is")
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("file %s was uploaded twice", f.Name)
		}
		seen[f.Name] = true
		k, err := detected[i], errs[i]
		if err != nil {
			return nil, err
		}
		if len(byKind[k]) == 0 {
			kinds = append(kinds, k)
		}
		byKind[k] = append(byKind[k], f)
	}
	if len(kinds) > 1 {
		return nil, fmt.Errorf("files of different formats (%s and %s): upload one recording at a time",
			byKind[kinds[0]][0].Name, byKind[kinds[1]][0].Name)
	}
	var s *Stream
	var err error
	switch k := kinds[0]; k {
	case KindWFDB:
		s, err = openWFDB(files)
	case KindEDF, KindCSV:
		if len(files) > 1 {
			return nil, fmt.Errorf("%d %s files (%s, %s...): upload one recording at a time", len(files), strings.ToUpper(string(k)), files[0].Name, files[1].Name)
		}
		if k == KindEDF {
			s, err = openEDF(files[0])
		} else if streamCSV {
			s, err = streamCSVLog(files[0], opt.CSV)
		} else {
			s, err = openCSV(files[0], opt.CSV)
		}
	}
	if err != nil {
		return nil, err
	}
	if n := len(s.Recording.Signal.Channels); n > MaxChannels {
		name := files[0].Name
		if hea, err := pickHeader(files); err == nil {
			name = hea.Name // a WFDB record's channels are its header's
		}
		return nil, fmt.Errorf("%s: %d channels; at most %d are accepted", name, n, MaxChannels)
	}
	s.Recording.Identity.FileNames = nil
	for _, f := range files {
		s.Recording.Identity.FileNames = append(s.Recording.Identity.FileNames, f.Name)
	}
	return s, nil
}

// MaxChannels bounds the channels of one recording, in every format:
// storing a recording buffers each channel, so memory grows with the
// channel count a file asks for (an EDF header may ask for 9999).
const MaxChannels = csvlog.MaxChannels

// DetectAll says which format each of an upload's files belongs to, as
// Detect does, knowing the others: a file that an uploaded WFDB header
// names as a signal file is WFDB whatever its extension (PTB's .xyz,
// .d0, ...). errs[i] is file i's error.
func DetectAll(files []File) (kinds []Kind, errs []error) {
	named := map[string]bool{}
	for _, f := range files {
		if strings.ToLower(path.Ext(f.Name)) != ".hea" {
			continue
		}
		if h, err := wfdb.ParseHeader(f.Name, f.Data); err == nil {
			for _, s := range h.Signals {
				named[s.File] = true
			}
		}
	}
	kinds, errs = make([]Kind, len(files)), make([]error, len(files))
	for i, f := range files {
		if named[f.Name] {
			kinds[i] = KindWFDB
			continue
		}
		kinds[i], errs[i] = Detect(f)
	}
	return kinds, errs
}

// wfdbExts are the extensions of the parts of a WFDB record that Detect
// recognizes by name alone; a header may name signal files anything.
var wfdbExts = []string{".hea", ".dat", ".atr", ".qrs"}

// Detect says which format a file belongs to, from its extension and, for
// EDF and unknown extensions, its first bytes.
func Detect(f File) (Kind, error) {
	ext := strings.ToLower(path.Ext(f.Name))
	edfMagic := bytes.HasPrefix(f.Data, []byte("0       ")) || bytes.HasPrefix(f.Data, []byte("\xffBIOSEMI"))
	switch {
	case slices.Contains(wfdbExts, ext):
		return KindWFDB, nil
	case ext == ".edf" || ext == ".bdf" || ext == ".rec":
		if !edfMagic {
			return "", fmt.Errorf("%s: does not start with an EDF header (\"0\" and 7 spaces) or a BDF one (0xFF \"BIOSEMI\")", f.Name)
		}
		return KindEDF, nil
	case ext == ".csv" || ext == ".txt":
		return KindCSV, nil
	case edfMagic && len(f.Data) >= 256:
		return KindEDF, nil
	}
	if ext == "" {
		// A WFDB header may name signal files without an extension; such a
		// file is a WFDB part when a header accompanies it, which
		// openWFDB checks by requiring every file to be used.
		return KindWFDB, nil
	}
	return "", fmt.Errorf("%s: unknown file type %s: expected .hea+.dat, .edf or .csv (a WFDB signal file of another name is taken when the header that names it is uploaded with it)", f.Name, ext)
}

// recordName is a file name without its extension.
func recordName(name string) string {
	return strings.TrimSuffix(name, path.Ext(name))
}

// opener serves the uploaded files to the WFDB reader by name and remembers
// which were asked for.
type opener struct {
	record string
	files  map[string][]byte
	used   map[string]bool
}

func newOpener(record string, files []File) *opener {
	o := &opener{record: record, files: map[string][]byte{}, used: map[string]bool{}}
	for _, f := range files {
		o.files[f.Name] = f.Data
	}
	return o
}

// open returns the file called name, or an error a person can act on.
func (o *opener) open(name string) ([]byte, error) {
	if b, ok := o.files[name]; ok {
		o.used[name] = true
		return b, nil
	}
	return nil, fmt.Errorf("record %s needs %s, which was not uploaded", o.record, name)
}

// pickHeader chooses the record's header among the uploaded .hea files: the
// only one, or the master header of a multi-segment record, whose record
// line says "name/segments".
func pickHeader(files []File) (File, error) {
	var heads, masters []File
	for _, f := range files {
		if strings.ToLower(path.Ext(f.Name)) != ".hea" {
			continue
		}
		heads = append(heads, f)
		if isMaster(f.Data) {
			masters = append(masters, f)
		}
	}
	switch {
	case len(heads) == 1:
		return heads[0], nil
	case len(heads) == 0:
		var names []string
		for _, f := range files {
			names = append(names, f.Name)
		}
		return File{}, fmt.Errorf("no WFDB header among %s: upload the record's .hea file with its .dat files", strings.Join(names, ", "))
	case len(masters) == 1:
		return masters[0], nil
	}
	return File{}, fmt.Errorf("several WFDB records (%s, %s...): upload one record at a time (for a multi-segment record, its master header and segments)", heads[0].Name, heads[1].Name)
}

// isMaster reports whether a header's record line has the "/segments" of a
// multi-segment record.
func isMaster(hea []byte) bool {
	for _, l := range strings.Split(string(hea), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		first, _, _ := strings.Cut(l, " ")
		return strings.Contains(first, "/")
	}
	return false
}

// openWFDB opens a WFDB record from its files: the header, what it names,
// and <record>.atr or <record>.qrs.
func openWFDB(files []File) (*Stream, error) {
	hea, err := pickHeader(files)
	if err != nil {
		return nil, err
	}
	record := recordName(hea.Name)
	o := newOpener(record, files)
	s, err := openWFDBRecord(hea.Name, o)
	if err != nil {
		return nil, err
	}
	var annFile *File
	for _, ext := range []string{".atr", ".qrs"} {
		if i := slices.IndexFunc(files, func(f File) bool { return f.Name == record+ext }); i >= 0 && annFile == nil {
			annFile = &files[i]
			o.used[annFile.Name] = true
		}
	}
	if annFile != nil {
		anns, err := readWFDBAnnotations(annFile.Name, annFile.Data)
		if err != nil {
			return nil, err
		}
		rate, err := annotationRate(hea)
		if err != nil {
			return nil, err
		}
		s.Recording.Annotations = anns
		s.Recording.AnnotationRate = rate
	}
	for _, f := range files {
		if o.used[f.Name] {
			continue
		}
		ext := strings.ToLower(path.Ext(f.Name))
		switch {
		case ext == ".qrs" && annFile != nil && recordName(f.Name) == record:
			// <record>.qrs beside <record>.atr: the reference annotations win.
		case ext == ".atr" || ext == ".qrs":
			return nil, fmt.Errorf("%s: not an annotation file of record %s (expected %s.atr or %s.qrs)", f.Name, record, record, record)
		default:
			return nil, fmt.Errorf("%s: uploaded, but record %s does not use it: upload only the files its header %s names", f.Name, record, hea.Name)
		}
	}
	return s, nil
}
