package websock

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h[http.CanonicalHeaderKey(name)] {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Accept upgrades the request to a websocket. A browser must come from the
// request's own host (its Origin's host equal to Host); a request with no
// Origin (native clients) is accepted. On failure Accept has answered the
// request with the status that says why.
func Accept(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	fail := func(status int, msg string) (*Conn, error) {
		http.Error(w, msg, status)
		return nil, fmt.Errorf("websocket upgrade refused: %s", msg)
	}
	switch {
	case r.ProtoMajor != 1:
		return fail(http.StatusHTTPVersionNotSupported, "websocket needs HTTP/1.1")
	case r.Method != http.MethodGet:
		return fail(http.StatusMethodNotAllowed, "websocket upgrade must be a GET")
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return fail(http.StatusUpgradeRequired, `websocket upgrade needs "Connection: Upgrade"`)
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return fail(http.StatusUpgradeRequired, `websocket upgrade needs "Upgrade: websocket"`)
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		return fail(http.StatusBadRequest, "unsupported Sec-WebSocket-Version (13 is)")
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
		return fail(http.StatusBadRequest, "Sec-WebSocket-Key must be 16 bytes in base64")
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil {
			return fail(http.StatusForbidden, fmt.Sprintf("unreadable Origin %q", origin))
		}
		if !strings.EqualFold(u.Host, r.Host) {
			return fail(http.StatusForbidden, fmt.Sprintf("request Origin %q is not authorized for Host %q", origin, r.Host))
		}
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return fail(http.StatusInternalServerError, "this connection cannot be upgraded (no http.Hijacker)")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return fail(http.StatusInternalServerError, "upgrade: "+err.Error())
	}
	// Bytes the client sent after its request (its first frames) are in
	// the HTTP server's buffer: they are the websocket's first bytes.
	buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
	buffered = append([]byte(nil), buffered...)
	nc.SetDeadline(time.Time{})
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n"
	nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write([]byte(resp)); err != nil {
		nc.Close()
		return nil, err
	}
	return newConn(nc, false, buffered), nil
}

// Dial opens a client websocket to rawURL (ws://HOST:PORT/PATH) over dial
// (for example a net.Dialer with a LocalAddr). It is the simulated
// volunteers' side in `pulsegrid bench`: TLS (wss) is not supported.
func Dial(ctx context.Context, rawURL string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "ws" {
		return nil, fmt.Errorf("websock.Dial %s: only ws:// is supported", rawURL)
	}
	nc, err := dial(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		nc.SetDeadline(d)
	} else {
		nc.SetDeadline(time.Now().Add(30 * time.Second))
	}
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	path := u.RequestURI()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 1024)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("websocket handshake with %s: %w", u.Host, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key) {
		nc.Close()
		return nil, fmt.Errorf("websocket handshake with %s: %s", u.Host, resp.Status)
	}
	buffered, _ := br.Peek(br.Buffered())
	nc.SetDeadline(time.Time{})
	return newConn(nc, true, append([]byte(nil), buffered...)), nil
}
