package auth

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

//go:generate go run gen_common.go

// MinPasswordLength is the shortest password a person may choose.
const MinPasswordLength = 12

// MaxPasswordLength bounds what is hashed; longer input is refused rather
// than hashed (argon2id's cost does not depend on it, but a form field of
// megabytes has no business being a password).
const MaxPasswordLength = 256

//go:embed common_passwords.txt
var commonText string

// common is the set of common_passwords.txt.
var common = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonText, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			m[line] = true
		}
	}
	return m
})

// CommonPasswords is the number of entries of the bundled list.
func CommonPasswords() int { return len(common()) }

// CheckPasswordStrength says why a password is too weak, or returns nil.
func CheckPasswordStrength(p string) error { return CheckNewPassword(p, "") }

// CheckNewPassword says why password p is not acceptable for the account
// email (which may be empty), in words for the person choosing it, or
// returns nil. Refused: fewer than MinPasswordLength characters; one
// character or a short unit repeated (aaaaaaaaaaaa, abcabcabcabc); a run of
// consecutive digits or letters (123456789012, abcdefghijkl); a walk along
// the keyboard, mostly from key to neighbouring key (qwertyuiop12,
// 1qaz2wsx3edc); an entry of the bundled list
// of common passwords, also with digits and symbols added before or after
// it and with the usual letter-for-digit swaps (Password1234!, P@ssw0rd2026);
// the email's local part with fewer than 8 other characters.
func CheckNewPassword(p, email string) error {
	n := utf8.RuneCountInString(p)
	switch {
	case n < MinPasswordLength:
		return fmt.Errorf("the password has %d characters; use at least %d (a few unrelated words are easy to remember)", n, MinPasswordLength)
	case len(p) > MaxPasswordLength:
		return fmt.Errorf("the password has %d bytes; use at most %d", len(p), MaxPasswordLength)
	}
	lower := strings.ToLower(p)
	if unit := repeatedUnit(lower); unit != "" {
		if len(unit) == 1 {
			return fmt.Errorf("the password is one character repeated; choose one that is harder to guess")
		}
		return fmt.Errorf("the password repeats %q; choose one that is harder to guess", unit)
	}
	if isSequence(lower) {
		return fmt.Errorf("the password is a run of consecutive characters; choose one that is harder to guess")
	}
	if isKeyboardWalk(lower) {
		return fmt.Errorf("the password follows a line of keys on the keyboard; choose one that is harder to guess")
	}
	if w := commonCore(lower); w == lower {
		return fmt.Errorf("the password is among the passwords guessed first; choose one that is harder to guess")
	} else if w != "" {
		return fmt.Errorf("the password is built on %q, which is among the passwords guessed first; choose one that is harder to guess", w)
	}
	if local, _, ok := strings.Cut(strings.ToLower(strings.TrimSpace(email)), "@"); ok && len(local) >= 3 && strings.Contains(lower, local) {
		if rest := strings.ReplaceAll(lower, local, ""); utf8.RuneCountInString(rest) < 8 {
			return fmt.Errorf("the password is mostly your email address; choose one that is harder to guess")
		}
	}
	return nil
}

// repeatedUnit returns the unit of at most 4 characters that s repeats
// (s made of it wholly, the last repetition possibly cut), or "".
func repeatedUnit(s string) string {
	r := []rune(s)
	for k := 1; k <= 4 && k < len(r); k++ {
		ok := true
		for i := k; i < len(r); i++ {
			if r[i] != r[i-k] {
				ok = false
				break
			}
		}
		if ok {
			return string(r[:k])
		}
	}
	return ""
}

// isSequence reports whether s is digits each one more (or each one less)
// than the last, wrapping 9 to 0, or letters likewise wrapping z to a.
func isSequence(s string) bool {
	// dir is +1 or -1 for neighbours of one kind, 0 otherwise.
	dir := func(a, b byte) int {
		var d, n int
		switch {
		case isDigit(a) && isDigit(b):
			d, n = int(b)-int(a), 10
		case isLetter(a) && isLetter(b):
			d, n = int(b)-int(a), 26
		default:
			return 0
		}
		switch (d + n) % n {
		case 1:
			return 1
		case n - 1:
			return -1
		}
		return 0
	}
	if len(s) < 2 {
		return false
	}
	first := dir(s[0], s[1])
	for i := 1; i+1 < len(s); i++ {
		if dir(s[i], s[i+1]) != first {
			return false
		}
	}
	return first != 0
}

func isDigit(b byte) bool  { return b >= '0' && b <= '9' }
func isLetter(b byte) bool { return b >= 'a' && b <= 'z' }

// keyPos is each key's row and horizontal position on a US keyboard (rows
// staggered as on the keyboard); shifted symbols are on their key.
var keyPos = func() map[rune][2]float64 {
	rows := []struct {
		keys, shifted string
		offset        float64
	}{
		{"`1234567890-=", "~!@#$%^&*()_+", 0},
		{"qwertyuiop[]\\", "QWERTYUIOP{}|", 1.5},
		{"asdfghjkl;'", "ASDFGHJKL:\"", 1.75},
		{"zxcvbnm,./", "ZXCVBNM<>?", 2.25},
	}
	m := map[rune][2]float64{}
	for r, row := range rows {
		sh := []rune(row.shifted)
		for i, k := range row.keys {
			pos := [2]float64{float64(r), float64(i) + row.offset}
			m[k] = pos
			m[sh[i]] = pos
		}
	}
	return m
}()

// isKeyboardWalk reports whether at least 75 % of the steps from one
// character of s to the next go to the same or a neighbouring key.
func isKeyboardWalk(s string) bool {
	r := []rune(s)
	near := 0
	for i := 1; i < len(r); i++ {
		a, okA := keyPos[r[i-1]]
		b, okB := keyPos[r[i]]
		if !okA || !okB {
			continue
		}
		dr, dx := b[0]-a[0], b[1]-a[1]
		if dr < 0 {
			dr = -dr
		}
		if dx < 0 {
			dx = -dx
		}
		if dr <= 1 && dx <= 1 {
			near++
		}
	}
	return len(r) > 1 && float64(near) >= 0.75*float64(len(r)-1)
}

// unleet undoes the usual letter-for-digit swaps.
var unleet = strings.NewReplacer("0", "o", "1", "i", "3", "e", "4", "a", "5", "s", "7", "t", "@", "a", "$", "s", "!", "i", "+", "t")

// commonCore returns the common password that s is, or that s is once
// the digits and symbols at its ends are removed, or once swapped digits
// are read as letters; "" if none.
func commonCore(s string) string {
	c := common()
	trim := func(s string) string {
		return strings.TrimFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	}
	for _, cand := range []string{s, trim(s), unleet.Replace(s), trim(unleet.Replace(s))} {
		if len(cand) >= 4 && c[cand] {
			return cand
		}
	}
	// Leet inside, digits and symbols at the ends ("P@ssw0rd2026!").
	core := strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	})
	for _, cand := range []string{core, unleet.Replace(core)} {
		if len(cand) >= 4 && c[cand] {
			return cand
		}
	}
	return ""
}
