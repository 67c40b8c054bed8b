package protocol

import (
	"strings"
	"testing"
)

func TestHelloSignature(t *testing.T) {
	k := NewKey()
	nonce := NewNonce()
	hello := &Message{Type: TypeHello, Version: Version, PublicKey: k.PublicKey(), Signature: k.Sign(nonce)}
	id, err := VerifyHello(hello, nonce)
	if err != nil {
		t.Fatalf("VerifyHello: %v", err)
	}
	if id != k.ID() || !strings.HasPrefix(id, "v-") || len(id) != 22 {
		t.Errorf("got id %q, want %q (v- and 20 hex digits)", id, k.ID())
	}
	back, err := ParseKey(k.String())
	if err != nil || back.ID() != k.ID() {
		t.Fatalf("ParseKey(String()): %v, id %q want %q", err, back.ID(), k.ID())
	}
	other := NewKey()
	tests := []struct {
		name  string
		hello Message
		nonce string
	}{
		{"ReplayedOnAnotherChallenge", *hello, NewNonce()},
		{"SignedByAnotherKey", Message{PublicKey: k.PublicKey(), Signature: other.Sign(nonce)}, nonce},
		{"OtherKeysSignature", Message{PublicKey: other.PublicKey(), Signature: k.Sign(nonce)}, nonce},
		{"BadPublicKey", Message{PublicKey: "short", Signature: k.Sign(nonce)}, nonce},
		{"BadSignature", Message{PublicKey: k.PublicKey(), Signature: "!!"}, nonce},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyHello(&tc.hello, tc.nonce); err == nil {
				t.Error("got no error, want the hello refused")
			}
		})
	}
	if _, err := ParseKey("not a key"); err == nil {
		t.Error("ParseKey accepted garbage")
	}
}
