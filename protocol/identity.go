package protocol

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// A volunteer's identity is an Ed25519 key pair that the volunteer makes
// and keeps: the server knows only the public key. At every connection the
// server sends a fresh nonce (challenge) and the volunteer signs it in its
// hello, so the private key never crosses the wire and a hello seen once
// cannot be replayed. A new identity is a new key pair: identities are
// free, which is why the server's trust model never relies on them alone.

// NonceBytes is the size of a challenge's nonce.
const NonceBytes = 32

var b64 = base64.RawURLEncoding

// NewNonce returns a fresh challenge nonce, base64url-encoded.
func NewNonce() string {
	b := make([]byte, NonceBytes)
	rand.Read(b)
	return b64.EncodeToString(b)
}

// HelloSigned is the message a volunteer signs: a fixed context string and
// the challenge's nonce, so the signature is useless for anything else.
func HelloSigned(nonce string) []byte {
	return []byte("pulsegrid-hello-v2\n" + nonce)
}

// Key is a volunteer's private key.
type Key struct{ priv ed25519.PrivateKey }

// NewKey makes a new identity.
func NewKey() Key {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return Key{priv}
}

// ParseKey reads a key saved by Key.String (the base64url seed).
func ParseKey(s string) (Key, error) {
	seed, err := b64.DecodeString(s)
	if err != nil || len(seed) != ed25519.SeedSize {
		return Key{}, fmt.Errorf("volunteer key: want %d bytes of base64url seed", ed25519.SeedSize)
	}
	return Key{ed25519.NewKeyFromSeed(seed)}, nil
}

// String is the key's seed, base64url-encoded: keep it private.
func (k Key) String() string { return b64.EncodeToString(k.priv.Seed()) }

// PublicKey is the public key as a hello carries it.
func (k Key) PublicKey() string { return b64.EncodeToString(k.priv.Public().(ed25519.PublicKey)) }

// ID is the identity's volunteer id (IdentityID of its public key).
func (k Key) ID() string {
	id, _ := IdentityID(k.PublicKey())
	return id
}

// Sign answers a challenge: the hello's signature field.
func (k Key) Sign(nonce string) string {
	return b64.EncodeToString(ed25519.Sign(k.priv, HelloSigned(nonce)))
}

// IdentityID is the volunteer id of a public key: "v-" and the first 20 hex
// digits of its SHA-256.
func IdentityID(publicKey string) (string, error) {
	pub, err := b64.DecodeString(publicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("hello: public_key must be %d bytes of base64url", ed25519.PublicKeySize)
	}
	sum := sha256.Sum256(pub)
	return "v-" + hex.EncodeToString(sum[:])[:20], nil
}

// VerifyHello checks a hello's signature of nonce and returns the
// volunteer id its public key stands for.
func VerifyHello(m *Message, nonce string) (string, error) {
	id, err := IdentityID(m.PublicKey)
	if err != nil {
		return "", err
	}
	pub, _ := b64.DecodeString(m.PublicKey)
	sig, err := b64.DecodeString(m.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, HelloSigned(nonce), sig) {
		return "", fmt.Errorf("hello: the signature does not verify against public_key for this connection's challenge")
	}
	return id, nil
}
