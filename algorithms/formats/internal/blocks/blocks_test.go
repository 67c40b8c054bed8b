package blocks

import (
	"fmt"
	"testing"
)

// counter is a Source whose samples are their own indices.
type counter struct{ next float64 }

func (c *counter) Fill(dst []float64) {
	for i := range dst {
		dst[i] = c.next
		c.next++
	}
}

// checkCut cuts channels with per samples per unit and n samples into
// blocks of about size samples and checks that every channel comes out
// whole and in order, that no block is empty or larger than size plus one
// sample per channel, and, when a unit fits in a block, that blocks end on
// unit boundaries.
func checkCut(t *testing.T, size int, per, n []int64) (blocks int) {
	t.Helper()
	saved := Size
	Size = size
	defer func() { Size = saved }()
	c := NewCutter(per)
	srcs := make([]Source, len(per))
	for i := range srcs {
		srcs[i] = &counter{}
	}
	c.Reset(n, srcs)
	got := make([]int64, len(per))
	var sum int64
	for _, p := range per {
		sum += p
	}
	for {
		out := c.Next()
		if out == nil {
			break
		}
		blocks++
		total := 0
		for i, b := range out {
			for _, v := range b {
				if int64(v) != got[i] {
					t.Fatalf("channel %d: sample %v where %d was due", i, v, got[i])
				}
				got[i]++
			}
			total += len(b)
			if sum <= int64(size) && got[i] < n[i] && got[i]%per[i] != 0 {
				t.Fatalf("channel %d: block ends inside a unit, at sample %d of %d per unit", i, got[i], per[i])
			}
		}
		if total == 0 || total > size+len(per) {
			t.Fatalf("block of %d samples; size %d, %d channels", total, size, len(per))
		}
	}
	for i := range n {
		if got[i] != n[i] {
			t.Fatalf("channel %d: %d samples cut, want %d", i, got[i], n[i])
		}
	}
	if c.Next() != nil {
		t.Fatal("Next after the end returned a block")
	}
	return blocks
}

func TestCutter(t *testing.T) {
	for _, tt := range []struct {
		name   string
		size   int
		per, n []int64
		blocks int // 0: not checked
	}{
		{"WholeUnits", 10, []int64{1, 1}, []int64{100, 100}, 20},
		{"MultiRate", 16, []int64{4, 1, 1, 1, 1}, []int64{400, 100, 100, 100, 100}, 50},
		{"UnitLargerThanBlock", 7, []int64{360, 360}, []int64{720, 720}, 0},
		{"BlockOfOne", 1, []int64{3, 2}, []int64{9, 6}, 12},
		{"DifferentLengths", 5, []int64{1, 2}, []int64{3, 40}, 0},
		{"EmptyChannel", 4, []int64{1, 1}, []int64{0, 9}, 0},
		{"NoSamples", 4, []int64{1}, []int64{0}, 0},
		{"NoChannels", 4, nil, nil, 0},
		{"HugeUnit", 1 << 16, []int64{1 << 40}, []int64{1<<16 + 3}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkCut(t, tt.size, tt.per, tt.n); tt.blocks > 0 && got != tt.blocks {
				t.Errorf("got %d blocks, want %d", got, tt.blocks)
			}
		})
	}
}

func FuzzCutter(f *testing.F) {
	f.Add(uint16(7), uint16(360), uint16(360), uint16(1000), uint16(999))
	f.Add(uint16(1), uint16(1), uint16(4), uint16(10), uint16(40))
	f.Fuzz(func(t *testing.T, size, p0, p1, n0, n1 uint16) {
		per := []int64{1 + int64(p0), 1 + int64(p1)}
		n := []int64{int64(n0), int64(n1)}
		t.Run(fmt.Sprint(size, per, n), func(t *testing.T) { checkCut(t, 1+int(size), per, n) })
	})
}
