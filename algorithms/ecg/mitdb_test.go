package ecg

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/formats/wfdb"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// dataDir holds the shared real recordings (see ../shared/data/README.md).
const dataDir = "../../../shared/data"

// testRecord is a real record read for the tests.
type testRecord struct {
	Sig  signal.Signal
	Ann  []signal.Annotation
	Rate float64
}

// mustReadRecord reads a WFDB record of the shared data and its .atr
// annotations, if any. It skips the test when the shared data is absent.
func mustReadRecord(tb testing.TB, dir, name string) *testRecord {
	tb.Helper()
	base := filepath.Join(dataDir, dir)
	if _, err := os.Stat(filepath.Join(base, name+".hea")); err != nil {
		tb.Skipf("shared data not available: %v", err)
	}
	open := func(n string) ([]byte, error) { return os.ReadFile(filepath.Join(base, filepath.Base(n))) }
	r, err := wfdb.ReadRecord(name+".hea", open)
	if err != nil {
		tb.Fatalf("%s/%s: %v", dir, name, err)
	}
	rec := &testRecord{Sig: r.Signal, Rate: r.Signal.Channels[0].Rate}
	if atr, err := os.ReadFile(filepath.Join(base, name+".atr")); err == nil {
		rec.Ann, err = wfdb.ReadAnnotations(name+".atr", atr)
		if err != nil {
			tb.Fatalf("%s/%s.atr: %v", dir, name, err)
		}
	}
	return rec
}
