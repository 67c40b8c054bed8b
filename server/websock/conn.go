// Package websock is the volunteer websocket's transport (RFC 6455, no
// extensions): the server's side, and a client side for the simulated
// volunteers of `pulsegrid bench`.
//
// It exists, instead of a general websocket library, for two costs that
// dominate a coordinator serving thousands of volunteers:
//   - CPU: Frames queued for one connection are written together, header
//     and payload of every frame in one write (writev for large payloads),
//     with a deadline on the connection instead of a timeout context per
//     write, and messages are read into pooled buffers.
//   - Memory while idle: a connection waiting for its volunteer's next
//     message holds no read buffer (on plain TCP the socket is polled for
//     readability and a pooled buffer taken only once bytes are there),
//     and no writer goroutine (the caller starts one only while it has
//     frames to write, see server/ws.go).
//
// What goes over the wire is standard RFC 6455: any conforming client
// (browsers, coder/websocket in the native volunteer and the tests'
// independent clients) speaks to it. Messages may be fragmented by the
// peer; ping frames are answered with pong; the close handshake is
// carried out both ways. No extension (compression) is negotiated.
package websock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// MessageType is the type of a data message.
type MessageType int

// The two data message types.
const (
	MessageText   MessageType = 1
	MessageBinary MessageType = 2
)

// StatusCode is a close status (RFC 6455, 7.4).
type StatusCode int

// The close statuses the project sends or reads.
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusNoStatus        StatusCode = 1005 // never sent: no status in the peer's close frame
	StatusPolicyViolation StatusCode = 1008
	StatusMessageTooBig   StatusCode = 1009
	StatusInternalError   StatusCode = 1011
	StatusServiceRestart  StatusCode = 1012
	StatusTryAgainLater   StatusCode = 1013
)

const (
	opContinuation = 0
	opText         = 1
	opBinary       = 2
	opClose        = 8
	opPing         = 9
	opPong         = 10

	maxControl = 125
	// readBufSize is the pooled read buffer: the largest chunk read from
	// the socket at once (bigger frames are read straight into the
	// caller's memory).
	readBufSize = 4096
	// closeWait bounds the close handshake: how long a closing side waits
	// for the peer's close frame before closing the socket.
	closeWait = 2 * time.Second
)

// CloseError is the peer's close frame, returned by reads after it.
type CloseError struct {
	Code   StatusCode
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("websocket closed by the peer: status %d, reason %q", e.Code, e.Reason)
}

// CloseStatus is the status of the peer's close frame that err carries,
// or -1 when err is not one.
func CloseStatus(err error) StatusCode {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return -1
}

// ErrMessageTooBig is returned by reads of a message over the read limit;
// the connection is then closed with StatusMessageTooBig.
var ErrMessageTooBig = errors.New("websocket message too big")

// ProtocolError is a frame that breaks RFC 6455; the connection is closed
// with StatusProtocolError.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "websocket protocol error: " + e.Msg }

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// Conn is one websocket connection. One goroutine reads (NextReader,
// ReadMessage); writes (WriteFrames, Close) may come from any goroutine.
type Conn struct {
	nc     net.Conn
	client bool // this side is the client: its frames are masked, the peer's are not
	// raw is the socket for readiness polling (nil when nc is not a plain
	// socket, e.g. TLS: then rbuf is kept for the connection's life).
	raw syscall.RawConn

	// Read side: only the reading goroutine touches these.
	rbuf    *[]byte // nil while idle on a raw socket
	r, w    int     // unread bytes are (*rbuf)[r:w]
	limit   int64   // largest data message accepted
	msg     msgReader
	readErr error // sticky: once a read failed every later one does

	// Write side.
	wmu       sync.Mutex
	wbuf      []byte // header and small payload bytes of one WriteFrames call
	closeSent bool
	rng       *rand.ChaCha8 // mask keys (client side only)

	closeOnce sync.Once
	closed    chan struct{}
}

func newConn(nc net.Conn, client bool, buffered []byte) *Conn {
	c := &Conn{nc: nc, client: client, limit: 32 << 10, closed: make(chan struct{})}
	c.msg.c = c
	if sc, ok := nc.(syscall.Conn); ok && canPoll {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	if len(buffered) > 0 || c.raw == nil {
		c.rbuf = readBufs.Get().(*[]byte)
		if len(buffered) > len(*c.rbuf) {
			b := make([]byte, len(buffered))
			c.rbuf = &b
		}
		c.w = copy(*c.rbuf, buffered)
	}
	if client {
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], rand.Uint64())
		binary.LittleEndian.PutUint64(seed[8:], rand.Uint64())
		c.rng = rand.NewChaCha8(seed)
	}
	return c
}

// SetReadLimit sets the largest data message a read accepts (32 KiB by
// default).
func (c *Conn) SetReadLimit(n int64) { c.limit = n }

// NetConn is the underlying connection (for deadlines and addresses).
func (c *Conn) NetConn() net.Conn { return c.nc }

// CloseNow closes the socket without a close handshake.
func (c *Conn) CloseNow() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.nc.Close()
	})
	return err
}

// fill reads more bytes from the socket into the read buffer, which it
// takes from the pool if the connection holds none. It is called only
// when every buffered byte has been consumed.
func (c *Conn) fill() error {
	if c.readErr != nil {
		return c.readErr
	}
	c.r, c.w = 0, 0
	if c.raw == nil {
		n, err := c.nc.Read(*c.rbuf)
		c.w = n
		if n > 0 {
			return nil
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		c.readErr = err
		return err
	}
	if c.rbuf != nil {
		readBufs.Put(c.rbuf)
		c.rbuf = nil
	}
	n, err := pollRead(c)
	c.w = n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.EOF
	}
	if c.rbuf != nil {
		readBufs.Put(c.rbuf)
		c.rbuf = nil
	}
	c.readErr = err
	return err
}

// release gives the read buffer back to the pool when nothing is left in
// it: called once a message has been read, so that an idle connection
// holds no buffer.
func (c *Conn) release() {
	if c.raw != nil && c.r == c.w && c.rbuf != nil {
		readBufs.Put(c.rbuf)
		c.rbuf = nil
		c.r, c.w = 0, 0
	}
}

// readFull reads exactly len(p) bytes through the buffer.
func (c *Conn) readFull(p []byte) error {
	for len(p) > 0 {
		if c.r == c.w {
			if err := c.fill(); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		n := copy(p, (*c.rbuf)[c.r:c.w])
		c.r += n
		p = p[n:]
	}
	return nil
}

// readSome reads at most len(p) bytes: from the buffer if it holds any,
// else straight from the socket when p is large, else through the buffer.
func (c *Conn) readSome(p []byte) (int, error) {
	if c.r == c.w {
		if len(p) >= readBufSize && c.readErr == nil {
			n, err := c.nc.Read(p)
			if err != nil && n == 0 {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				c.readErr = err
			}
			return n, err
		}
		if err := c.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	}
	n := copy(p, (*c.rbuf)[c.r:c.w])
	c.r += n
	return n, nil
}

type frameHeader struct {
	fin    bool
	op     byte
	length int64
	masked bool
	key    [4]byte
}

func (c *Conn) readHeader() (frameHeader, error) {
	var h frameHeader
	var b [8]byte
	if err := c.readFull(b[:2]); err != nil {
		return h, err
	}
	h.fin = b[0]&0x80 != 0
	h.op = b[0] & 0x0f
	if b[0]&0x70 != 0 {
		return h, c.fail(&ProtocolError{Msg: "reserved bits set (no extension was negotiated)"})
	}
	h.masked = b[1]&0x80 != 0
	switch n := b[1] & 0x7f; n {
	case 126:
		if err := c.readFull(b[:2]); err != nil {
			return h, err
		}
		h.length = int64(binary.BigEndian.Uint16(b[:2]))
	case 127:
		if err := c.readFull(b[:8]); err != nil {
			return h, err
		}
		h.length = int64(binary.BigEndian.Uint64(b[:8]))
		if h.length < 0 {
			return h, c.fail(&ProtocolError{Msg: "frame length over 2^63"})
		}
	default:
		h.length = int64(n)
	}
	if h.masked {
		if err := c.readFull(h.key[:]); err != nil {
			return h, err
		}
	}
	switch {
	case h.masked == c.client:
		if c.client {
			return h, c.fail(&ProtocolError{Msg: "a server's frame is masked"})
		}
		return h, c.fail(&ProtocolError{Msg: "a client's frame is not masked"})
	case h.op >= opClose && (h.length > maxControl || !h.fin):
		return h, c.fail(&ProtocolError{Msg: fmt.Sprintf("control frame of %d bytes, fin %v (at most 125, unfragmented)", h.length, h.fin)})
	case h.op > opBinary && h.op < opClose, h.op > opPong:
		return h, c.fail(&ProtocolError{Msg: fmt.Sprintf("unknown opcode %d", h.op)})
	}
	return h, nil
}

// fail answers a broken frame with the close its error calls for and
// makes it the connection's read error.
func (c *Conn) fail(err error) error {
	code := StatusProtocolError
	if errors.Is(err, ErrMessageTooBig) {
		code = StatusMessageTooBig
	}
	c.readErr = err
	c.writeClose(code, "")
	return err
}

// control handles a control frame that arrived between data frames.
func (c *Conn) control(h frameHeader) error {
	var buf [maxControl]byte
	p := buf[:h.length]
	if err := c.readFull(p); err != nil {
		return err
	}
	if h.masked {
		maskBytes(h.key, 0, p)
	}
	switch h.op {
	case opPing:
		return c.writeControl(opPong, p)
	case opPong:
		return nil
	}
	// Close: echo it (if this side has not sent one) and report it.
	ce := &CloseError{Code: StatusNoStatus}
	if len(p) >= 2 {
		ce.Code = StatusCode(binary.BigEndian.Uint16(p))
		ce.Reason = string(p[2:])
		if !utf8.ValidString(ce.Reason) {
			ce.Reason = ""
		}
	} else if len(p) == 1 {
		c.readErr = &ProtocolError{Msg: "close frame of 1 byte"}
		c.writeClose(StatusProtocolError, "")
		return c.readErr
	}
	echo := ce.Code
	if echo == StatusNoStatus {
		echo = StatusNormalClosure
	}
	c.writeClose(echo, "")
	c.readErr = ce
	return ce
}

// msgReader reads one data message, frame after frame.
type msgReader struct {
	c         *Conn
	remaining int64 // bytes left in the current frame
	fin       bool  // the current frame is the message's last
	masked    bool
	key       [4]byte
	pos       int   // position in the mask
	total     int64 // message bytes so far, against the limit
	active    bool
}

// NextReader waits for the next data message and returns its type and a
// reader of its payload, which must be read to io.EOF before the next
// call. Control frames in between are handled here.
func (c *Conn) NextReader() (MessageType, io.Reader, error) {
	if c.msg.active {
		// The previous message was not read to its end: skip its rest.
		if _, err := io.Copy(io.Discard, &c.msg); err != nil {
			return 0, nil, err
		}
	}
	for {
		h, err := c.readHeader()
		if err != nil {
			return 0, nil, err
		}
		if h.op >= opClose {
			if err := c.control(h); err != nil {
				return 0, nil, err
			}
			continue
		}
		if h.op == opContinuation {
			return 0, nil, c.fail(&ProtocolError{Msg: "continuation frame with no message to continue"})
		}
		c.msg = msgReader{c: c, remaining: h.length, fin: h.fin, masked: h.masked, key: h.key, total: h.length, active: true}
		if h.length > c.limit {
			return 0, nil, c.fail(fmt.Errorf("%w: frame of %d bytes, limit %d", ErrMessageTooBig, h.length, c.limit))
		}
		return MessageType(h.op), &c.msg, nil
	}
}

func (m *msgReader) Read(p []byte) (int, error) {
	c := m.c
	for m.remaining == 0 {
		if m.fin {
			if m.active {
				m.active = false
				c.release()
			}
			return 0, io.EOF
		}
		h, err := c.readHeader()
		if err != nil {
			return 0, err
		}
		if h.op >= opClose {
			if err := c.control(h); err != nil {
				return 0, err
			}
			continue
		}
		if h.op != opContinuation {
			return 0, c.fail(&ProtocolError{Msg: "new data frame inside a fragmented message"})
		}
		if h.length > c.limit-m.total { // never m.total+h.length: a 2^63 length would wrap
			m.total = c.limit + 1
		} else {
			m.total += h.length
		}
		if m.total > c.limit {
			return 0, c.fail(fmt.Errorf("%w: message of more than %d bytes", ErrMessageTooBig, c.limit))
		}
		m.remaining, m.fin, m.masked, m.key, m.pos = h.length, h.fin, h.masked, h.key, 0
	}
	if int64(len(p)) > m.remaining {
		p = p[:m.remaining]
	}
	n, err := c.readSome(p)
	if m.masked {
		m.pos = maskBytes(m.key, m.pos, p[:n])
	}
	m.remaining -= int64(n)
	if err != nil {
		return n, err
	}
	if m.remaining == 0 && m.fin {
		m.active = false
		c.release()
	}
	return n, nil
}

// ReadMessage reads the next data message whole into a new slice that
// grows as bytes arrive (never to what a header only announces), at most
// limit bytes (a longer message returns ErrMessageTooBig after reading
// limit+1 bytes of it; the connection stays usable only after the caller
// drains it, so treat it as fatal).
func (c *Conn) ReadMessage(limit int) (MessageType, []byte, error) {
	typ, r, err := c.NextReader()
	if err != nil {
		return 0, nil, err
	}
	m := r.(*msgReader)
	var b []byte
	if m.fin && m.remaining <= int64(limit) {
		// One unfragmented frame: its size, but only as much at first as
		// may already be on its way (what a header only announces is not
		// allocated before it arrives).
		b = make([]byte, 0, min(m.remaining, 64<<10))
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := m.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > limit {
			return typ, nil, ErrMessageTooBig
		}
		if err == io.EOF {
			return typ, b, nil
		}
		if err != nil {
			return typ, nil, err
		}
	}
}

// maskBytes XORs p with the mask key from position pos and returns the
// position after it.
func maskBytes(key [4]byte, pos int, p []byte) int {
	k := binary.LittleEndian.Uint32(key[:])
	if pos&3 != 0 {
		k = k>>(8*(pos&3)) | k<<(32-8*(pos&3))
	}
	k64 := uint64(k) | uint64(k)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k64)
	}
	for ; i < len(p); i++ {
		p[i] ^= byte(k64 >> (8 * (i & 3)))
	}
	return pos + len(p)
}

// Frame is one data frame to write: a whole message.
type Frame struct {
	Type    MessageType
	Payload []byte
}

// inlinePayload is the largest payload copied next to its header; larger
// ones are written from their own memory (writev).
const inlinePayload = 8 << 10

// WriteFrames writes the frames, each one whole message, in as few
// writes as the socket takes (one, for the headers and small payloads of
// them all), finishing by the deadline.
func (c *Conn) WriteFrames(deadline time.Time, frames ...Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	c.nc.SetWriteDeadline(deadline)
	var bufs net.Buffers
	start := 0
	for _, f := range frames {
		if len(f.Payload) > inlinePayload && !c.client {
			c.wbuf = appendHeader(c.wbuf, byte(f.Type), int64(len(f.Payload)), nil)
			bufs = append(bufs, c.wbuf[start:], f.Payload)
			start = len(c.wbuf)
			continue
		}
		c.wbuf = c.appendFrame(c.wbuf, byte(f.Type), f.Payload)
	}
	if bufs == nil {
		_, err := c.nc.Write(c.wbuf)
		c.resetWbuf()
		return err
	}
	if start < len(c.wbuf) {
		bufs = append(bufs, c.wbuf[start:])
	}
	_, err := bufs.WriteTo(c.nc)
	c.resetWbuf()
	return err
}

// resetWbuf keeps the write buffer for the next call unless a burst grew
// it large.
func (c *Conn) resetWbuf() {
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil
		return
	}
	c.wbuf = c.wbuf[:0]
}

// ReleaseWriteBuffer drops the write buffer (an idle connection holds
// none); the next write makes a new one.
func (c *Conn) ReleaseWriteBuffer() {
	c.wmu.Lock()
	c.wbuf = nil
	c.wmu.Unlock()
}

// appendFrame appends one whole frame, masked on the client side.
func (c *Conn) appendFrame(b []byte, op byte, p []byte) []byte {
	if !c.client {
		b = appendHeader(b, op, int64(len(p)), nil)
		return append(b, p...)
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], uint32(c.rng.Uint64()))
	b = appendHeader(b, op, int64(len(p)), &key)
	n := len(b)
	b = append(b, p...)
	maskBytes(key, 0, b[n:])
	return b
}

func appendHeader(b []byte, op byte, n int64, key *[4]byte) []byte {
	var mask byte
	if key != nil {
		mask = 0x80
	}
	b = append(b, 0x80|op)
	switch {
	case n <= 125:
		b = append(b, mask|byte(n))
	case n <= 0xffff:
		b = append(b, mask|126, byte(n>>8), byte(n))
	default:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if key != nil {
		b = append(b, key[:]...)
	}
	return b
}

func (c *Conn) writeControl(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return nil // after our close, nothing more is sent
	}
	if op == opClose {
		c.closeSent = true
	}
	c.nc.SetWriteDeadline(time.Now().Add(closeWait))
	var buf [2 + 4 + maxControl]byte
	_, err := c.nc.Write(c.appendFrame(buf[:0], op, p))
	return err
}

// writeClose sends a close frame with the code and reason (cut to fit in
// a control frame), once.
func (c *Conn) writeClose(code StatusCode, reason string) error {
	if len(reason) > maxControl-2 {
		reason = reason[:maxControl-2]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	var p [maxControl]byte
	binary.BigEndian.PutUint16(p[:], uint16(code))
	n := 2 + copy(p[2:], reason)
	return c.writeControl(opClose, p[:n])
}

// Close sends a close frame and ends the connection. If no goroutine
// reads (reading is false) it waits, at most closeWait, for the peer's
// close frame itself, so that the peer reads the close before the socket
// goes away; otherwise the reader sees the peer's close (or closeWait
// passes) and the connection's owner closes the socket.
func (c *Conn) Close(code StatusCode, reason string, reading bool) error {
	err := c.writeClose(code, reason)
	if reading {
		// A peer that never answers the close (or a read that resets the
		// deadline) does not keep the socket: it goes after closeWait.
		c.nc.SetReadDeadline(time.Now().Add(closeWait))
		time.AfterFunc(closeWait, func() { c.CloseNow() })
		return err
	}
	defer c.CloseNow()
	c.nc.SetReadDeadline(time.Now().Add(closeWait))
	for c.readErr == nil {
		if _, _, err := c.NextReader(); err != nil {
			break
		}
		io.Copy(io.Discard, &c.msg)
	}
	return err
}
