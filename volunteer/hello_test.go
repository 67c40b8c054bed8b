//go:build !js

package volunteer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/protocol"
)

// TestHelloNicknameAndWelcomeTotals runs the volunteer against a minimal
// server that records each hello, welcomes with totals, then hangs up: the
// nickname and the team go out with every hello (SetNickname and SetTeam
// apply at the next one)
// and the welcome's totals reach Stats.
func TestHelloNicknameAndWelcomeTotals(t *testing.T) {
	hellos := make(chan *protocol.Message, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		m, id, err := acceptHello(r.Context(), c)
		if err != nil {
			t.Errorf("hello: %v", err)
			return
		}
		hellos <- m
		welcome := &protocol.Message{Type: protocol.TypeWelcome, Version: protocol.Version, VolunteerID: id, TotalVerified: 7, Credit: 12.5}
		c.Write(r.Context(), websocket.MessageText, welcome.Encode())
		time.Sleep(50 * time.Millisecond)
		c.Close(websocket.StatusServiceRestart, "bye")
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	connected := make(chan struct{}, 8)
	v := New(Config{Server: srv.URL, Registry: catalog.All(), Nickname: "Ada", Team: "Blue", MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		OnEvent: func(e Event) {
			if e.Kind == EventConnected {
				connected <- struct{}{}
			}
		}})
	go v.Run(ctx)

	first := <-hellos
	key := first.PublicKey
	if first.Nickname != "Ada" || first.Team != "Blue" {
		t.Errorf("first hello: nickname %q, team %q; want Ada, Blue", first.Nickname, first.Team)
	}
	<-connected
	if st := v.Stats(); st.TotalVerified != 7 || st.Credit != 12.5 {
		t.Errorf("stats after welcome: total_verified %d, credit %v; want 7, 12.5", st.TotalVerified, st.Credit)
	}
	v.SetNickname("Grace")
	v.SetTeam("Red")
	for {
		select {
		case h := <-hellos:
			if h.PublicKey != key {
				t.Fatalf("reconnect: key %q, want the first connection's %q", h.PublicKey, key)
			}
			if h.Nickname == "Grace" && h.Team == "Red" {
				return
			}
		case <-ctx.Done():
			t.Fatal("no hello with the new nickname and team after SetNickname, SetTeam")
		}
	}
}
