package websock

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// bytesConn is a net.Conn that reads a fixed input and swallows writes, so
// that the fuzzer drives the server-side frame reader without a socket.
type bytesConn struct {
	r *bytes.Reader
}

func (b bytesConn) Read(p []byte) (int, error)       { return b.r.Read(p) }
func (b bytesConn) Write(p []byte) (int, error)      { return len(p), nil }
func (b bytesConn) Close() error                     { return nil }
func (b bytesConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (b bytesConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (b bytesConn) SetDeadline(time.Time) error      { return nil }
func (b bytesConn) SetReadDeadline(time.Time) error  { return nil }
func (b bytesConn) SetWriteDeadline(time.Time) error { return nil }

// clientFrames is what a well-behaved client sends: masked frames.
func clientFrames(frames ...Frame) []byte {
	c := newConn(bytesConn{r: bytes.NewReader(nil)}, true, nil)
	var b []byte
	for _, f := range frames {
		b = c.appendFrame(b, byte(f.Type), f.Payload)
	}
	return b
}

// FuzzServerRead feeds arbitrary bytes to the server side of a connection,
// as a hostile volunteer can: reads never panic, never return a message
// over the limit, and end with an error once the input is spent.
func FuzzServerRead(f *testing.F) {
	f.Add(clientFrames(Frame{Type: MessageText, Payload: []byte(`{"type":"hello"}`)}), uint16(1000))
	f.Add(clientFrames(Frame{Type: MessageBinary, Payload: make([]byte, 300)}, Frame{Type: MessageText, Payload: []byte("x")}), uint16(200))
	f.Add(clientFrames(Frame{Type: opPing, Payload: []byte("p")}, Frame{Type: MessageText, Payload: []byte("after ping")}), uint16(64))
	f.Add(clientFrames(Frame{Type: opClose, Payload: []byte{0x03, 0xe8, 'b', 'y', 'e'}}), uint16(64))
	f.Add([]byte{0x01, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, uint16(10))
	f.Add([]byte{0x01, 0x82, 1, 2, 3, 4, 'a', 'b', 0x80, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 1, 2, 3, 4}, uint16(10))
	f.Fuzz(func(t *testing.T, data []byte, limit uint16) {
		c := newConn(bytesConn{r: bytes.NewReader(data)}, false, nil)
		c.SetReadLimit(int64(limit))
		for i := 0; ; i++ {
			if i > len(data) {
				t.Fatalf("%d messages from %d bytes: the reader does not advance", i, len(data))
			}
			_, b, err := c.ReadMessage(int(limit))
			if err != nil {
				if errors.Is(err, io.ErrNoProgress) {
					t.Fatalf("read made no progress: %v", err)
				}
				return
			}
			if len(b) > int(limit) {
				t.Fatalf("message of %d bytes over the limit %d", len(b), limit)
			}
		}
	})
}
