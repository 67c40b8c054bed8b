package auth

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("Correct-Horse-42")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$") {
		t.Errorf("got hash %q, want PHC argon2id", h)
	}
	if err := CheckPassword(h, "Correct-Horse-42"); err != nil {
		t.Errorf("right password: got %v", err)
	}
	if err := CheckPassword(h, "correct-horse-42"); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong password: got %v, want ErrMismatch", err)
	}
	h2, _ := HashPassword("Correct-Horse-42")
	if h == h2 {
		t.Errorf("two hashes of one password are equal: salt not random")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA"} {
		if err := CheckPassword(bad, "x"); err == nil || errors.Is(err, ErrMismatch) {
			t.Errorf("CheckPassword(%q): got %v, want a format error", bad, err)
		}
	}
}

func TestToken(t *testing.T) {
	tok, hash, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, TokenPrefix) || HashToken(tok) != hash || len(hash) != 64 {
		t.Errorf("got token %q hash %q", tok, hash)
	}
	tok2, _, _ := NewToken()
	if tok == tok2 {
		t.Errorf("two tokens equal")
	}
}

func TestHashSlots(t *testing.T) {
	defer SetHashConcurrency(runtime.NumCPU(), 250*time.Millisecond)
	hash, err := HashPassword("a-password-to-check")
	if err != nil {
		t.Fatal(err)
	}
	SetHashConcurrency(2, 50*time.Millisecond)
	// Every slot taken: a check waits its 50 ms and gives up.
	r1, _ := acquireSlot()
	r2, _ := acquireSlot()
	for name, f := range map[string]func() error{
		"CheckPassword": func() error { return CheckPassword(hash, "x") },
		"CheckUnknown":  func() error { return CheckUnknown("x") },
		"HashPassword":  func() error { _, err := HashPassword("x"); return err },
	} {
		if err := f(); !errors.Is(err, ErrBusy) {
			t.Errorf("%s with every slot taken: got %v, want ErrBusy", name, err)
		}
	}
	r1()
	r2()
	if err := CheckPassword(hash, "a-password-to-check"); err != nil {
		t.Fatalf("after the slots were released: %v", err)
	}

	// 8 at once on 2 slots without waiting: some are refused, none
	// fails otherwise, and at least the two that got slots finish.
	SetHashConcurrency(2, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	start := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := CheckPassword(hash, "a-password-to-check")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				counts["ok"]++
			case errors.Is(err, ErrBusy):
				counts["busy"]++
			default:
				counts[err.Error()]++
			}
		}()
	}
	close(start)
	wg.Wait()
	if counts["busy"] == 0 || counts["ok"] < 2 || counts["ok"]+counts["busy"] != 8 {
		t.Fatalf("8 concurrent checks on 2 slots: %v, want some busy, at least 2 ok, nothing else", counts)
	}
}
