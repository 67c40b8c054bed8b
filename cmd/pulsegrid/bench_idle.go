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

	"github.com/pulsegrid/pulsegrid/protocol"
	"github.com/pulsegrid/pulsegrid/server/websock"
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
	failure         error // why fewer connections than asked for were opened
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
	// Client processes of at most idlePerClient connections each: one
	// process has 20,000 file descriptors, fewer than the server may hold.
	start := time.Now()
	var clients []*exec.Cmd
	defer func() {
		for _, c := range clients {
			c.Process.Kill()
			c.Wait()
		}
	}()
	connected := 0
	var failure error
	for first := 0; first < n; first += idlePerClient {
		count := min(idlePerClient, n-first)
		c := exec.CommandContext(ctx, self, "bench", "idle-client", "--url", url, "--first", strconv.Itoa(first), "--connections", strconv.Itoa(count))
		out, err := c.StdoutPipe()
		if err != nil {
			return nil, err
		}
		c.Stderr = os.Stderr
		if err := c.Start(); err != nil {
			return nil, err
		}
		clients = append(clients, c)
		line, _ := bufio.NewReader(out).ReadString('\n')
		var k int
		if _, err := fmt.Sscanf(line, "connected %d", &k); err != nil {
			failure = fmt.Errorf("client process %d: %s", len(clients), strings.TrimSpace(line))
			fmt.Sscanf(line, "error after %d", &k)
		}
		connected += k
		if failure != nil {
			break
		}
	}
	if connected == 0 {
		return nil, failure
	}
	n = connected
	took := time.Since(start)
	runtime.GC()
	time.Sleep(2 * time.Second) // the server's flusher saves the new identities
	after, err := residentBytes(srv.Process.Pid)
	if err != nil {
		return nil, err
	}
	per := float64(after-before) / float64(n)
	return &idleFigures{conns: n, before: before, after: after, perConn: per, connsPerGiB: float64(1<<30) / max(per, 1), connectDuration: took, failure: failure}, nil
}

// idlePerClient is how many connections one client process opens.
const idlePerClient = 9000

// benchIdleClient is one client process of `bench idle`: it opens count
// connections (volunteers first … first+count−1), prints "connected N" (or
// "error after N: why"), and holds them until its parent stops it.
func benchIdleClient(ctx context.Context, url string, first, count int, stdout io.Writer) error {
	conns := make([]*websock.Conn, 0, count)
	defer func() {
		for _, c := range conns {
			c.CloseNow()
		}
	}()
	for i := first; i < first+count; i++ {
		c, err := benchConnect(ctx, url, i, protocol.NewKey(), []string{"ecg.beats@1"}, 1)
		if err != nil {
			fmt.Fprintf(stdout, "error after %d: connection %d (from %s): %v\n", len(conns), i+1, benchAddr(i), err)
			<-ctx.Done()
			return nil
		}
		conns = append(conns, c)
	}
	fmt.Fprintf(stdout, "connected %d\n", len(conns))
	<-ctx.Done()
	return nil
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
