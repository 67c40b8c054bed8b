package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// chromiumTab is one page of a headless Debian Chromium, driven over the
// DevTools protocol (Runtime.evaluate only): enough for a Go test to open
// /donate, press Start and read what the page shows.
type chromiumTab struct {
	cmd  *exec.Cmd
	conn *websocket.Conn
	mu   sync.Mutex
	id   int
	log  *syncBuffer
}

// openChromium starts Chromium on url and connects to its page.
func openChromium(t *testing.T, bin, url string) *chromiumTab {
	t.Helper()
	dir := t.TempDir()
	out := &syncBuffer{}
	// The flags of e2e/playwright.config.js: root needs --no-sandbox, and
	// the closed network makes Chromium's background fetches fail.
	cmd := exec.Command(bin, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-dev-shm-usage", "--user-data-dir="+dir,
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", url)
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that its renderer and helper processes end
	// with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tab := &chromiumTab{cmd: cmd, log: out}
	t.Cleanup(func() {
		if tab.conn != nil {
			tab.conn.CloseNow()
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers that outlived it
	})
	// Chromium writes the port it chose to DevToolsActivePort.
	var port string
	for deadline := time.Now().Add(60 * time.Second); port == ""; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(dir, "DevToolsActivePort")); err == nil {
			if f := strings.Fields(string(b)); len(f) == 2 {
				port = f[0]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromium wrote no DevToolsActivePort: %s", out)
		}
	}
	var wsURL string
	for deadline := time.Now().Add(30 * time.Second); wsURL == ""; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://127.0.0.1:" + port + "/json/list"); err == nil {
			var targets []struct{ Type, URL, WebSocketDebuggerURL string }
			json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, tg := range targets {
				if tg.Type == "page" && strings.HasPrefix(tg.URL, url) {
					wsURL = tg.WebSocketDebuggerURL
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromium shows no page %s: %s", url, out)
		}
	}
	conn, _, err := websocket.Dial(context.Background(), wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(8 << 20)
	tab.conn = conn
	return tab
}

// eval evaluates a JavaScript expression in the page and returns its
// value (JSON-decoded into out when out is not nil).
func (c *chromiumTab) eval(expr string, out any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.id++
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := json.Marshal(map[string]any{"id": c.id, "method": "Runtime.evaluate",
		"params": map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}})
	if err := c.conn.Write(ctx, websocket.MessageText, req); err != nil {
		return err
	}
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			return err
		}
		var resp struct {
			ID     int
			Error  *struct{ Message string }
			Result struct {
				Result           struct{ Value json.RawMessage }
				ExceptionDetails *struct{ Text string }
			}
		}
		if err := json.Unmarshal(b, &resp); err != nil || resp.ID != c.id {
			continue // an event
		}
		switch {
		case resp.Error != nil:
			return fmt.Errorf("devtools: %s", resp.Error.Message)
		case resp.Result.ExceptionDetails != nil:
			return fmt.Errorf("page: %s", resp.Result.ExceptionDetails.Text)
		}
		if out != nil {
			return json.Unmarshal(resp.Result.Result.Value, out)
		}
		return nil
	}
}

// donateState reads the /donate page's status (data-state of
// donate-status: idle, connecting, connected, ...) and its chunks done.
func (c *chromiumTab) donateState() (state, status string, done int, err error) {
	var v struct {
		State, Status string
		Done          int
	}
	err = c.eval(`(() => { const s = document.querySelector('[data-testid=donate-status]');
		const d = document.querySelector('[data-testid=donate-chunks-done]');
		return s ? {state: s.dataset.state || '', status: s.textContent, done: Number(((d && d.textContent) || '0').replace(/[^0-9]/g, '') || 0)} : {state: '', status: '', done: 0}; })()`, &v)
	return v.State, v.Status, v.Done, err
}
