// Package client is a hostile pulsegrid volunteer, written from
// docs/protocol.md alone: it has its own message structs and its own
// connection loop, and imports none of pulsegrid's protocol, volunteer or
// server packages. It does import the open-source pipeline
// (algorithms/...), as a real attacker would, to compute honest outputs
// and then forge them so that the forgeries decode and merge cleanly.
//
// One Volunteer is one attacker identity at a time (it may renew it), with
// a chosen source address in 127.0.0.0/8 so that a harness can make many
// identities look like one address, one /24 or many prefixes. Behaviours
// compose: a Behaviour says when it lies and how, whether it hoards leases,
// injects errors, claims CPU time or sends partial frames.
package client

// Wire constants from docs/protocol.md.
const (
	// wsPath is where the server accepts volunteer websockets.
	wsPath = "/ws/volunteer"
	// maxPayload is what a volunteer should accept per frame: 32 MiB + 1 KiB.
	maxPayload = 32<<20 + 1024
	// MaxOutput is the largest result frame the server reads (8 MiB).
	MaxOutput = 8 << 20
	// helloV2Prefix is signed, followed by the challenge's nonce string as received.
	helloV2Prefix = "pulsegrid-hello-v2\n"
	// statusTryAgainLater is websocket close status 1013: the server is at
	// a capacity or per-network cap; back off.
	statusTryAgainLater = 1013
)

// message is one JSON control message, every field of every type the
// protocol documents (v1 and v2). Unknown fields are ignored by both sides.
type message struct {
	Type string `json:"type"`

	// hello, welcome, challenge
	Version     int      `json:"version,omitempty"`
	Algorithms  []string `json:"algorithms,omitempty"`
	Slots       int      `json:"slots,omitempty"`
	Agent       string   `json:"agent,omitempty"`
	VolunteerID string   `json:"volunteer_id,omitempty"`
	Secret      string   `json:"secret,omitempty"`
	Token       string   `json:"token,omitempty"`
	Nickname    string   `json:"nickname,omitempty"`
	// v2: challenge carries the nonce; hello answers with the key and the
	// signature of helloV2Prefix + nonce.
	Nonce     string `json:"nonce,omitempty"`
	PublicKey string `json:"public_key,omitempty"`
	Signature string `json:"signature,omitempty"`

	// welcome
	Enrolled      bool    `json:"enrolled,omitempty"`
	HeartbeatMS   int     `json:"heartbeat_ms,omitempty"`
	AckMS         int     `json:"ack_ms,omitempty"`
	TotalVerified int64   `json:"total_verified,omitempty"`
	Credit        float64 `json:"credit,omitempty"`

	// request (and piggybacked on result and error)
	Count int `json:"count,omitempty"`

	// lease, ack, progress, result, error, cancel, verdict
	LeaseID   int64   `json:"lease_id,omitempty"`
	Algorithm string  `json:"algorithm,omitempty"`
	Deadline  int64   `json:"deadline,omitempty"`
	Digest    string  `json:"digest,omitempty"`
	Size      int     `json:"size,omitempty"`
	CPUMS     float64 `json:"cpu_ms,omitempty"`
	Done      int64   `json:"done,omitempty"`
	Total     int64   `json:"total,omitempty"`

	// error, cancel, verdict, fatal
	Reason  string `json:"reason,omitempty"`
	Verdict string `json:"verdict,omitempty"`
}
