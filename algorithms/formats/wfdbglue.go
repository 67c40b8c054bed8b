package formats

import (
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// openWFDBRecord opens the record whose header is called header, opening
// the files it names through o.
func openWFDBRecord(header string, o *opener) (*Stream, error) {
	o.used[header] = true
	s, err := wfdb.OpenRecord(header, o.open)
	if err != nil {
		return nil, err
	}
	return &Stream{Recording: s.Recording, blocks: s}, nil
}

// readWFDBAnnotations decodes an MIT annotation file.
func readWFDBAnnotations(name string, data []byte) ([]signal.Annotation, error) {
	return wfdb.ReadAnnotations(name, data)
}

// annotationRate is the rate WFDB annotation sample numbers count in: the
// record's frame rate, from its header.
func annotationRate(header File) (float64, error) {
	h, err := wfdb.ParseHeader(header.Name, header.Data)
	if err != nil {
		return 0, err
	}
	return h.Frequency, nil
}
