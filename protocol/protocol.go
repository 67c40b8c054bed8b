// Package protocol defines the messages a volunteer and the server exchange
// over the websocket at /ws/volunteer. docs/protocol.md is the reference;
// this package is its Go form, shared by the server and the volunteer (it
// builds for js/wasm).
//
// Control messages are JSON text frames, one Message each. Bulk data travels
// in binary frames: a lease is followed by exactly one binary frame holding
// the encoded pipeline.Task, and a result is followed by exactly one binary
// frame holding the chunk output.
package protocol

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// Version is the protocol version this code speaks. The server refuses a
// hello with another version. Version 2 replaced the secret sent in every
// hello by a signature over the server's challenge (identity.go).
const Version = 2

// Path is where the server accepts volunteer websockets.
const Path = "/ws/volunteer"

// Limits on frame sizes. Each side sets its read limit to the larger of the
// two it may receive, and a message that declares a larger payload is refused.
const (
	// MaxControl bounds a JSON control message.
	MaxControl = 64 << 10
	// MaxPayload bounds a chunk payload (server → volunteer binary frame).
	MaxPayload = 32 << 20
	// MaxOutput bounds a chunk output (volunteer → server binary frame).
	MaxOutput = 8 << 20
)

// Message types.
const (
	TypeChallenge = "challenge" // server → volunteer, first message: the nonce to sign
	TypeHello     = "hello"     // volunteer → server, answer to the challenge
	TypeWelcome   = "welcome"   // server → volunteer, answer to hello
	TypeRequest   = "request"   // volunteer → server: N more leases wanted
	TypeLease     = "lease"     // server → volunteer, followed by the payload frame
	TypeAck       = "ack"       // volunteer → server: lease accepted, work started
	TypeProgress  = "progress"  // volunteer → server: heartbeat, extends the lease
	TypeResult    = "result"    // volunteer → server, followed by the output frame
	TypeError     = "error"     // volunteer → server: the chunk could not be computed
	TypeCancel    = "cancel"    // server → volunteer: stop working on a lease
	TypeVerdict   = "verdict"   // server → volunteer: what became of a result
	TypeFatal     = "fatal"     // server → volunteer: protocol violation, connection closes
)

// Verdicts of a result.
const (
	VerdictVerified = "verified" // agreed with the quorum (or accepted on trust)
	VerdictRejected = "rejected" // disagreed with the verified output
	VerdictIgnored  = "ignored"  // not taken into account: lease not held, chunk already settled
)

// Message is one control message. Fields irrelevant to a type are omitted.
type Message struct {
	Type string `json:"type"`

	// hello
	Version     int      `json:"version,omitempty"`
	Algorithms  []string `json:"algorithms,omitempty"`   // "family.name@version" the volunteer can run
	Slots       int      `json:"slots,omitempty"`        // chunks it may run at once
	Agent       string   `json:"agent,omitempty"`        // free text, e.g. "pulsegrid-native/linux"
	VolunteerID string   `json:"volunteer_id,omitempty"` // welcome: the identity, derived from PublicKey (IdentityID)
	PublicKey   string   `json:"public_key,omitempty"`   // hello: the volunteer's Ed25519 public key, base64url without padding
	Signature   string   `json:"signature,omitempty"`    // hello: Ed25519 signature of HelloSigned(nonce), base64url without padding
	Token       string   `json:"token,omitempty"`        // hello: an enrollment (API) token of a volunteer or admin account
	Nickname    string   `json:"nickname,omitempty"`     // hello: public name on the leaderboard (see CleanNickname); empty: anonymous
	Team        string   `json:"team,omitempty"`         // hello: the team joined, by name (see CleanTeam); empty: none

	// challenge
	Nonce string `json:"nonce,omitempty"` // base64url of NonceBytes random bytes

	// welcome
	Enrolled    bool `json:"enrolled,omitempty"`
	HeartbeatMS int  `json:"heartbeat_ms,omitempty"` // send progress at least this often while running
	AckMS       int  `json:"ack_ms,omitempty"`       // ack a lease within this time

	// welcome, and a verified verdict: the server's all-time totals for
	// this identity (all its connections), so a volunteer sees credit that
	// accumulates across visits. Credit is CPU seconds of verified results.
	TotalVerified int64   `json:"total_verified,omitempty"`
	Credit        float64 `json:"credit,omitempty"`

	// request; result and error may carry it too, asking for Count more
	// leases in the same message
	Count int `json:"count,omitempty"`

	// lease, ack, progress, result, error, cancel, verdict
	LeaseID   int64  `json:"lease_id,omitempty"`
	Algorithm string `json:"algorithm,omitempty"`
	Deadline  int64  `json:"deadline,omitempty"` // lease: Unix milliseconds
	Digest    string `json:"digest,omitempty"`   // lease: SHA-256 hex of the payload; result: of the output
	Size      int    `json:"size,omitempty"`     // lease, result: byte length of the binary frame that follows

	// result: milliseconds of CPU the volunteer spent on the chunk (resting
	// excluded), fractions allowed: a native chunk may take less than one.
	// The server caps it by the lease's wall time.
	CPUMS float64 `json:"cpu_ms,omitempty"`

	// progress
	Done  int64 `json:"done,omitempty"`
	Total int64 `json:"total,omitempty"`

	// error, cancel, verdict, fatal
	Reason  string `json:"reason,omitempty"`
	Verdict string `json:"verdict,omitempty"`
}

// Encode returns the JSON of m, as json.Marshal writes it (codec.go).
func (m *Message) Encode() []byte {
	return m.appendJSON(make([]byte, 0, 128))
}

// Decode parses one control message and checks the fields its type needs.
// Plain messages take the codec's fast path; json.Unmarshal reads the rest
// and words the errors.
func Decode(b []byte) (*Message, error) {
	if len(b) > MaxControl {
		return nil, fmt.Errorf("control message of %d bytes exceeds the limit of %d", len(b), MaxControl)
	}
	m, ok := decodeFast(b)
	if !ok {
		m = Message{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("control message is not valid JSON: %w", err)
		}
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Message) check() error {
	switch m.Type {
	case TypeHello:
		if m.Version != Version {
			return fmt.Errorf("hello: protocol version %d is not supported (want %d)", m.Version, Version)
		}
		if m.Slots < 0 || m.Slots > 256 {
			return fmt.Errorf("hello: slots %d out of range 0..256", m.Slots)
		}
		if m.PublicKey == "" || m.Signature == "" {
			return fmt.Errorf("hello: public_key and signature are required (protocol version 2: sign the challenge's nonce)")
		}
	case TypeChallenge:
		if m.Nonce == "" {
			return fmt.Errorf("challenge: nonce missing")
		}
	case TypeRequest:
		if m.Count < 1 || m.Count > 256 {
			return fmt.Errorf("request: count %d out of range 1..256", m.Count)
		}
	case TypeAck, TypeProgress, TypeError, TypeCancel, TypeVerdict:
		if m.LeaseID == 0 {
			return fmt.Errorf("%s: lease_id missing", m.Type)
		}
		if m.Count < 0 || m.Count > 256 {
			return fmt.Errorf("%s: count %d out of range 0..256", m.Type, m.Count)
		}
	case TypeLease:
		if m.LeaseID == 0 || m.Size < 0 || m.Size > MaxPayload {
			return fmt.Errorf("lease: lease_id missing or size %d out of range 0..%d", m.Size, MaxPayload)
		}
	case TypeResult:
		if m.LeaseID == 0 || m.Size < 0 || m.Size > MaxOutput || len(m.Digest) != 64 || m.Count < 0 || m.Count > 256 {
			return fmt.Errorf("result: needs lease_id, a 64-hex digest, a size in 0..%d and a count in 0..256", MaxOutput)
		}
		if m.CPUMS < 0 {
			return fmt.Errorf("result: cpu_ms %v is negative", m.CPUMS)
		}
	case TypeWelcome, TypeFatal:
	default:
		return fmt.Errorf("unknown message type %q", m.Type)
	}
	return nil
}

// CleanTeam is the team name the server keeps from a hello, cleaned as a
// nickname is (CleanNickname): teams are public labels too. Volunteers
// join a team by naming it exactly so; the leaderboard sums their credit.
func CleanTeam(s string) string { return CleanNickname(s) }

// MaxNickname is the longest nickname kept, in runes.
const MaxNickname = 40

// CleanNickname is the nickname the server keeps from a hello: invalid
// UTF-8 and characters that are not printable (controls, format characters
// such as bidi overrides) are dropped, runs of spaces become one space, the
// ends are trimmed, and at most MaxNickname runes are kept. It is shown in
// public, so it never carries an identity of its own: it is a label.
func CleanNickname(s string) string {
	kept := strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case r == unicode.ReplacementChar || !unicode.IsPrint(r):
			return -1
		}
		return r
	}, s)
	r := []rune(strings.Join(strings.Fields(kept), " "))
	if len(r) > MaxNickname {
		r = r[:MaxNickname]
	}
	return strings.TrimSpace(string(r))
}
