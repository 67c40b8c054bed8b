package volunteer

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

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

// TestEventLoopTurn: turns do not wait on timers (200 of them take well
// under the 200 ms that 1 ms timers would), and a cancelled context ends
// one at once.
func TestEventLoopTurn(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	for range 200 {
		if err := eventLoopTurn(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 150*time.Millisecond {
		t.Errorf("200 turns took %v, want well under 200 ms", d)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := eventLoopTurn(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("turn with a cancelled context: %v, want context.Canceled", err)
	}
}
