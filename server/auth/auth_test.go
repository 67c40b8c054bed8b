package auth

import (
	"errors"
	"strings"
	"testing"
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
