package websock

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// echoServer accepts with Accept and hands each connection to serve.
func echoServer(t *testing.T, serve func(c *Conn)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r)
		if err != nil {
			return
		}
		defer c.CloseNow()
		serve(c)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// echo sends every message back, with its type, in one WriteFrames call
// per message (twice, to check that several frames in one write arrive as
// separate messages).
func echo(c *Conn) {
	c.SetReadLimit(1 << 20)
	for {
		typ, b, err := c.ReadMessage(1 << 20)
		if err != nil {
			return
		}
		if err := c.WriteFrames(time.Now().Add(5*time.Second), Frame{typ, b}, Frame{typ, b}); err != nil {
			return
		}
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestInteropCoderClient: an independent RFC 6455 client (coder/websocket,
// which the native volunteer and the attack tests use) against the server
// side: small, 16-bit and 64-bit lengths, masked payloads, fragmented
// messages, pings, and the close handshake.
func TestInteropCoderClient(t *testing.T) {
	url := echoServer(t, echo)
	conn, _, err := websocket.Dial(ctx(t), url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 21)
	for _, tc := range []struct {
		name string
		typ  websocket.MessageType
		msg  []byte
	}{
		{"Empty", websocket.MessageText, []byte{}},
		{"Small", websocket.MessageText, []byte(`{"type":"request","count":2}`)},
		{"Len125", websocket.MessageBinary, bytes.Repeat([]byte{7}, 125)},
		{"Len126", websocket.MessageBinary, bytes.Repeat([]byte{8}, 126)},
		{"Len65535", websocket.MessageBinary, bytes.Repeat([]byte("ab"), 65535/2+1)[:65535]},
		{"Len65536", websocket.MessageBinary, bytes.Repeat([]byte("xyz"), 65536/3+1)[:65536]},
		{"Large", websocket.MessageBinary, bytes.Repeat([]byte("0123456789abcdef!"), 40000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := conn.Write(ctx(t), tc.typ, tc.msg); err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				typ, b, err := conn.Read(ctx(t))
				if err != nil {
					t.Fatal(err)
				}
				if typ != tc.typ || !bytes.Equal(b, tc.msg) {
					t.Fatalf("echo %d: got type %v, %d bytes; want type %v, %d bytes, equal", i, typ, len(b), tc.typ, len(tc.msg))
				}
			}
		})
	}
	t.Run("Fragmented", func(t *testing.T) {
		w, err := conn.Writer(ctx(t), websocket.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		parts := []string{`{"type":`, `"ack",`, strings.Repeat(" ", 5000), `"lease_id":7}`}
		for _, p := range parts {
			if _, err := w.Write([]byte(p)); err != nil { // one frame each
				t.Fatal(err)
			}
		}
		w.Close()
		_, b, err := conn.Read(ctx(t))
		if err != nil || string(b) != strings.Join(parts, "") {
			t.Fatalf("fragmented message: got %q, %v; want the parts joined", b, err)
		}
		conn.Read(ctx(t))
	})
	t.Run("Ping", func(t *testing.T) {
		rctx, cancel := context.WithCancel(ctx(t))
		defer cancel()
		readDone := make(chan struct{})
		go func() { // coder's Ping needs a reader to see the pong
			defer close(readDone)
			conn.Reader(rctx)
		}()
		if err := conn.Ping(ctx(t)); err != nil {
			t.Fatalf("ping: %v", err)
		}
		cancel()
		<-readDone
	})
}

// TestCloseHandshake: a close from either side reaches the other with its
// status and reason.
func TestCloseHandshake(t *testing.T) {
	t.Run("ServerCloses", func(t *testing.T) {
		url := echoServer(t, func(c *Conn) {
			c.ReadMessage(100)
			c.Close(StatusTryAgainLater, "the server has as many volunteers as it can hold", false)
		})
		conn, _, err := websocket.Dial(ctx(t), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		conn.Write(ctx(t), websocket.MessageText, []byte("hi"))
		_, _, err = conn.Read(ctx(t))
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusTryAgainLater || ce.Reason != "the server has as many volunteers as it can hold" {
			t.Fatalf("got %v, want close 1013 with the reason", err)
		}
	})
	t.Run("ClientCloses", func(t *testing.T) {
		got := make(chan error, 1)
		url := echoServer(t, func(c *Conn) {
			_, _, err := c.NextReader()
			got <- err
		})
		conn, _, err := websocket.Dial(ctx(t), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.Close(websocket.StatusGoingAway, "bye"); err != nil {
			t.Errorf("client close: %v (the server must answer the close)", err)
		}
		err = <-got
		if CloseStatus(err) != StatusGoingAway || err.(*CloseError).Reason != "bye" {
			t.Fatalf("server read: got %v, want close 1001 bye", err)
		}
	})
}

// TestReadLimits: a message over the limit closes with 1009, an unmasked
// client frame with 1002.
func TestReadLimits(t *testing.T) {
	t.Run("TooBig", func(t *testing.T) {
		got := make(chan error, 1)
		url := echoServer(t, func(c *Conn) {
			c.SetReadLimit(1000)
			_, _, err := c.ReadMessage(1000)
			got <- err
		})
		conn, _, err := websocket.Dial(ctx(t), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		conn.Write(ctx(t), websocket.MessageBinary, make([]byte, 1001))
		if err := <-got; !errors.Is(err, ErrMessageTooBig) {
			t.Errorf("server: got %v, want ErrMessageTooBig", err)
		}
		if _, _, err := conn.Read(ctx(t)); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Errorf("client: got %v, want close 1009", err)
		}
	})
	t.Run("FragmentsOverLimit", func(t *testing.T) {
		got := make(chan error, 1)
		url := echoServer(t, func(c *Conn) {
			c.SetReadLimit(1000)
			_, _, err := c.ReadMessage(1000)
			got <- err
		})
		conn, _, err := websocket.Dial(ctx(t), url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		w, _ := conn.Writer(ctx(t), websocket.MessageText)
		for range 3 {
			w.Write(make([]byte, 400))
		}
		w.Close()
		if err := <-got; !errors.Is(err, ErrMessageTooBig) {
			t.Errorf("server: got %v, want ErrMessageTooBig", err)
		}
	})
	t.Run("Unmasked", func(t *testing.T) {
		got := make(chan error, 1)
		url := echoServer(t, func(c *Conn) {
			_, _, err := c.ReadMessage(1000)
			got <- err
		})
		c, err := Dial(ctx(t), url, (&net.Dialer{}).DialContext)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		c.nc.Write([]byte{0x81, 2, 'h', 'i'}) // a client frame without a mask
		var pe *ProtocolError
		if err := <-got; !errors.As(err, &pe) {
			t.Errorf("server: got %v, want a ProtocolError", err)
		}
		if _, _, err := c.ReadMessage(100); CloseStatus(err) != StatusProtocolError {
			t.Errorf("client: got %v, want close 1002", err)
		}
	})
}

// TestClientAgainstCoderServer: the bench's client side against an
// independent server (coder/websocket's Accept).
func TestClientAgainstCoderServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		conn.SetReadLimit(1 << 20)
		for {
			typ, b, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			conn.Write(r.Context(), typ, b)
		}
	}))
	defer srv.Close()
	c, err := Dial(ctx(t), "ws"+strings.TrimPrefix(srv.URL, "http"), (&net.Dialer{}).DialContext)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	big := bytes.Repeat([]byte("payload "), 20000)
	if err := c.WriteFrames(time.Now().Add(5*time.Second), Frame{MessageText, []byte(`{"type":"result"}`)}, Frame{MessageBinary, big}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		typ MessageType
		b   []byte
	}{{MessageText, []byte(`{"type":"result"}`)}, {MessageBinary, big}} {
		typ, b, err := c.ReadMessage(1 << 20)
		if err != nil || typ != want.typ || !bytes.Equal(b, want.b) {
			t.Fatalf("got %v %d bytes %v, want %v %d bytes", typ, len(b), err, want.typ, len(want.b))
		}
	}
}

// TestIdleHoldsNoReadBuffer: once a message has been read whole, a plain
// TCP connection gives its read buffer back, and reads again after that.
func TestIdleHoldsNoReadBuffer(t *testing.T) {
	held := make(chan bool, 4)
	url := echoServer(t, func(c *Conn) {
		for range 2 {
			if _, _, err := c.ReadMessage(100); err != nil {
				held <- true
				return
			}
			held <- c.rbuf != nil
		}
	})
	c, err := Dial(ctx(t), url, (&net.Dialer{}).DialContext)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for i := range 2 {
		c.WriteFrames(time.Now().Add(time.Second), Frame{MessageText, []byte("hello")})
		if <-held {
			t.Errorf("message %d: the connection still holds its read buffer while waiting", i)
		}
	}
}

// TestMask: masking from any position of the key equals byte-wise XOR.
func TestMask(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for _, pos := range []int{0, 1, 2, 3, 5} {
		for _, n := range []int{0, 1, 7, 8, 9, 33} {
			p := bytes.Repeat([]byte{0xaa}, n)
			want := make([]byte, n)
			for i := range want {
				want[i] = 0xaa ^ key[(pos+i)&3]
			}
			maskBytes(key, pos, p)
			if !bytes.Equal(p, want) {
				t.Errorf("pos %d, n %d: got %x, want %x", pos, n, p, want)
			}
		}
	}
	var _ io.Reader = &msgReader{}
}

// TestAcceptKey: RFC 6455's own example (section 1.3).
func TestAcceptKey(t *testing.T) {
	if got, want := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
