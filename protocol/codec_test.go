package protocol

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

var digest = strings.Repeat("ab", 32)

// typical are the messages of a session, as each side writes them.
var typical = []Message{
	{Type: TypeChallenge, Nonce: "n0nce_-AZ"},
	{Type: TypeHello, Version: Version, Algorithms: []string{"ecg.beats@1", "vitals.summary@1"}, Slots: 2, Agent: "pulsegrid-native/linux",
		PublicKey: "pk", Signature: "sig", Nickname: "Ada", Team: "Team 7"},
	{Type: TypeWelcome, VolunteerID: "v-1", Enrolled: true, HeartbeatMS: 10000, AckMS: 5000, TotalVerified: 12, Credit: 3.25},
	{Type: TypeRequest, Count: 2},
	{Type: TypeLease, LeaseID: 1 << 40, Algorithm: "ecg.beats@1", Deadline: 1764800000123, Digest: digest, Size: 680000},
	{Type: TypeAck, LeaseID: 9},
	{Type: TypeProgress, LeaseID: 9, Done: 300, Total: 21600},
	{Type: TypeResult, LeaseID: 9, Digest: digest, Size: 32, CPUMS: 0.0421, Count: 1},
	{Type: TypeResult, LeaseID: 9, Digest: digest, Size: 32, CPUMS: 1e-7, Count: 1},
	{Type: TypeVerdict, LeaseID: 9, Verdict: VerdictVerified, TotalVerified: 1, Credit: 12.5e21},
	{Type: TypeError, LeaseID: 9, Reason: "decode: bad frame", Count: 1},
	{Type: TypeFatal, Reason: `quote " backslash \ <tag> & é ` + "\u2028\n\x01"},
	{Type: TypeHello, Algorithms: []string{}},
}

// Encode writes what json.Marshal writes, and the plain messages come back
// through the fast path unchanged (a codec that always declined would still
// decode, only slowly: this is what notices).
func TestCodecMatchesEncodingJSON(t *testing.T) {
	for _, m := range typical {
		want, err := json.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		got := m.Encode()
		if string(got) != string(want) {
			t.Errorf("Encode\n got %s\nwant %s", got, want)
		}
		back, ok := decodeFast(got)
		var std Message
		if err := json.Unmarshal(got, &std); err != nil {
			t.Fatal(err)
		}
		plainText := !strings.ContainsAny(string(got), `\`) && !strings.Contains(string(got), `"algorithms":[]`)
		if plainText && !ok {
			t.Errorf("%s: the fast path declined a plain message", got)
		}
		if ok && !reflect.DeepEqual(back, std) {
			t.Errorf("%s: fast path\n got %+v\nwant %+v", got, back, std)
		}
	}
}

// Inputs the fast path must decline (or read exactly as encoding/json
// does, which FuzzDecodeFastMatchesJSON checks for all inputs).
func TestDecodeFastDeclines(t *testing.T) {
	for _, in := range []string{
		`{"Type":"ack","lease_id":1}`,      // encoding/json matches keys case-insensitively
		`{"type":"ack","lease_id":1.0}`,    // a number an int cannot take
		`{"type":"ack","lease_id":1e3}`,    //
		`{"type":"ack","lease_id":01}`,     // not JSON
		`{"type":"ack","lease_id":null}`,   // null leaves a field as it was
		`{"type":"a\u0063k","lease_id":1}`, // escapes
		`{"type":"ack","lease_id":1,}`,     // not JSON
		`{"type":"ack","lease_id":1}x`,     // trailing bytes
		`{"type":"ack","extra":1}`,         // unknown keys are ignored by encoding/json
		`{"type":"ack","lease_id":12345678901234567890}`,
		`{"type":"ack","cpu_ms":1e400}`,
		`{"type":"ack","enrolled":1}`,
		"{\"type\":\"\xff\"}",
		`[]`, ``, `{`,
	} {
		if m, ok := decodeFast([]byte(in)); ok {
			t.Errorf("%s: fast path accepted it as %+v", in, m)
		}
	}
	// Whitespace, key order and repeated keys are JSON the fast path reads.
	m, ok := decodeFast([]byte(" {\n\t\"lease_id\" : 7 , \"type\":\"ack\",\"lease_id\":8,\"algorithms\":[\"a\"],\"algorithms\":[ \"b\" , \"c\" ] }\r\n"))
	if !ok || m.LeaseID != 8 || m.Type != TypeAck || !reflect.DeepEqual(m.Algorithms, []string{"b", "c"}) {
		t.Errorf("got %+v, %v", m, ok)
	}
}

func FuzzEncodeMatchesJSON(f *testing.F) {
	f.Add("result", "ecg.beats@1", "x<y", int64(5), int64(-3), 0.25, true)
	f.Add("fatal", "é\u2028", "\x00\\\"", int64(1)<<62, int64(0), 1e-9, false)
	f.Fuzz(func(t *testing.T, typ, s1, s2 string, n1, n2 int64, fl float64, yes bool) {
		if math.IsNaN(fl) || math.IsInf(fl, 0) {
			return // json.Marshal refuses them, and Encode panics as before
		}
		m := Message{Type: typ, Version: int(n2), Algorithms: []string{s1, s2}, Slots: int(n1), Agent: s1, VolunteerID: s2,
			PublicKey: s1, Signature: s2, Token: s1, Nickname: s2, Team: s1, Nonce: s2, Enrolled: yes,
			HeartbeatMS: int(n1), AckMS: int(n2), TotalVerified: n1, Credit: fl, Count: int(n2), LeaseID: n1,
			Algorithm: s2, Deadline: n2, Digest: s1, Size: int(n1), CPUMS: -fl, Done: n2, Total: n1, Reason: s1, Verdict: s2}
		if s1 == "" {
			m.Algorithms = nil
		}
		want, err := json.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Encode(); string(got) != string(want) {
			t.Fatalf("Encode\n got %s\nwant %s", got, want)
		}
	})
}

// Whatever the fast path accepts, encoding/json accepts and reads the same.
func FuzzDecodeFastMatchesJSON(f *testing.F) {
	for _, m := range typical {
		f.Add(m.Encode())
	}
	f.Add([]byte(` { "type" : "ack" , "lease_id" : -0 , "cpu_ms" : -0.5E+3, "algorithms" : [ ] } `))
	f.Add([]byte(`{"type":"ack","lease_id":1,"lease_id":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := decodeFast(b)
		if !ok {
			return
		}
		var want Message
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%q: fast path accepted what encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast path\n got %+v\nwant %+v", b, got, want)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	m := typical[4] // a lease
	b.Run("codec", func(b *testing.B) {
		for b.Loop() {
			m.Encode()
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(&m)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	in := typical[7].Encode() // a result
	b.Run("codec", func(b *testing.B) {
		for b.Loop() {
			if _, err := Decode(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var m Message
			if err := json.Unmarshal(in, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
