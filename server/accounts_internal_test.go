package server

import (
	"context"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
)

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"Path", "/analyses/3", "/analyses/3"},
		{"Query", "/datasets?q=a&b=c", "/datasets?q=a&b=c"},
		{"Fragment", "/analyses/3#strip", "/analyses/3#strip"},
		{"Empty", "", "/"},
		{"Absolute", "https://evil.example/", "/"},
		{"SchemeRelative", "//evil.example/", "/"},
		{"Backslash", "/\\evil.example", "/"},
		{"BackslashLater", "/a\\b", "/"},
		{"TabThenHost", "/\t/evil.example/x", "/"},
		{"EscapedTab", "/%09/evil.example/x", "/"},
		{"EscapedSlash", "/%2F/evil.example", "/"},
		{"EscapedBackslash", "/%5Cevil.example", "/"},
		{"CRLF", "/ok\r\nSet-Cookie: x", "/"},
		{"EscapedCRLF", "/ok%0d%0aSet-Cookie:x", "/"},
		{"NUL", "/a\x00b", "/"},
		{"Relative", "datasets", "/"},
		{"JavaScript", "javascript:alert(1)", "/"},
		{"Userinfo", "/@evil.example", "/@evil.example"}, // a path on this site
		{"TripleSlash", "///evil.example", "/"},
		{"Long", "/" + string(make([]byte, 3000)), "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := safeNext(tc.in); got != tc.want {
				t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// newTestThrottle is a login throttle on a SQLite store of its own, with
// the clock stopped 10 s into a minute.
func newTestThrottle(t *testing.T, limit int) *loginThrottle {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "pulsegrid.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sh := newSharedThrottles(st, slog.New(slog.DiscardHandler))
	now := time.Unix(1_800_000_000, 0).Truncate(time.Minute).Add(10 * time.Second)
	sh.now = func() time.Time { return now }
	return newLoginThrottle(sh, limit)
}

// TestThrottlesArePruned: the server deletes expired counters itself, so
// the table stays bounded by what an hour of failures can write. With the
// prune in sharedThrottles.add removed, the store still holds the 3
// counters of the first failure two hours later.
func TestThrottlesArePruned(t *testing.T) {
	ctx := context.Background()
	th := newTestThrottle(t, 5)
	t0 := th.sh.now()
	th.Fail(ctx, "a@example.org", "10.0.0.1") // pair, address, minute: 3 counters
	now := t0.Add(2 * time.Hour)
	th.sh.now = func() time.Time { return now }
	th.Fail(ctx, "b@example.org", "10.0.0.2")
	if n, err := th.sh.st.PruneThrottles(ctx, now); err != nil || n != 0 {
		t.Fatalf("expired counters left after a failure 2 h later: %d (%v), want 0", n, err)
	}
	if m, _ := th.sh.st.Throttles(ctx, now, pairKey("b@example.org", "10.0.0.2")); len(m) != 1 {
		t.Fatalf("pruning removed the live counter: %v", m)
	}
}

func TestLoginThrottle(t *testing.T) {
	ctx := context.Background()
	th := newTestThrottle(t, 3)
	acct, addr := "x@example.org", "10.0.0.1"
	for i := range 3 {
		if w := th.Wait(ctx, acct, addr); w != 0 {
			t.Fatalf("before failure %d: wait %s, want 0", i+1, w)
		}
		th.Fail(ctx, acct, addr)
	}
	if w := th.Wait(ctx, acct, addr); w <= 0 || w > time.Second {
		t.Fatalf("after 3 failures: wait %s, want (0, 1s]", w)
	}
	if w := th.Wait(ctx, "X@Example.org", addr); w <= 0 {
		t.Fatalf("the email's case escapes the count")
	}
	// The account's owner, elsewhere, is not delayed.
	if w := th.Wait(ctx, acct, "10.9.9.9"); w != 0 {
		t.Fatalf("the account from another address waits %s, want 0", w)
	}
	if w := th.Wait(ctx, "other@example.org", addr); w != 0 {
		t.Fatalf("another account at the address waits %s; the address limit is 12", w)
	}
	th.Fail(ctx, acct, addr)
	th.Fail(ctx, acct, addr)
	if w := th.Wait(ctx, acct, addr); w <= 2*time.Second || w > 4*time.Second {
		t.Fatalf("after 5 failures: wait %s, want (2s, 4s]", w)
	}
	th.Succeed(ctx, acct, addr)
	if w := th.Wait(ctx, acct, addr); w != 0 {
		t.Fatalf("after a success: wait %s, want 0", w)
	}
	// The wait is capped.
	for range 40 {
		th.Fail(ctx, acct, addr)
	}
	if w := th.Wait(ctx, acct, addr); w > maxLoginWait {
		t.Fatalf("after 40 failures: wait %s, want at most %s", w, maxLoginWait)
	}

	// Rotating addresses against one account: none is delayed for the
	// account's sake, and the owner is not either.
	th = newTestThrottle(t, 5)
	for i := range 40 {
		a := "10.1.0." + string(rune('a'+i%26))
		th.Fail(ctx, acct, a)
	}
	if w := th.Wait(ctx, acct, "192.0.2.1"); w != 0 {
		t.Fatalf("the owner waits %s after guesses from 40 addresses", w)
	}
	// Over the global ceiling, addresses that failed wait; fresh ones do not.
	th = newTestThrottle(t, 5)
	for i := range globalFailures {
		th.Fail(ctx, "victim@example.org", "10.2.0."+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	if w := th.Wait(ctx, "victim@example.org", "10.2.0.aa"); w <= 0 || w > time.Minute {
		t.Fatalf("a failing address over the ceiling waits %s, want (0, 1 min]", w)
	}
	if w := th.Wait(ctx, "victim@example.org", "192.0.2.1"); w != 0 {
		t.Fatalf("the owner waits %s over the ceiling, want 0", w)
	}
}

// FuzzSafeNext: whatever the input, the destination is "/" or the input
// itself, and a browser resolving it against this site stays on the site.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/analyses/3", "//evil", "/\\evil", "/%09/evil", "/%2f%2fevil", "https://evil/", "/a?b=c#d", "/\t/x", "\x00", "/ok"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://pulsegrid.example/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got != "/" && got != next {
			t.Fatalf("safeNext(%q) = %q: neither / nor the input", next, got)
		}
		// Browsers drop tabs and newlines and read \ as /.
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		u, err := base.Parse(browser)
		if err != nil {
			t.Fatalf("safeNext(%q) = %q, which does not parse: %v", next, got, err)
		}
		if u.Host != base.Host || u.Scheme != base.Scheme {
			t.Fatalf("safeNext(%q) = %q leads to %s", next, got, u)
		}
		if dec, err := url.PathUnescape(u.EscapedPath()); err == nil && strings.HasPrefix(dec, "//") {
			t.Fatalf("safeNext(%q) = %q has a path that decodes to %q", next, got, dec)
		}
	})
}
