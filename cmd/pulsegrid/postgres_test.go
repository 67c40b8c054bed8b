package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/server/store/postgres/pgtest"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

// TestServeOnPostgres: `serve --db postgres://…` with its accounts made by
// `user … --db`, a real WFDB record uploaded through the API, an analysis
// computed by two native volunteers, serve killed with SIGKILL half-way and
// started again, and the result equal to `pulsegrid run` on the files.
func TestServeOnPostgres(t *testing.T) {
	db := pgtest.URL(t)
	data := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	srv, out := serveProcess(t, addr, data, "--db", db)
	// The child's output reaches out through a pipe: wait for the banner.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "replica:") && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if !strings.Contains(out.String(), "database: PostgreSQL") || !strings.Contains(out.String(), "one-time password") {
		t.Errorf("serve --db did not say it uses PostgreSQL, or created no admin: %s", out.String())
	}
	if _, err := os.Stat(data + "/" + dbFile); err == nil {
		t.Errorf("serve --db created a SQLite database in --data")
	}
	tok := clinicianToken(t, "--db", db)
	if _, err := cli(t, "backup", "--db", db, "--out", t.TempDir()+"/b.db"); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Errorf("backup --db: %v, want a pointer to pg_dump", err)
	}
	_, anID := startBeats119(t, base, tok)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := range 2 {
		v := volunteer.New(volunteer.Config{Server: base, Registry: catalog.All(), CPU: 2, MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
			LocalAddr: fmt.Sprintf("127.0.%d.1", 20+i)})
		wg.Add(1)
		go func() { defer wg.Done(); v.Run(ctx) }()
	}
	status := func() (string, int) {
		code, body := apiDo(t, "GET", fmt.Sprintf("%s/api/v1/analyses/%d", base, anID), tok, "", nil)
		if code != 200 {
			t.Fatalf("status: %d %s", code, body)
		}
		var s struct {
			Status   string
			Progress struct {
				ChunksVerified int `json:"chunks_verified"`
			}
		}
		json.Unmarshal(body, &s)
		return s.Status, s.Progress.ChunksVerified
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if s, n := status(); n >= 3 || s == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no progress on PostgreSQL")
		}
	}
	s, atKill := status()
	t.Logf("killing serve with the analysis %s, %d chunks verified", s, atKill)
	srv.Process.Kill() // SIGKILL: no shutdown code runs
	srv.Wait()
	serveProcess(t, addr, data, "--db", db)
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s, _ := status()
		if s == "done" {
			break
		}
		if s != "running" || time.Now().After(deadline) {
			t.Fatalf("after the restart the analysis is %s", s)
		}
	}
	code, grid := apiDo(t, "GET", fmt.Sprintf("%s/api/v1/analyses/%d/result?format=json", base, anID), tok, "", nil)
	if code != 200 {
		t.Fatalf("result: %d %s", code, grid)
	}
	local, err := cli(t, "run", "ecg.beats@1", "../../../shared/data/mitdb/119.hea", "../../../shared/data/mitdb/119.dat", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var g, l any
	json.Unmarshal(grid, &g)
	json.Unmarshal([]byte(local), &l)
	gb, _ := json.Marshal(g)
	lb, _ := json.Marshal(l)
	if !bytes.Equal(gb, lb) || len(gb) < 100 {
		t.Errorf("result on PostgreSQL differs from pulsegrid run (%d vs %d bytes)", len(gb), len(lb))
	}
}
