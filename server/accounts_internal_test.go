package server

import (
	"net/url"
	"strings"
	"testing"
	"time"
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

func TestLoginThrottle(t *testing.T) {
	th := newLoginThrottle(3)
	acct, addr := "x@example.org", "10.0.0.1"
	for i := range 3 {
		if w := th.Wait(acct, addr); w != 0 {
			t.Fatalf("before failure %d: wait %s, want 0", i+1, w)
		}
		th.Fail(acct, addr)
	}
	if w := th.Wait(acct, addr); w <= 0 || w > time.Second {
		t.Fatalf("after 3 failures: wait %s, want (0, 1s]", w)
	}
	if w := th.Wait("X@Example.org", addr); w <= 0 {
		t.Fatalf("the email's case escapes the count")
	}
	// The account's owner, elsewhere, is not delayed.
	if w := th.Wait(acct, "10.9.9.9"); w != 0 {
		t.Fatalf("the account from another address waits %s, want 0", w)
	}
	if w := th.Wait("other@example.org", addr); w != 0 {
		t.Fatalf("another account at the address waits %s; the address limit is 12", w)
	}
	th.Fail(acct, addr)
	th.Fail(acct, addr)
	if w := th.Wait(acct, addr); w <= 2*time.Second || w > 4*time.Second {
		t.Fatalf("after 5 failures: wait %s, want (2s, 4s]", w)
	}
	th.Succeed(acct, addr)
	if w := th.Wait(acct, addr); w != 0 {
		t.Fatalf("after a success: wait %s, want 0", w)
	}
	// The wait is capped.
	for range 40 {
		th.Fail(acct, addr)
	}
	if w := th.Wait(acct, addr); w > maxLoginWait {
		t.Fatalf("after 40 failures: wait %s, want at most %s", w, maxLoginWait)
	}

	// Rotating addresses against one account: none is delayed for the
	// account's sake, and the owner is not either.
	th = newLoginThrottle(5)
	for i := range 40 {
		a := "10.1.0." + string(rune('a'+i%26))
		th.Fail(acct, a)
	}
	if w := th.Wait(acct, "192.0.2.1"); w != 0 {
		t.Fatalf("the owner waits %s after guesses from 40 addresses", w)
	}
	// Over the global ceiling, addresses that failed wait; fresh ones do not.
	th = newLoginThrottle(5)
	for i := range globalFailures {
		th.Fail("victim@example.org", "10.2.0."+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	if w := th.Wait("victim@example.org", "10.2.0.aa"); w <= 0 || w > time.Minute {
		t.Fatalf("a failing address over the ceiling waits %s, want (0, 1 min]", w)
	}
	if w := th.Wait("victim@example.org", "192.0.2.1"); w != 0 {
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
