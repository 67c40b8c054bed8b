package grid

import (
	"bytes"
	"os"
	"testing"
)

func TestSpilledPayloads(t *testing.T) {
	dir := t.TempDir()
	g := &Grid{cfg: Config{SpillDir: dir, SpillBytes: 4}}
	a := &analysis{}
	small, err := g.keepPayload(a, []byte{1, 2, 3})
	if err != nil || small.spill != nil {
		t.Fatalf("a payload under SpillBytes was spilled (%v)", err)
	}
	var kept []payload
	var want [][]byte
	for i := range 5 {
		b := bytes.Repeat([]byte{byte(i)}, 10+i)
		p, err := g.keepPayload(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if p.spill == nil || p.Len() != len(b) {
			t.Fatalf("payload %d: spilled %v, len %d", i, p.spill != nil, p.Len())
		}
		kept, want = append(kept, p), append(want, b)
	}
	for i, p := range kept {
		if got, err := p.Bytes(); err != nil || !bytes.Equal(got, want[i]) {
			t.Errorf("payload %d read back as %v (%v), want %v", i, got, err, want[i])
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the spill file is visible in %s (a crash would leave it): %v", dir, ents)
	}
	a.spill.Close()
	if _, err := kept[0].Bytes(); err == nil {
		t.Error("a payload of a closed spill was read")
	}
	if got, err := small.Bytes(); err != nil || !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Errorf("in-memory payload: %v %v", got, err)
	}
}
