package volunteer

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/pulsegrid/pulsegrid/algorithms/canon"
)

// TestPayloadDigest: the digest the volunteer checks payloads with is
// canon.Digest at every size, on either side of webCryptoMin (under
// js/wasm in node the large ones go through WebCrypto).
func TestPayloadDigest(t *testing.T) {
	for _, n := range []int{0, 1, 64, 16<<10 - 1, 16 << 10, 16<<10 + 1, 172_900, 1 << 20} {
		b := make([]byte, n)
		rand.Read(b)
		got, err := payloadDigest(context.Background(), b)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if want := canon.Digest(b); got != want {
			t.Errorf("%d bytes: digest %s, want %s", n, got, want)
		}
	}
}

// TestEventLoopTurn: a cancelled context ends a turn at once (that a turn
// hands the browser's event loop a turn without a timer is
// TestEventLoopTurnUsesNoTimer, js/wasm only).
func TestEventLoopTurn(t *testing.T) {
	ctx := context.Background()
	for range 200 {
		if err := eventLoopTurn(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := eventLoopTurn(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("turn with a cancelled context: %v, want context.Canceled", err)
	}
}
