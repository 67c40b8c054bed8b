package protocol

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestDecode(t *testing.T) {
	digest := strings.Repeat("a", 64)
	tests := []struct {
		name, in, wantErr string
	}{
		{"Hello", `{"type":"hello","version":2,"algorithms":["ecg.beats@1"],"slots":2,"public_key":"k","signature":"s"}`, ""},
		{"HelloWrongVersion", `{"type":"hello","version":1}`, "version 1"},
		{"HelloTooManySlots", `{"type":"hello","version":2,"slots":1000,"public_key":"k","signature":"s"}`, "slots"},
		{"HelloUnsigned", `{"type":"hello","version":2,"slots":1}`, "signature are required"},
		{"Challenge", `{"type":"challenge","version":2,"nonce":"abc"}`, ""},
		{"ChallengeNoNonce", `{"type":"challenge","version":2}`, "nonce missing"},
		{"Request", `{"type":"request","count":3}`, ""},
		{"RequestZero", `{"type":"request"}`, "count 0"},
		{"Result", `{"type":"result","lease_id":5,"digest":"` + digest + `","size":10,"count":1}`, ""},
		{"ResultWithCPU", `{"type":"result","lease_id":5,"digest":"` + digest + `","size":10,"cpu_ms":1234}`, ""},
		{"ResultNegativeCPU", `{"type":"result","lease_id":5,"digest":"` + digest + `","size":10,"cpu_ms":-1}`, "cpu_ms -1"},
		{"HelloNickname", `{"type":"hello","version":2,"nickname":"Ada","public_key":"k","signature":"s"}`, ""},
		{"ResultShortDigest", `{"type":"result","lease_id":5,"digest":"ab","size":10}`, "64-hex"},
		{"ResultTooBig", `{"type":"result","lease_id":5,"digest":"` + digest + `","size":99999999}`, "size"},
		{"AckNoLease", `{"type":"ack"}`, "lease_id missing"},
		{"Unknown", `{"type":"shout"}`, "unknown message type"},
		{"NotJSON", `{"type":`, "not valid JSON"},
		{"Huge", `{"type":"ack","lease_id":1,"reason":"` + strings.Repeat("x", MaxControl) + `"}`, "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode([]byte(tc.in))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				if back, err := Decode(m.Encode()); err != nil || back.Type != m.Type {
					t.Errorf("round trip: %+v, %v", back, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestCleanNickname(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"Empty", "", ""},
		{"Plain", "Ada Lovelace", "Ada Lovelace"},
		{"Trimmed", "  \tAda \n", "Ada"},
		{"InnerSpaceCollapsed", "Ada   \t Lovelace", "Ada Lovelace"},
		{"ControlsDropped", "A\x00d\x1ba\u007f", "Ada"},
		{"BidiOverrideDropped", "evil\u202Egnp.exe", "evilgnp.exe"},
		{"InvalidUTF8Dropped", "Ad\xffa", "Ada"},
		{"Unicode", "Zoë 🫀", "Zoë 🫀"},
		{"LongCut", strings.Repeat("é", 50), strings.Repeat("é", MaxNickname)},
		{"CutThenTrimmed", strings.Repeat("x", MaxNickname-1) + " tail", strings.Repeat("x", MaxNickname-1)},
		{"OnlySpaces", "   ", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CleanNickname(tc.in); got != tc.want {
				t.Errorf("CleanNickname(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzCleanNickname(f *testing.F) {
	f.Add("Ada Lovelace")
	f.Add("\u202E\x00 x ")
	f.Fuzz(func(t *testing.T, s string) {
		got := CleanNickname(s)
		if n := utf8.RuneCountInString(got); n > MaxNickname {
			t.Fatalf("%q: %d runes, want at most %d", got, n, MaxNickname)
		}
		if !utf8.ValidString(got) || got != strings.TrimSpace(got) {
			t.Fatalf("%q: not valid UTF-8 or not trimmed", got)
		}
		for _, r := range got {
			if !unicode.IsPrint(r) {
				t.Fatalf("%q: holds the unprintable %U", got, r)
			}
		}
		if CleanNickname(got) != got {
			t.Fatalf("%q: cleaning again changes it", got)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"hello","version":1}`))
	f.Add([]byte(`{"type":"result","lease_id":5,"digest":"` + strings.Repeat("a", 64) + `","size":10}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		if _, err := Decode(m.Encode()); err != nil {
			t.Fatalf("a decoded message does not decode again: %v", err)
		}
	})
}
