package main

import (
	"context"
	"testing"
	"time"
)

// TestBenchCoordinator runs the coordinator benchmark briefly at the
// README's setup (2 volunteers, quorum 2) and at quorum 1: it must speak
// the current protocol, verify chunks, and drop no volunteer.
func TestBenchCoordinator(t *testing.T) {
	for _, quorum := range []int{2, 1} {
		f, err := benchCoordinator(context.Background(), 2, 0, 500*time.Millisecond, quorum, 2, 2000, "")
		if err != nil {
			t.Fatalf("quorum %d: %v", quorum, err)
		}
		if f.verifiedPerSec <= 0 || len(f.drops) > 0 {
			t.Errorf("quorum %d: %.0f verified chunks/s, %d volunteers dropped %v", quorum, f.verifiedPerSec, len(f.drops), f.drops)
		}
	}
}
