//go:build !js

package volunteer

import (
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// dialOptions binds the connection to Config.LocalAddr when it is set (a
// machine with several addresses; tests that play volunteers of several
// networks on one machine).
func dialOptions(cfg *Config) *websocket.DialOptions {
	if cfg.LocalAddr == "" {
		return nil
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(cfg.LocalAddr)}, Timeout: 15 * time.Second}
	return &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}}
}
