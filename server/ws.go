package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/grid"
)

// Websocket tuning.
const (
	helloTimeout = 10 * time.Second
	writeTimeout = 10 * time.Second
	// sendQueue bounds the frames waiting for one volunteer; a volunteer
	// that lets it fill up is dropped rather than waited for.
	sendQueue = 256
)

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
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		serveVolunteer(r.Context(), d, conn, ip)
	})
}

// wsSender is a grid.Sender over one websocket: a bounded queue drained by
// one writer goroutine, with a timeout on every write.
type wsSender struct {
	conn *websocket.Conn
	out  chan wsFrame
	done chan struct{}
	once sync.Once
}

type wsFrame struct {
	text, bin []byte
}

// Send implements grid.Sender.
func (s *wsSender) Send(m *protocol.Message, payload []byte) bool {
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
func (s *wsSender) Close(reason string) {
	s.once.Do(func() {
		close(s.done)
		go s.conn.Close(websocket.StatusGoingAway, truncate(reason, 120))
	})
}

func (s *wsSender) writer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
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

func fatal(ctx context.Context, conn *websocket.Conn, reason string) {
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	conn.Write(wctx, websocket.MessageText, (&protocol.Message{Type: protocol.TypeFatal, Reason: reason}).Encode())
	cancel()
	conn.Close(websocket.StatusPolicyViolation, truncate(reason, 120))
}

// serveVolunteer runs one volunteer connection: hello, then this goroutine
// is the connection's only reader until it closes.
func serveVolunteer(ctx context.Context, d Deps, conn *websocket.Conn, ip string) {
	hctx, cancel := context.WithTimeout(ctx, helloTimeout)
	typ, b, err := conn.Read(hctx)
	cancel()
	if err != nil {
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
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	snd := &wsSender{conn: conn, out: make(chan wsFrame, sendQueue), done: make(chan struct{})}
	sess, welcome, err := d.Grid.Connect(ctx, hello, ip, snd)
	if errors.Is(err, grid.ErrClosed) {
		conn.Close(websocket.StatusServiceRestart, "server restarting")
		return
	}
	if err != nil {
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
	d.Logger.Debug("volunteer connected", "volunteer", sess.VolunteerID(), "ip", ip, "agent", hello.Agent)
	err = readVolunteer(ctx, conn, sess)
	var pe *grid.ProtocolError
	switch {
	case errors.As(err, &pe):
		d.Logger.Info("volunteer dropped for a protocol violation", "volunteer", sess.VolunteerID(), "ip", ip, "err", pe.Msg)
		sess.Close()
		fatal(ctx, conn, pe.Msg)
	case err == nil, websocket.CloseStatus(err) == websocket.StatusNormalClosure, websocket.CloseStatus(err) == websocket.StatusGoingAway, ctx.Err() != nil:
		d.Logger.Debug("volunteer left", "volunteer", sess.VolunteerID())
	default:
		d.Logger.Debug("volunteer connection lost", "volunteer", sess.VolunteerID(), "err", err)
	}
}

func readVolunteer(ctx context.Context, conn *websocket.Conn, sess *grid.Session) error {
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageText {
			return &grid.ProtocolError{Msg: "unexpected binary frame: a binary frame may only follow a result message"}
		}
		m, err := protocol.Decode(b)
		if err != nil {
			return &grid.ProtocolError{Msg: err.Error()}
		}
		var payload []byte
		if m.Type == protocol.TypeResult {
			typ, payload, err = conn.Read(ctx)
			if err != nil {
				return err
			}
			if typ != websocket.MessageBinary || len(payload) != m.Size {
				return &grid.ProtocolError{Msg: "a result must be followed by one binary frame of its declared size"}
			}
		}
		if err := sess.Handle(m, payload); err != nil {
			return err
		}
	}
}
