package grid

import (
	"sync"
	"time"
)

// manualClock is a grid clock (Config.Now) that moves only when a test
// says so: a test advances it past a deadline and runs the step that
// reads it (env.reap), instead of sleeping and hoping a goroutine ran.
// It starts at the real time, so that records made by the grid (bans,
// creation times) compare sensibly with the store's.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newManualClock() *manualClock { return &manualClock{t: time.Now()} }

// Now is the clock's time.
func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// reap runs the reaper's step (lease expiry, overdue leases, starved
// chunks) at the grid's time now. The reaper's goroutine runs the same
// step every 200 ms; at an unchanged time a second run changes nothing.
func (e *env) reap() {
	e.g.mu.Lock()
	e.g.reapLocked(e.g.now())
	e.g.mu.Unlock()
}
