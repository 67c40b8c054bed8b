package edf

import (
	"os"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// readWFDBTwin reads test_generator_2.hea/.dat, the WFDB twin of
// test_generator_2.edf, with pulsegrid's WFDB reader.
func readWFDBTwin(t *testing.T) *signal.Recording {
	t.Helper()
	rec, err := wfdb.ReadRecord("test_generator_2.hea", func(name string) ([]byte, error) {
		return os.ReadFile(dataDir + name)
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
