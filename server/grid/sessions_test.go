package grid

import (
	"testing"

	"github.com/pulsegrid/pulsegrid/protocol"
)

// TestDroppedWhileHandlingAResult: a volunteer that stops reading is
// dropped while the grid answers its result (the verdict does not fit),
// and the request that came with the result is then not served. Before,
// the deferred dispatch read the network entry the drop had just freed
// and the server crashed (seen in bench coordinator under load). One-line
// bug it catches: the s.closed check in dispatchLocked removed.
func TestDroppedWhileHandlingAResult(t *testing.T) {
	e := newEnv(t, quiet(Config{Quorum: 2}))
	e.analysis(e.owner("a@x"), 1, 20, "routine", false)
	v := e.connect("", "")
	v.p.mu.Lock()
	v.p.full = true
	v.p.mu.Unlock()
	if err := v.s.Handle(&protocol.Message{Type: protocol.TypeResult, LeaseID: 999, Count: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if !v.s.closed {
		t.Error("a volunteer whose verdict did not fit was not dropped")
	}
}
