// Package auth hashes passwords with argon2id and makes API tokens. It has
// no storage of its own, so that the JSON API, the portal and the CLI share
// one definition of what a credential is.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (OWASP's second recommended set: 19 MiB is too little
// for a server that rarely logs people in; 64 MiB, 1 pass, 2 lanes).
const (
	argonTime    = 1
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
	saltLen      = 16
)

// ErrMismatch is returned by CheckPassword for a wrong password.
var ErrMismatch = errors.New("password does not match")

// HashPassword returns a PHC-format argon2id hash of password, e.g.
// "$argon2id$v=19$m=65536,t=1,p=2$SALT$HASH". It returns ErrBusy when
// every hashing slot stays taken (see SetHashConcurrency).
func HashPassword(password string) (string, error) {
	release, err := acquireSlot()
	if err != nil {
		return "", err
	}
	defer release()
	return hashPassword(password)
}

func hashPassword(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword compares a password with a hash from HashPassword, using the
// parameters recorded in the hash. It returns ErrMismatch for a wrong
// password and ErrBusy when every hashing slot stays taken.
func CheckPassword(hash, password string) error {
	release, err := acquireSlot()
	if err != nil {
		return err
	}
	defer release()
	return checkPassword(hash, password)
}

// CheckUnknown spends the time and memory of one CheckPassword and returns
// ErrMismatch (or ErrBusy): a login for an email without an account must
// take as long as one with, so that timing does not tell which emails have
// accounts.
func CheckUnknown(password string) error {
	release, err := acquireSlot()
	if err != nil {
		return err
	}
	defer release()
	checkPassword(dummyHash(), password)
	return ErrMismatch
}

// dummyHash is made on first use, as argon2id costs 64 MiB and every CLI
// command links this package.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword("pulsegrid-no-such-account")
	return h
})

func checkPassword(hash, password string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return fmt.Errorf("password hash is not in argon2id PHC format")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return fmt.Errorf("password hash: unsupported argon2 version %q", parts[2])
	}
	var mem uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil {
		return fmt.Errorf("password hash: parameters %q: %w", parts[3], err)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return fmt.Errorf("password hash: salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return fmt.Errorf("password hash: key: %w", err)
	}
	got := argon2.IDKey([]byte(password), salt, t, mem, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// TokenPrefix starts every API token, so that leaked tokens are easy to
// recognise by secret scanners.
const TokenPrefix = "pgt_"

// NewToken returns a new random API token (256 bits) and the hash to store.
// The token itself is shown once and never stored.
func NewToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is the stored form of a token: SHA-256 hex. Tokens carry 256
// random bits, so a fast hash is enough (no offline guessing is possible).
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// NewPassword returns a random password for a one-time admin login.
func NewPassword() (string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// OneTimeLifetime is how long a one-time password works: long enough to
// reach its user through a colleague, short enough that one found in an
// old chat or printout is useless.
const OneTimeLifetime = 24 * time.Hour

// NewOneTimePassword returns a random password for a first or reset login,
// its hash and when it stops working.
func NewOneTimePassword() (password, hash string, expires time.Time, err error) {
	if password, err = NewPassword(); err != nil {
		return "", "", time.Time{}, err
	}
	hash, err = HashPassword(password)
	return password, hash, time.Now().Add(OneTimeLifetime).UTC(), err
}
