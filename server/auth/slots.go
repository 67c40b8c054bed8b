package auth

import (
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// ErrBusy is returned by HashPassword, CheckPassword and CheckUnknown when
// every hashing slot stayed taken for the slot wait: the caller should
// answer 429 with Retry-After rather than queue. Each argon2id hash holds
// 64 MiB for its duration, so 40 parallel logins held 2.5 GB before the
// slots existed.
var ErrBusy = errors.New("too many password checks at once")

// RetryAfter is what a caller refused with ErrBusy should wait: the time
// a few hashes take.
const RetryAfter = time.Second

// hashSlots bounds concurrent argon2id hashes.
type hashSlots struct {
	c    chan struct{}
	wait time.Duration
}

var slots atomic.Pointer[hashSlots]

func init() { SetHashConcurrency(runtime.NumCPU(), 250*time.Millisecond) }

// SetHashConcurrency allows n concurrent password hashes (at least 1);
// a hash that finds them all taken waits at most wait for one. The memory
// password hashing can hold is n × 64 MiB. Hashes running when it is
// called finish in their old slots.
func SetHashConcurrency(n int, wait time.Duration) {
	slots.Store(&hashSlots{c: make(chan struct{}, max(n, 1)), wait: max(wait, 0)})
}

// acquireSlot takes a hashing slot and returns its release.
func acquireSlot() (release func(), err error) {
	s := slots.Load()
	select {
	case s.c <- struct{}{}:
		return func() { <-s.c }, nil
	default:
	}
	if s.wait == 0 {
		return nil, ErrBusy
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.c <- struct{}{}:
		return func() { <-s.c }, nil
	case <-t.C:
		return nil, ErrBusy
	}
}
