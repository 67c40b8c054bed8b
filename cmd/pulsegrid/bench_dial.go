package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/websock"
)

// benchAddr is the source address of simulated volunteer i: one /24 of
// 127.0.0.0/8 each (127.1.0.1, 127.1.1.1, …), so that the server's
// per-network caps and distinct-network quorums see them as the separate
// machines they stand for.
func benchAddr(i int) net.IP {
	return net.IPv4(127, byte(1+i/256), byte(i%256), 1)
}

// benchConnect opens volunteer i's websocket from its own address and
// says a signed hello (protocol version 2) with key: it reads the
// challenge, signs its nonce, and returns after the welcome. The client
// side is websock's (a result and its output frame go out in one write);
// the tests' independent clients (coder/websocket, Chromium) check that
// the server speaks to others.
func benchConnect(ctx context.Context, url string, i int, key protocol.Key, algs []string, slots int) (*websock.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: benchAddr(i)}, Timeout: 15 * time.Second}
	conn, err := websock.Dial(ctx, url, d.DialContext)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(protocol.MaxPayload + 1024)
	fail := func(err error) (*websock.Conn, error) {
		conn.CloseNow()
		return nil, err
	}
	_, b, err := conn.ReadMessage(protocol.MaxControl)
	if err != nil {
		return fail(fmt.Errorf("no challenge: %w", err))
	}
	ch, err := protocol.Decode(b)
	if err != nil || ch.Type != protocol.TypeChallenge {
		return fail(fmt.Errorf("want a challenge, got %q (%v)", b, err))
	}
	hello := &protocol.Message{Type: protocol.TypeHello, Version: protocol.Version, Algorithms: algs, Slots: slots,
		Agent: "bench", PublicKey: key.PublicKey(), Signature: key.Sign(ch.Nonce)}
	if err := conn.WriteFrames(time.Now().Add(15*time.Second), websock.Frame{Type: websock.MessageText, Payload: hello.Encode()}); err != nil {
		return fail(err)
	}
	_, b, err = conn.ReadMessage(protocol.MaxControl)
	if err != nil {
		return fail(fmt.Errorf("no welcome: %w", err))
	}
	if w, err := protocol.Decode(b); err != nil || w.Type != protocol.TypeWelcome {
		return fail(fmt.Errorf("want a welcome, got %q", b))
	}
	return conn, nil
}
