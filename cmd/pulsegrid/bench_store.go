package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/server/store/postgres"
)

// benchStore is the database a coordinator measurement runs on: a
// temporary SQLite file, or a schema of its own on a PostgreSQL server
// with one leading replica (the grid's) and replicas-1 standbys waiting
// for the leader lock, as `serve --db` standbys do.
type benchStore struct {
	st    store.Store
	name  string
	close func()
	// dbCPU is the CPU time the PostgreSQL server has used so far (every
	// process of it), or -1 when it cannot be read (no PostgreSQL, or a
	// server on another machine).
	dbCPU func() time.Duration
}

func openBenchStore(ctx context.Context, dir, dbURL string, replicas int) (*benchStore, error) {
	if dbURL == "" {
		st, err := store.OpenSQLite(ctx, filepath.Join(dir, dbFile))
		if err != nil {
			return nil, err
		}
		return &benchStore{st: st, name: "SQLite (temporary file)", close: func() { st.Close() }, dbCPU: func() time.Duration { return -1 }}, nil
	}
	if !strings.HasPrefix(dbURL, "postgres://") && !strings.HasPrefix(dbURL, "postgresql://") {
		return nil, fmt.Errorf("--db: want a PostgreSQL URL postgres://USER:PASSWORD@HOST:PORT/DB")
	}
	schemaURL, drop, err := benchSchema(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		drop()
	}
	st, err := postgres.Open(ctx, schemaURL)
	if err != nil {
		drop()
		return nil, err
	}
	closers = append(closers, func() { st.Close() })
	lead, err := st.TryLead(ctx)
	if err == nil && lead == nil {
		err = errors.New("another session holds the bench schema's leader lock")
	}
	if err != nil {
		closeAll()
		return nil, err
	}
	closers = append(closers, lead.Release)
	// The standbys: each its own Store (pool, writer lock) polling the
	// leader lock every LeaderCheckInterval, as a standby serve does.
	sctx, stop := context.WithCancel(context.Background())
	for range replicas - 1 {
		sb, err := postgres.Open(ctx, schemaURL)
		if err != nil {
			stop()
			closeAll()
			return nil, err
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if l, err := sb.Lead(sctx, postgres.LeaderCheckInterval); err == nil {
				l.Release() // only when the leader went first at the end
			}
		}()
		closers = append(closers, func() { stop(); <-done; sb.Close() })
	}
	closers = append(closers, stop)
	bs := &benchStore{st: st, close: closeAll, dbCPU: func() time.Duration { return -1 }}
	u, _ := url.Parse(dbURL)
	bs.name = fmt.Sprintf("PostgreSQL %s%s, %d replica(s) up (1 leads and runs the grid)", u.Host, u.Path, replicas)
	if pm := postmasterPID(ctx, st); pm > 0 {
		bs.dbCPU = func() time.Duration { return treeCPU(pm) }
	}
	return bs, nil
}

// benchSchema creates a schema of its own on dbURL's server and returns a
// URL that uses it, and a function that drops it.
func benchSchema(ctx context.Context, dbURL string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", nil, fmt.Errorf("--db: %w", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "pulsegrid_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		return "", nil, fmt.Errorf("--db: create the bench's schema: %w", err)
	}
	drop := func() {
		c, err := pgx.Connect(context.Background(), dbURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		drop()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), drop, nil
}

// postmasterPID is the process id of the PostgreSQL server's postmaster
// when it runs on this machine (the parent of this session's backend), or
// 0.
func postmasterPID(ctx context.Context, st *postgres.Store) int {
	var backend int
	if err := st.Pool().QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0
	}
	f, err := procStat(backend)
	if err != nil || len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// procStat returns the fields of /proc/PID/stat after the command name:
// [state, ppid, …, utime (index 11), stime (12), …].
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, errors.New("no command name")
	}
	return strings.Fields(s[i+1:]), nil
}

// clockTick is USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTick = 100

// treeCPU is the CPU time used so far by process pid and its children
// (a PostgreSQL server: the postmaster and its backends and workers).
// Backends that ended meanwhile are not counted; the bench's connections
// live through the measurement.
func treeCPU(pid int) time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return -1
	}
	var ticks int64
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := procStat(p)
		if err != nil || len(f) < 2 {
			continue
		}
		if pp, _ := strconv.Atoi(f[1]); p != pid && pp != pid {
			continue
		}
		ticks += statTicks(f)
	}
	return time.Duration(ticks) * time.Second / clockTick
}

// statTicks is user + system time in the fields of procStat, in clock
// ticks; 0 when they are missing.
func statTicks(f []string) int64 {
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}
