// Package export renders a merged result in the download formats that
// pulsegrid offers everywhere: the CLI's `run --format`, the API's
// `result?format=` and the portal's download buttons.
package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/pipeline"
)

// Formats are the accepted format names.
var Formats = []string{"json", "csv", "wfdb"}

// ErrNoEvents is returned for a WFDB export of a result without events.
var ErrNoEvents = errors.New("this result has no events to write as WFDB annotations; use json or csv")

// File is an exported result: its bytes, MIME type and file extension.
type File struct {
	Data        []byte
	ContentType string
	Ext         string // ".json", ".csv", ".atr"
}

// Encode renders res in format (json, csv or wfdb). JSON is indented, as a
// person reading a file wants it; servers that keep the stored compact JSON
// serve that instead.
func Encode(res pipeline.Result, format string) (File, error) {
	switch format {
	case "json":
		b, err := json.MarshalIndent(res, "", " ")
		return File{Data: append(b, '\n'), ContentType: "application/json", Ext: ".json"}, err
	case "csv":
		b, err := res.CSV()
		return File{Data: b, ContentType: "text/csv; charset=utf-8", Ext: ".csv"}, err
	case "wfdb":
		a, ok := res.(pipeline.Annotated)
		if !ok {
			return File{}, ErrNoEvents
		}
		anns, _ := a.Annotations()
		return File{Data: wfdb.WriteAnnotations(anns), ContentType: "application/octet-stream", Ext: ".atr"}, nil
	}
	return File{}, fmt.Errorf("format %q: want json, csv or wfdb", format)
}

// Valid reports whether format is one Encode accepts.
func Valid(format string) bool { return slices.Contains(Formats, format) }
