//go:build js

package volunteer

import "github.com/coder/websocket"

// dialOptions: a browser chooses its own address.
func dialOptions(*Config) *websocket.DialOptions { return nil }
