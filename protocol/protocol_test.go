package protocol

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	digest := strings.Repeat("a", 64)
	tests := []struct {
		name, in, wantErr string
	}{
		{"Hello", `{"type":"hello","version":1,"algorithms":["ecg.beats@1"],"slots":2}`, ""},
		{"HelloWrongVersion", `{"type":"hello","version":2}`, "version 2"},
		{"HelloTooManySlots", `{"type":"hello","version":1,"slots":1000}`, "slots"},
		{"Request", `{"type":"request","count":3}`, ""},
		{"RequestZero", `{"type":"request"}`, "count 0"},
		{"Result", `{"type":"result","lease_id":5,"digest":"` + digest + `","size":10,"count":1}`, ""},
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
