package formats

import (
	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// readWFDBRecord reads the record whose header is called header, opening
// the files it names through o.
func readWFDBRecord(header string, o *opener) (*signal.Recording, error) {
	o.used[header] = true
	return wfdb.ReadRecord(header, o.open)
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
