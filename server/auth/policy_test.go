package auth

import (
	"strings"
	"testing"
)

func TestCheckNewPassword(t *testing.T) {
	for _, tc := range []struct {
		password, email string
		want            string // part of the message; "" for accepted
	}{
		{"Correct-Horse-42", "", ""},
		{"Admin-Granite-Orchard-9", "admin@localhost", ""},
		{"clinician-a-password", "a@example.org", ""},
		{"Long-Night-Recorder-5", "", ""},
		{"tram lantern quietly", "", ""},
		{"short", "", "use at least 12"},
		{"aaaaaaaaaaaa", "", "one character repeated"},
		{"abcabcabcabc", "", `repeats "abc"`},
		{"121212121212", "", `repeats "12"`},
		{"password1234", "", "guessed first"},
		{"Password1234!", "", "guessed first"},
		{"Password-2026-xx!", "", ""},
		{"P@ssw0rd1990", "", `built on "p@ssw0rd"`},
		{"hospital2024!", "", "guessed first"},
		{"1234Welcome!!", "", `built on "welcome"`},
		{"123456789012", "", "consecutive"},
		{"987654321098", "", "consecutive"},
		{"abcdefghijklm", "", "consecutive"},
		{"qwertyuiop12", "", "keyboard"},
		{"1qaz2wsx3edc", "", "keyboard"},
		{"asdfghjkl;'\\", "", "keyboard"},
		{"jsmith-1234!", "jsmith@hospital.org", "email"},
		{"JSmith2026!xy", "jsmith@hospital.org", "email"},
		{"jsmith-walks-the-dog", "jsmith@hospital.org", ""},
		{strings.Repeat("x", 300) + "yz", "", "at most"},
	} {
		t.Run(tc.password, func(t *testing.T) {
			err := CheckNewPassword(tc.password, tc.email)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted, want a message with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("got %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCommonList(t *testing.T) {
	if n := CommonPasswords(); n < 3000 {
		t.Fatalf("the bundled list has %d entries, want a few thousand", n)
	}
	for _, p := range []string{"password", "iloveyou", "qwerty123", "letmein1", "hospital", "summer2024"} {
		if !common()[p] {
			t.Errorf("%q is not in the list", p)
		}
	}
}

// FuzzCheckNewPassword: any input gets an answer, and an accepted password
// passes the rules the policy states.
func FuzzCheckNewPassword(f *testing.F) {
	for _, s := range []string{"Correct-Horse-42", "aaaaaaaaaaaa", "password1234", "\xff\xfe", "1qaz2wsx3edc"} {
		f.Add(s, "a@b.org")
	}
	f.Fuzz(func(t *testing.T, p, email string) {
		if CheckNewPassword(p, email) != nil {
			return
		}
		lower := strings.ToLower(p)
		if len([]rune(p)) < MinPasswordLength || len(p) > MaxPasswordLength || repeatedUnit(lower) != "" || isSequence(lower) || common()[lower] {
			t.Fatalf("accepted %q, which breaks a rule", p)
		}
	})
}
