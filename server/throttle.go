package server

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// sharedThrottles are the guessing throttles kept in the store
// (store.ThrottleStore), so that every server process on one database
// counts together: with the counters in memory, N replicas behind a load
// balancer gave a guesser N times the tries. What stays per process is
// what bounds this process's own resources: the argon2id slots
// (auth.SetHashConcurrency, a CPU and memory bound) and the API request
// rate (limits.go, flood protection that must not itself cost a database
// write per request).
//
// A counter the store cannot read or write counts as a wait of
// storeTrouble: guessing is not let through because the database is slow.
type sharedThrottles struct {
	st  store.ThrottleStore
	log *slog.Logger
	// pruned is when this process last deleted expired counters (Unix ms).
	pruned atomic.Int64
	now    func() time.Time
}

// storeTrouble is the wait answered when the throttle's counters cannot be
// read: a second, as for busy hashing slots.
const storeTrouble = time.Second

// pruneEvery is how often one process deletes expired counters; every
// counter expires at most failureMemory after its last change, so the
// table holds what was counted in about the last hour.
const pruneEvery = time.Minute

func newSharedThrottles(st store.ThrottleStore, log *slog.Logger) *sharedThrottles {
	return &sharedThrottles{st: st, log: log, now: time.Now}
}

func (s *sharedThrottles) get(ctx context.Context, now time.Time, keys ...string) (map[string]store.Throttle, bool) {
	m, err := s.st.Throttles(ctx, now, keys...)
	if err != nil {
		s.log.Error("throttle: read counters", "err", err)
		return nil, false
	}
	return m, true
}

func (s *sharedThrottles) add(ctx context.Context, now time.Time, key string, leak float64, ttl time.Duration) {
	ctx = context.WithoutCancel(ctx) // a client hanging up must not save its failure
	if _, err := s.st.AddThrottle(ctx, key, 1, leak, ttl, now); err != nil {
		s.log.Error("throttle: count", "err", err, "key", key)
	}
	if last := s.pruned.Load(); now.UnixMilli()-last >= pruneEvery.Milliseconds() && s.pruned.CompareAndSwap(last, now.UnixMilli()) {
		if _, err := s.st.PruneThrottles(ctx, now); err != nil {
			s.log.Error("throttle: prune", "err", err)
		}
	}
}

// loginThrottle slows down password guessing without letting a guesser
// lock out the account's owner. It counts failures per (account, address)
// pair, not per account: a victim signing in from their own address is
// never delayed by someone else's failures. The counts are in the store,
// shared by every server on the database.
//
//   - A pair with limit failures waits 2^(failures-limit) s after its last
//     failure before each further attempt, capped at maxLoginWait.
//   - An address with 4 × limit failures over any accounts (spraying one
//     password over many emails) waits the same way, for every account.
//   - Over all servers, more than globalFailures failures in a minute of
//     the clock (guessing from many addresses) make every address that has
//     failed recently wait for the minute to end; addresses without
//     failures, the owners', pass.
//
// Counts lapse failureMemory after their last failure; a success clears
// its pair.
type loginThrottle struct {
	limit int
	sh    *sharedThrottles
}

func newLoginThrottle(sh *sharedThrottles, limit int) *loginThrottle {
	return &loginThrottle{limit: limit, sh: sh}
}

const maxLoginWait = 15 * time.Minute

// failureMemory is how long a count of failures lasts after the last one.
const failureMemory = time.Hour

// globalFailures is the ceiling of failures a minute over all servers.
const globalFailures = 60

func pairKey(account, addr string) string {
	return "login:pair:" + strings.ToLower(account) + "|" + addr
}
func addrKey(addr string) string { return "login:addr:" + addr }

// globalKey names the minute of the clock now is in, and when it ends.
func globalKey(now time.Time) (string, time.Time) {
	m := now.Truncate(time.Minute)
	return "login:global:" + strconv.FormatInt(m.Unix(), 10), m.Add(time.Minute)
}

func (t *loginThrottle) delay(f store.Throttle, ok bool, limit int, now time.Time) time.Duration {
	n := int(f.N)
	if !ok || n < limit {
		return 0
	}
	d := maxLoginWait
	if e := n - limit; e < 10 {
		d = min(time.Duration(1<<e)*time.Second, maxLoginWait)
	}
	return max(f.Last.Add(d).Sub(now), 0)
}

// Wait returns how long attempts for account from addr must wait.
func (t *loginThrottle) Wait(ctx context.Context, account, addr string) time.Duration {
	now := t.sh.now()
	gk, end := globalKey(now)
	m, ok := t.sh.get(ctx, now, pairKey(account, addr), addrKey(addr), gk)
	if !ok {
		return storeTrouble
	}
	pair, okPair := m[pairKey(account, addr)]
	byAddr, okAddr := m[addrKey(addr)]
	w := max(t.delay(pair, okPair, t.limit, now), t.delay(byAddr, okAddr, 4*t.limit, now))
	if g, okG := m[gk]; okAddr && okG && g.N >= globalFailures {
		w = max(w, end.Sub(now))
	}
	return w
}

// Fail counts a failure of account from addr.
func (t *loginThrottle) Fail(ctx context.Context, account, addr string) {
	now := t.sh.now()
	t.sh.add(ctx, now, pairKey(account, addr), 0, failureMemory)
	t.sh.add(ctx, now, addrKey(addr), 0, failureMemory)
	gk, end := globalKey(now)
	t.sh.add(ctx, now, gk, 0, end.Sub(now))
}

// Succeed clears the failures of account from addr.
func (t *loginThrottle) Succeed(ctx context.Context, account, addr string) {
	if err := t.sh.st.DeleteThrottle(context.WithoutCancel(ctx), pairKey(account, addr)); err != nil {
		t.sh.log.Error("throttle: clear", "err", err)
	}
}

// tokenThrottle limits unrecognised API and enrollment tokens per address:
// a bucket of failures burst deep that drains at rate a second, in the
// store like loginThrottle.
type tokenThrottle struct {
	sh          *sharedThrottles
	rate, burst float64
}

func tokenKey(addr string) string { return "token:" + addr }

// wait is how long addr must wait before its next token is looked up.
func (t *tokenThrottle) wait(ctx context.Context, addr string) time.Duration {
	now := t.sh.now()
	m, ok := t.sh.get(ctx, now, tokenKey(addr))
	if !ok {
		return storeTrouble
	}
	f, ok := m[tokenKey(addr)]
	if !ok {
		return 0
	}
	over := f.Level(t.rate, now) - (t.burst - 1)
	if over <= 0 {
		return 0
	}
	return time.Duration(over / t.rate * float64(time.Second))
}

// fail counts an unrecognised token from addr.
func (t *tokenThrottle) fail(ctx context.Context, addr string) {
	// Kept a little longer than a full bucket takes to drain.
	ttl := time.Duration(2 * (t.burst + 1) / t.rate * float64(time.Second))
	t.sh.add(ctx, t.sh.now(), tokenKey(addr), t.rate, ttl)
}
