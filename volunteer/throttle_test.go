package volunteer

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// newTestThrottle is the Yielder a chunk would get, without a connection:
// progress heartbeats go to a buffered channel nobody reads.
func newTestThrottle(ctx context.Context, v *Volunteer) *throttle {
	s := newSession(v, ctx, nil)
	s.out = make(chan frame, 1<<14)
	s.heartbeat = time.Hour
	now := time.Now()
	return &throttle{ctx: ctx, v: v, s: s, id: 1, alg: "test@1", sliceStart: now, lastBeat: now}
}

// spin burns CPU for d, as a pipeline stage between two yields does.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// dutyCycle runs a chunk-like loop (work 2 ms, yield) under the throttle
// until it has rested (or, at 100 %, yielded a turn) `rests` times, and returns busy/(busy+rest): busy is
// the time spent working between yields, rest the time the throttle chose
// to rest. Rests are counted as the throttle decided them, not as long as
// the timer actually slept: on a loaded machine a timer fires late, which
// only lowers the share further and would make the test measure the
// machine's load instead of the throttle. It ends right after a rest, so it
// counts whole cycles only.
func dutyCycle(t *testing.T, y *throttle, rests int) float64 {
	t.Helper()
	var busy time.Duration
	rest0 := y.rested
	n := 0
	for n < rests {
		t0 := time.Now()
		spin(2 * time.Millisecond)
		busy += time.Since(t0)
		before := y.yields
		if err := y.Yield(1, 2); err != nil {
			t.Fatal(err)
		}
		if y.yields != before {
			n++
		}
	}
	rest := y.rested - rest0
	return float64(busy) / float64(busy+rest)
}

func TestThrottleDutyCycle(t *testing.T) {
	for _, tc := range []struct {
		name string
		cpu  int
	}{
		{"25%", 25}, {"50%", 50}, {"75%", 75}, {"100%", 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := New(Config{CPU: tc.cpu, Slice: 40 * time.Millisecond})
			got := dutyCycle(t, newTestThrottle(context.Background(), v), 6)
			want := float64(tc.cpu) / 100
			t.Logf("CPU %d%%: achieved share %.3f", tc.cpu, got)
			if math.Abs(got-want) > 0.10 {
				t.Errorf("achieved CPU share %.3f, want %.2f ± 0.10", got, want)
			}
		})
	}
}

// TestThrottleSetCPU: a new share applies to a running chunk at its next slice.
func TestThrottleSetCPU(t *testing.T) {
	v := New(Config{CPU: 100, Slice: 40 * time.Millisecond})
	y := newTestThrottle(context.Background(), v)
	if got := dutyCycle(t, y, 3); got < 0.9 {
		t.Fatalf("at 100%%: achieved share %.3f, want ≥ 0.9", got)
	}
	v.SetCPU(25)
	dutyCycle(t, y, 1) // the slice under way when the setting changed
	if got := dutyCycle(t, y, 4); math.Abs(got-0.25) > 0.10 {
		t.Errorf("after SetCPU(25): achieved share %.3f, want 0.25 ± 0.10", got)
	}
}

// TestThrottleCancelDuringRest: Pause (a cancelled context) ends a rest at
// once instead of sleeping it out.
func TestThrottleCancelDuringRest(t *testing.T) {
	v := New(Config{CPU: 1, Slice: 20 * time.Millisecond}) // rests ~2 s per slice
	ctx, cancel := context.WithCancel(context.Background())
	y := newTestThrottle(ctx, v)
	spin(25 * time.Millisecond)
	time.AfterFunc(30*time.Millisecond, cancel)
	start := time.Now()
	err := y.Yield(1, 2)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Yield returned %v after the cancel was due; want it at once", d-30*time.Millisecond)
	}
	if err := y.Yield(1, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("Yield after cancel: got %v, want context.Canceled", err)
	}
}

// TestThrottleFullShare: at 100 % the throttle never rests; it yields one
// event-loop turn per slice, and the chunk's end yields only when a turn is
// due (short chunks run back to back).
func TestThrottleFullShare(t *testing.T) {
	v := New(Config{CPU: 100, Slice: 20 * time.Millisecond})
	y := newTestThrottle(context.Background(), v)
	y.s.turned(time.Now())
	for start := time.Now(); time.Since(start) < 110*time.Millisecond; {
		spin(2 * time.Millisecond)
		if err := y.Yield(1, 2); err != nil {
			t.Fatal(err)
		}
	}
	if y.rested != 0 {
		t.Errorf("rested %v at 100 %%, want 0", y.rested)
	}
	// 110 ms in 20 ms slices: 5 turns, give or take one for timing; fewer
	// when the machine stalls the loop (a 40 ms stall is one turn), never
	// more. A throttle that turned at every Yield would take about 50.
	if y.yields < 1 || y.yields > 6 {
		t.Errorf("%d turns in 110 ms of 20 ms slices, want about 5 (1 to 6)", y.yields)
	}
	y.s.turned(time.Now())
	before := y.yields
	if err := y.end(); err != nil || y.yields != before {
		t.Errorf("end right after a turn: err %v, %d more yields; want nil and none", err, y.yields-before)
	}
}
