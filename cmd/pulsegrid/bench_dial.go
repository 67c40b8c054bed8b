package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsegrid/pulsegrid/protocol"
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
// challenge, signs its nonce, and returns after the welcome.
func benchConnect(ctx context.Context, url string, i int, key protocol.Key, algs []string, slots int) (*websocket.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: benchAddr(i)}, Timeout: 15 * time.Second}
	opts := &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}}
	conn, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(protocol.MaxPayload + 1024)
	fail := func(err error) (*websocket.Conn, error) {
		conn.CloseNow()
		return nil, err
	}
	_, b, err := conn.Read(ctx)
	if err != nil {
		return fail(fmt.Errorf("no challenge: %w", err))
	}
	ch, err := protocol.Decode(b)
	if err != nil || ch.Type != protocol.TypeChallenge {
		return fail(fmt.Errorf("want a challenge, got %q (%v)", b, err))
	}
	hello := &protocol.Message{Type: protocol.TypeHello, Version: protocol.Version, Algorithms: algs, Slots: slots,
		Agent: "bench", PublicKey: key.PublicKey(), Signature: key.Sign(ch.Nonce)}
	if err := conn.Write(ctx, websocket.MessageText, hello.Encode()); err != nil {
		return fail(err)
	}
	_, b, err = conn.Read(ctx)
	if err != nil {
		return fail(fmt.Errorf("no welcome: %w", err))
	}
	if w, err := protocol.Decode(b); err != nil || w.Type != protocol.TypeWelcome {
		return fail(fmt.Errorf("want a welcome, got %q", b))
	}
	return conn, nil
}
