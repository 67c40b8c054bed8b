//go:build !js

package volunteer

import (
	"context"
	"fmt"

	"github.com/coder/websocket"

	"github.com/pulsegrid/pulsegrid/protocol"
)

// acceptHello is a test server's side of the handshake: it sends a
// challenge, checks the hello's signature and returns the hello and the
// identity it proves.
func acceptHello(ctx context.Context, c *websocket.Conn) (*protocol.Message, string, error) {
	nonce := protocol.NewNonce()
	if err := c.Write(ctx, websocket.MessageText, (&protocol.Message{Type: protocol.TypeChallenge, Version: protocol.Version, Nonce: nonce}).Encode()); err != nil {
		return nil, "", err
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		return nil, "", err
	}
	m, err := protocol.Decode(b)
	if err != nil {
		return nil, "", fmt.Errorf("hello: %w", err)
	}
	id, err := protocol.VerifyHello(m, nonce)
	return m, id, err
}
