package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/websock"
)

// Websocket tuning.
const (
	helloTimeout = 10 * time.Second
	writeTimeout = 10 * time.Second
	// sendQueue bounds the frames waiting for one volunteer. Leases and
	// cancels are bounded by the volunteer's lease credit (at most 256), so
	// a volunteer that follows the protocol never fills it; verdicts are
	// informational and are dropped rather than queued past half of it.
	sendQueue = 1024
	// resultTimeout bounds the time to receive one result's output frame.
	resultTimeout = 60 * time.Second
	// readPiece is how much of a frame is read at a time: a frame holds as
	// much memory as has arrived, not what its header announced.
	readPiece = 64 << 10
)

// resultBudget bounds the bytes of large result frames being received,
// over all connections: clients that announce large frames and send them
// slowly hold at most this much of the server's memory together
// (docs/security.md). Frames of at most smallResult bytes (every chunk
// output of the shipped algorithms but the longest) are read without it,
// so such clients cannot hold up honest results.
var resultBudget = semaphore.NewWeighted(24 << 20)

// smallResult is the largest result frame read outside resultBudget.
const smallResult = 64 << 10

// handleVolunteerSocket upgrades to the volunteer protocol (docs/protocol.md).
// The handler's goroutine says the challenge and reads the hello; a
// volunteer it welcomes is then served by a goroutine of its own and the
// handler returns, so that net/http's per-request state (the request, its
// buffers) is not kept for the connection's life.
func handleVolunteerSocket(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Browsers must come from this origin; native volunteers send no
		// Origin.
		conn, err := websock.Accept(w, r)
		if err != nil {
			return // Accept has answered the request
		}
		conn.SetReadLimit(protocol.MaxOutput + 1024)
		// The connection outlives the request: its context ends with the
		// connection (or the grid's Close ends the connection).
		ctx, stop := context.WithCancel(context.WithoutCancel(r.Context()))
		v := &volunteerConn{d: d, conn: conn, addr: clientIP(r), stop: stop}
		if !v.hello(ctx) {
			stop()
			conn.CloseNow()
			return
		}
		go v.serve(ctx)
	})
}

// volunteerConn is one volunteer's websocket on the server.
type volunteerConn struct {
	d     Deps
	conn  *websock.Conn
	addr  string
	stop  context.CancelFunc
	snd   *wsSender
	sess  *grid.Session
	agent string
}

// wsSender is a grid.Sender over one websocket: a bounded queue of frames
// and, only while the queue holds any, one writer goroutine that writes
// everything queued at once (one write for many frames) with a deadline
// on the connection. An idle connection has no writer goroutine.
type wsSender struct {
	conn *websock.Conn

	mu      sync.Mutex
	queue   []websock.Frame // two frames (control, payload) for a message with a payload
	msgs    int             // messages in queue, against sendQueue
	spare   []websock.Frame // the writer's previous batch, reused
	writing bool            // a writer goroutine is running
	// held is true until the welcome is queued: frames the grid queues
	// while it connects the session wait behind it.
	held    bool
	closing bool
	reason  string // the close reason, set once with closing
	// done is closed once the writer stopped for good (after Close, or a
	// failed write); Send then refuses.
	done bool
}

// closeDrain bounds the time a closing connection spends writing what was
// queued before the close (a verdict for the result that got it suspended).
const closeDrain = 2 * time.Second

// Send implements grid.Sender.
func (s *wsSender) Send(m *protocol.Message, payload []byte) bool {
	text := m.Encode()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.done || s.closing:
		return false
	case m.Type == protocol.TypeVerdict && s.msgs >= sendQueue/2:
		return true // informational: a later verdict carries the totals
	case s.msgs >= sendQueue:
		return false
	}
	s.queue = append(s.queue, websock.Frame{Type: websock.MessageText, Payload: text})
	if payload != nil {
		s.queue = append(s.queue, websock.Frame{Type: websock.MessageBinary, Payload: payload})
	}
	s.msgs++
	if !s.writing && !s.held {
		s.writing = true
		go s.write()
	}
	return true
}

// Close implements grid.Sender.
// The writer sends what was queued before the close, within closeDrain,
// then closes the websocket with the reason.
func (s *wsSender) Close(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.done {
		return
	}
	s.closing, s.reason = true, truncate(reason, 120)
	if !s.writing && !s.held {
		s.writing = true
		go s.write()
	}
}

// write is the writer goroutine: it takes everything queued, writes it,
// and stops when the queue is empty (or closes the connection after a
// Close).
func (s *wsSender) write() {
	var drainBy time.Time
	for {
		s.mu.Lock()
		batch := s.queue
		s.queue, s.spare = s.spare[:0], nil
		s.msgs = 0
		closing := s.closing
		if len(batch) == 0 {
			s.writing = false
			if closing {
				s.done = true
			}
			s.mu.Unlock()
			if closing {
				s.conn.Close(websock.StatusGoingAway, s.reason, true)
			}
			return
		}
		s.mu.Unlock()
		deadline := time.Now().Add(writeTimeout)
		if closing {
			if drainBy.IsZero() {
				drainBy = time.Now().Add(closeDrain)
			}
			deadline = drainBy
		}
		err := s.conn.WriteFrames(deadline, batch...)
		clear(batch) // let the payloads go
		s.mu.Lock()
		s.spare = batch[:0]
		if err != nil {
			s.done, s.writing = true, false
			s.queue = nil
			s.mu.Unlock()
			s.conn.CloseNow()
			return
		}
		s.mu.Unlock()
	}
}

// writeNow writes one control message from the connection's own
// goroutine (before the writer exists, or after it is gone).
func writeNow(conn *websock.Conn, m *protocol.Message, timeout time.Duration) error {
	return conn.WriteFrames(time.Now().Add(timeout), websock.Frame{Type: websock.MessageText, Payload: m.Encode()})
}

// fatal answers a protocol violation and closes the connection; no one
// else reads it (reading is false).
func fatal(conn *websock.Conn, reason string) {
	writeNow(conn, &protocol.Message{Type: protocol.TypeFatal, Reason: reason}, time.Second)
	conn.Close(websock.StatusPolicyViolation, truncate(reason, 120), false)
}

// hello says the challenge, reads and checks the hello, and connects the
// volunteer to the grid. It reports whether the volunteer was welcomed
// (else it has answered and closed the connection, or the connection is
// gone).
func (v *volunteerConn) hello(ctx context.Context) bool {
	d, conn, addr := v.d, v.conn, v.addr
	nonce := protocol.NewNonce()
	conn.NetConn().SetReadDeadline(time.Now().Add(helloTimeout))
	if err := writeNow(conn, &protocol.Message{Type: protocol.TypeChallenge, Version: protocol.Version, Nonce: nonce}, helloTimeout); err != nil {
		return false
	}
	typ, b, err := readControl(conn, nil)
	if err != nil {
		var pe *grid.ProtocolError
		if errors.As(err, &pe) {
			fatal(conn, pe.Msg)
		}
		return false
	}
	if typ != websock.MessageText {
		fatal(conn, "the first message must be a hello control message (JSON text frame)")
		return false
	}
	hello, err := protocol.Decode(b)
	if err != nil {
		fatal(conn, err.Error())
		return false
	}
	if hello.Token != "" {
		// Guessing enrollment tokens costs what guessing API tokens does:
		// past the address's allowance, the token is not even looked up.
		if wait := d.guard.tokenBad.wait(ctx, addr); wait > 0 {
			conn.Close(websock.StatusTryAgainLater, fmt.Sprintf("too many invalid enrollment tokens from this address: try again in %d s", int(wait.Seconds())+1), false)
			return false
		}
	}
	v.snd = &wsSender{conn: conn, held: true}
	sess, welcome, err := d.Grid.Connect(ctx, hello, grid.Peer{Addr: addr, Nonce: nonce}, v.snd)
	var refused *grid.RefusedError
	switch {
	case errors.Is(err, grid.ErrClosed):
		conn.Close(websock.StatusServiceRestart, "server restarting", false)
		return false
	case errors.As(err, &refused):
		// 1013, try again later: the volunteer backs off and retries.
		conn.Close(websock.StatusTryAgainLater, truncate(refused.Reason, 120), false)
		return false
	case err != nil:
		if errors.Is(err, grid.ErrBadToken) {
			d.guard.tokenBad.fail(ctx, addr)
		}
		fatal(conn, err.Error())
		return false
	}
	v.sess, v.agent = sess, hello.Agent
	// The welcome goes through the sender's queue: grid.Connect may have
	// queued leases for this session already, and they must follow it.
	v.snd.mu.Lock()
	v.snd.queue = append([]websock.Frame{{Type: websock.MessageText, Payload: welcome.Encode()}}, v.snd.queue...)
	v.snd.msgs++
	v.snd.held = false
	if !v.snd.writing {
		v.snd.writing = true
		go v.snd.write()
	}
	v.snd.mu.Unlock()
	conn.NetConn().SetReadDeadline(time.Time{})
	return true
}

// serve is the connection's reader from the welcome until it closes.
func (v *volunteerConn) serve(ctx context.Context) {
	d, conn, sess, addr := v.d, v.conn, v.sess, v.addr
	defer conn.CloseNow()
	defer v.stop()
	defer sess.Close()
	// A context that ends (the server's) ends the reads.
	unhook := context.AfterFunc(ctx, func() { conn.NetConn().SetReadDeadline(time.Now()) })
	defer unhook()
	d.Logger.Debug("volunteer connected", "volunteer", sess.VolunteerID(), "addr", addr, "agent", v.agent)
	err := readVolunteer(ctx, conn, sess)
	var pe *grid.ProtocolError
	switch {
	case errors.As(err, &pe):
		d.Logger.Info("volunteer dropped for a protocol violation", "volunteer", sess.VolunteerID(), "addr", addr, "err", pe.Msg)
		sess.Close()
		v.snd.stopForFatal()
		fatal(conn, pe.Msg)
	case err == nil, websock.CloseStatus(err) == websock.StatusNormalClosure, websock.CloseStatus(err) == websock.StatusGoingAway, ctx.Err() != nil:
		d.Logger.Debug("volunteer left", "volunteer", sess.VolunteerID())
	default:
		d.Logger.Debug("volunteer connection lost", "volunteer", sess.VolunteerID(), "err", err)
	}
}

// stopForFatal stops queueing and waits (briefly) for a running writer to
// finish, so that the fatal message is the last frame before the close.
func (s *wsSender) stopForFatal() {
	s.mu.Lock()
	s.done = true
	s.queue = nil
	s.mu.Unlock()
	for range 100 {
		s.mu.Lock()
		w := s.writing
		s.mu.Unlock()
		if !w {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// controlBufs are the scratch buffers control messages are read into
// (protocol.Decode copies what it keeps).
var controlBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// readControl reads one message that must be a control message: at most
// MaxControl bytes are kept, in dst's memory when it is large enough.
func readControl(conn *websock.Conn, dst []byte) (websock.MessageType, []byte, error) {
	typ, r, err := conn.NextReader()
	if err != nil {
		return 0, nil, err
	}
	if typ != websock.MessageText {
		// Consumed without keeping it; past the read limit the connection
		// closes with "message too big".
		if _, err := io.Copy(io.Discard, r); err != nil {
			return typ, nil, err
		}
		return typ, nil, &grid.ProtocolError{Msg: "unexpected binary frame: a binary frame may only follow a result message"}
	}
	b, err := readUpTo(r, protocol.MaxControl, dst[:0])
	return typ, b, err
}

// readUpTo reads a whole message of at most limit bytes into b, growing it
// as bytes arrive.
func readUpTo(r io.Reader, limit int, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):min(cap(b), limit+1)])
		b = b[:len(b)+n]
		if len(b) > limit {
			return nil, &grid.ProtocolError{Msg: fmt.Sprintf("frame larger than %d bytes", limit)}
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func readVolunteer(ctx context.Context, conn *websock.Conn, sess *grid.Session) error {
	for {
		buf := controlBufs.Get().(*[]byte)
		_, b, err := readControl(conn, *buf)
		var m *protocol.Message
		if err == nil {
			m, err = protocol.Decode(b)
			if err != nil {
				err = &grid.ProtocolError{Msg: err.Error()}
			}
		}
		if cap(b) <= 4<<10 {
			*buf = b[:0] // keep what it grew to, unless a rare big message grew it
		}
		controlBufs.Put(buf)
		if err != nil {
			return err
		}
		var payload []byte
		if m.Type == protocol.TypeResult {
			if payload, err = readOutput(ctx, conn, m.Size); err != nil {
				return err
			}
		}
		if err := sess.Handle(m, payload); err != nil {
			return err
		}
	}
}

// readOutput reads the binary frame that follows a result: exactly size
// bytes, within resultTimeout, inside the shared result budget.
func readOutput(ctx context.Context, conn *websock.Conn, size int) ([]byte, error) {
	conn.NetConn().SetReadDeadline(time.Now().Add(resultTimeout))
	defer conn.NetConn().SetReadDeadline(time.Time{})
	if size > smallResult {
		rctx, cancel := context.WithTimeout(ctx, resultTimeout)
		defer cancel()
		if err := resultBudget.Acquire(rctx, int64(size)); err != nil {
			return nil, fmt.Errorf("result of %d bytes: no room to receive it in time: %w", size, err)
		}
		defer resultBudget.Release(int64(size))
	}
	typ, r, err := conn.NextReader()
	if err != nil {
		return nil, err
	}
	if typ != websock.MessageBinary {
		return nil, &grid.ProtocolError{Msg: "a result must be followed by one binary frame of its declared size"}
	}
	b, err := readUpTo(r, size, make([]byte, 0, min(size, readPiece)))
	if err != nil {
		var pe *grid.ProtocolError
		if errors.As(err, &pe) {
			return nil, &grid.ProtocolError{Msg: fmt.Sprintf("a result's output frame is larger than its declared size %d", size)}
		}
		return nil, err
	}
	if len(b) != size {
		return nil, &grid.ProtocolError{Msg: fmt.Sprintf("a result's output frame has %d bytes, its message declared %d", len(b), size)}
	}
	return b, nil
}
