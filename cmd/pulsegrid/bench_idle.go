package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsegrid/pulsegrid/protocol"
)

// idleFigures is what `bench idle` measures: the resident memory a real
// `pulsegrid serve` process spends on volunteer connections that wait for
// work, the state of every volunteer tab left open on an empty grid.
type idleFigures struct {
	conns           int
	before, after   int64 // VmRSS of the server, bytes
	perConn         float64
	connsPerGiB     float64
	connectDuration time.Duration
}

// benchIdle starts `pulsegrid serve` as a child process (so that its memory
// is its own), opens n volunteer websockets from this process, says hello on
// each and asks for nothing, then reads the server's resident set size.
func benchIdle(ctx context.Context, n int) (*idleFigures, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pulsegrid-bench-idle-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := exec.CommandContext(ctx, self, "serve", "--addr", addr, "--data", filepath.Join(dir, "data"))
	srv.Stdout, srv.Stderr = io.Discard, io.Discard
	if err := srv.Start(); err != nil {
		return nil, err
	}
	defer func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	}()
	base := "http://" + addr
	if err := waitHealthy(ctx, base, 20*time.Second); err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond) // let start-up allocations settle
	before, err := residentBytes(srv.Process.Pid)
	if err != nil {
		return nil, err
	}
	url := "ws://" + addr + protocol.Path
	conns := make([]*websocket.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	start := time.Now()
	// One identity and one /24 each, as n machines would be (the server
	// caps connections per network and per identity).
	for i := range n {
		c, err := benchConnect(ctx, url, i, protocol.NewKey(), []string{"ecg.beats@1"}, 1)
		if err != nil {
			return nil, fmt.Errorf("connection %d (from %s): %w", i+1, benchAddr(i), err)
		}
		conns = append(conns, c)
	}
	took := time.Since(start)
	runtime.GC()
	time.Sleep(2 * time.Second) // the server's flusher saves the new identities
	after, err := residentBytes(srv.Process.Pid)
	if err != nil {
		return nil, err
	}
	per := float64(after-before) / float64(n)
	return &idleFigures{conns: n, before: before, after: after, perConn: per, connsPerGiB: float64(1<<30) / max(per, 1), connectDuration: took}, nil
}

func waitHealthy(ctx context.Context, base string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("server at %s did not answer /healthz within %s", base, limit)
}

// residentBytes reads a process's resident set size from /proc (Linux).
func residentBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read the server's memory (this benchmark needs Linux /proc): %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS line in /proc/%d/status", pid)
}
