package grid

import (
	"fmt"
	"os"
	"sync"
)

// A chunk's payload (the encoded task volunteers get) is as large as the
// signal it covers, and an analysis holds all of them until it is done: 300
// MB for ecg.beats on a 24-hour Holter. With Config.SpillDir set, payloads
// of SpillBytes or more go to one unlinked file per analysis instead, and
// are read back (from the page cache, usually) when a lease is issued, so
// the server's heap does not grow with the recordings being analysed.

// payload is one chunk's task bytes, in memory or in its analysis's spill.
type payload struct {
	mem   []byte
	spill *spill
	off   int64
	n     int
}

// Len is the payload's size in bytes.
func (p payload) Len() int {
	if p.spill != nil {
		return p.n
	}
	return len(p.mem)
}

// Bytes returns the payload, reading it from the spill file if it is there.
func (p payload) Bytes() ([]byte, error) {
	if p.spill == nil {
		return p.mem, nil
	}
	b := make([]byte, p.n)
	if _, err := p.spill.f.ReadAt(b, p.off); err != nil {
		return nil, fmt.Errorf("read spilled payload: %w", err)
	}
	return b, nil
}

// spill is an analysis's file of payloads. It is unlinked as soon as it is
// created, so a crash leaves nothing behind and Close frees the disk.
type spill struct {
	mu   sync.Mutex
	f    *os.File
	size int64
}

func newSpill(dir string) (*spill, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "payloads-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return &spill{f: f}, nil
}

// add appends b to the file and returns where it is.
func (s *spill) add(b []byte) (payload, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.WriteAt(b, s.size); err != nil {
		return payload{}, fmt.Errorf("spill payload: %w", err)
	}
	p := payload{spill: s, off: s.size, n: len(b)}
	s.size += int64(len(b))
	return p, nil
}

// Close releases the file; payloads in it can no longer be read.
func (s *spill) Close() error {
	if s == nil {
		return nil
	}
	return s.f.Close()
}
