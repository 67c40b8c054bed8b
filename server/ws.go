package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/semaphore"

	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/grid"
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
func handleVolunteerSocket(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Browsers must come from this origin (the default check); native
		// volunteers send no Origin.
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return // Accept has answered the request
		}
		defer conn.CloseNow()
		conn.SetReadLimit(protocol.MaxOutput + 1024)
		serveVolunteer(r.Context(), d, conn, clientAddr(r, d.TrustedProxies))
	})
}

// wsSender is a grid.Sender over one websocket: a bounded queue drained by
// one writer goroutine, with a timeout on every write.
type wsSender struct {
	conn   *websocket.Conn
	out    chan wsFrame
	done   chan struct{}
	once   sync.Once
	reason string // the close reason, set once before done is closed
}

// closeDrain bounds the time a closing connection spends writing what was
// queued before the close (a verdict for the result that got it suspended).
const closeDrain = 2 * time.Second

type wsFrame struct {
	text, bin []byte
}

// Send implements grid.Sender.
func (s *wsSender) Send(m *protocol.Message, payload []byte) bool {
	if m.Type == protocol.TypeVerdict && len(s.out) >= cap(s.out)/2 {
		return true // informational: a later verdict carries the totals
	}
	select {
	case s.out <- wsFrame{m.Encode(), payload}:
		return true
	case <-s.done:
		return false
	default:
		return false
	}
}

// Close implements grid.Sender.
// The writer sends what was queued before the close, within closeDrain,
// then closes the websocket with the reason.
func (s *wsSender) Close(reason string) {
	s.once.Do(func() {
		s.reason = truncate(reason, 120)
		close(s.done)
	})
}

func (s *wsSender) writer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			s.drain(ctx)
			return
		case f := <-s.out:
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := s.conn.Write(wctx, websocket.MessageText, f.text)
			if err == nil && f.bin != nil {
				err = s.conn.Write(wctx, websocket.MessageBinary, f.bin)
			}
			cancel()
			if err != nil {
				s.conn.CloseNow()
				return
			}
		}
	}
}

// drain writes the frames queued before Close, then closes the connection.
func (s *wsSender) drain(ctx context.Context) {
	dctx, cancel := context.WithTimeout(ctx, closeDrain)
	defer cancel()
	for {
		select {
		case f := <-s.out:
			err := s.conn.Write(dctx, websocket.MessageText, f.text)
			if err == nil && f.bin != nil {
				err = s.conn.Write(dctx, websocket.MessageBinary, f.bin)
			}
			if err != nil {
				s.conn.CloseNow()
				return
			}
		default:
			go s.conn.Close(websocket.StatusGoingAway, s.reason)
			return
		}
	}
}

func fatal(ctx context.Context, conn *websocket.Conn, reason string) {
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	conn.Write(wctx, websocket.MessageText, (&protocol.Message{Type: protocol.TypeFatal, Reason: reason}).Encode())
	cancel()
	conn.Close(websocket.StatusPolicyViolation, truncate(reason, 120))
}

// serveVolunteer runs one volunteer connection: challenge, hello, then this
// goroutine is the connection's only reader until it closes.
func serveVolunteer(ctx context.Context, d Deps, conn *websocket.Conn, addr string) {
	nonce := protocol.NewNonce()
	hctx, cancel := context.WithTimeout(ctx, helloTimeout)
	defer cancel()
	if err := conn.Write(hctx, websocket.MessageText, (&protocol.Message{Type: protocol.TypeChallenge, Version: protocol.Version, Nonce: nonce}).Encode()); err != nil {
		return
	}
	typ, b, err := readControl(hctx, conn)
	cancel()
	if err != nil {
		var pe *grid.ProtocolError
		if errors.As(err, &pe) {
			fatal(ctx, conn, pe.Msg)
		}
		return
	}
	if typ != websocket.MessageText {
		fatal(ctx, conn, "the first message must be a hello control message (JSON text frame)")
		return
	}
	hello, err := protocol.Decode(b)
	if err != nil {
		fatal(ctx, conn, err.Error())
		return
	}
	if hello.Token != "" {
		// Guessing enrollment tokens costs what guessing API tokens does:
		// past the address's allowance, the token is not even looked up.
		if wait := d.guard.tokenBad.wait(addr); wait > 0 {
			conn.Close(websocket.StatusTryAgainLater, fmt.Sprintf("too many invalid enrollment tokens from this address: try again in %d s", int(wait.Seconds())+1))
			return
		}
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	snd := &wsSender{conn: conn, out: make(chan wsFrame, sendQueue), done: make(chan struct{})}
	sess, welcome, err := d.Grid.Connect(ctx, hello, grid.Peer{Addr: addr, Nonce: nonce}, snd)
	var refused *grid.RefusedError
	switch {
	case errors.Is(err, grid.ErrClosed):
		conn.Close(websocket.StatusServiceRestart, "server restarting")
		return
	case errors.As(err, &refused):
		// 1013, try again later: the volunteer backs off and retries.
		conn.Close(websocket.StatusTryAgainLater, truncate(refused.Reason, 120))
		return
	case err != nil:
		if errors.Is(err, grid.ErrBadToken) {
			d.guard.tokenBad.take(addr)
		}
		fatal(ctx, conn, err.Error())
		return
	}
	defer sess.Close()
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	err = conn.Write(wctx, websocket.MessageText, welcome.Encode())
	cancel()
	if err != nil {
		return
	}
	go snd.writer(ctx)
	d.Logger.Debug("volunteer connected", "volunteer", sess.VolunteerID(), "addr", addr, "agent", hello.Agent)
	err = readVolunteer(ctx, conn, sess)
	var pe *grid.ProtocolError
	switch {
	case errors.As(err, &pe):
		d.Logger.Info("volunteer dropped for a protocol violation", "volunteer", sess.VolunteerID(), "addr", addr, "err", pe.Msg)
		sess.Close()
		fatal(ctx, conn, pe.Msg)
	case err == nil, websocket.CloseStatus(err) == websocket.StatusNormalClosure, websocket.CloseStatus(err) == websocket.StatusGoingAway, ctx.Err() != nil:
		d.Logger.Debug("volunteer left", "volunteer", sess.VolunteerID())
	default:
		d.Logger.Debug("volunteer connection lost", "volunteer", sess.VolunteerID(), "err", err)
	}
}

// readControl reads one message that must be a control message: at most
// MaxControl bytes are kept.
func readControl(ctx context.Context, conn *websocket.Conn) (websocket.MessageType, []byte, error) {
	typ, r, err := conn.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	if typ != websocket.MessageText {
		// Consumed without keeping it; past the read limit the connection
		// closes with "message too big".
		if _, err := io.Copy(io.Discard, r); err != nil {
			return typ, nil, err
		}
		return typ, nil, &grid.ProtocolError{Msg: "unexpected binary frame: a binary frame may only follow a result message"}
	}
	b, err := readUpTo(r, protocol.MaxControl, nil)
	return typ, b, err
}

// readUpTo reads a whole frame of at most limit bytes, growing its buffer
// as bytes arrive.
func readUpTo(r io.Reader, limit int, buf *bytes.Buffer) ([]byte, error) {
	if buf == nil {
		buf = &bytes.Buffer{}
	}
	for {
		n, err := io.CopyN(buf, r, readPiece)
		if buf.Len() > limit {
			return nil, &grid.ProtocolError{Msg: fmt.Sprintf("frame larger than %d bytes", limit)}
		}
		if err == io.EOF || (err == nil && n < readPiece) {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func readVolunteer(ctx context.Context, conn *websocket.Conn, sess *grid.Session) error {
	for {
		_, b, err := readControl(ctx, conn)
		if err != nil {
			return err
		}
		m, err := protocol.Decode(b)
		if err != nil {
			return &grid.ProtocolError{Msg: err.Error()}
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
func readOutput(ctx context.Context, conn *websocket.Conn, size int) ([]byte, error) {
	rctx, cancel := context.WithTimeout(ctx, resultTimeout)
	defer cancel()
	if size > smallResult {
		if err := resultBudget.Acquire(rctx, int64(size)); err != nil {
			return nil, fmt.Errorf("result of %d bytes: no room to receive it in time: %w", size, err)
		}
		defer resultBudget.Release(int64(size))
	}
	typ, r, err := conn.Reader(rctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageBinary {
		return nil, &grid.ProtocolError{Msg: "a result must be followed by one binary frame of its declared size"}
	}
	b, err := readUpTo(r, size, bytes.NewBuffer(make([]byte, 0, min(size, readPiece))))
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
