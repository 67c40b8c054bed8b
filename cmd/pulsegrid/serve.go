package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/server"
	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/server/store/postgres"
)

func init() {
	commands["serve"] = command{
		summary: "start the server (API, volunteer websocket, metrics)",
		run:     cmdServe,
	}
}

// dbFile is the database's name inside the data directory.
const dbFile = "pulsegrid.db"

// dbEnv is the environment variable --db defaults to, so that a password
// in the URL need not appear in the process list.
const dbEnv = "PULSEGRID_DB"

// addDBFlag adds --db to a subcommand that opens the database.
func addDBFlag(fs *flag.FlagSet) *string {
	return fs.String("db", os.Getenv(dbEnv), "PostgreSQL database URL (postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=…) shared by several servers; empty: the SQLite database in --data (default $"+dbEnv+")")
}

// openStore opens the PostgreSQL database dbURL names, or, when it is
// empty, the SQLite database in dataDir.
func openStore(ctx context.Context, dataDir, dbURL string) (store.Store, error) {
	if dbURL == "" {
		return store.OpenSQLite(ctx, filepath.Join(dataDir, dbFile))
	}
	if !strings.HasPrefix(dbURL, "postgres://") && !strings.HasPrefix(dbURL, "postgresql://") {
		return nil, fmt.Errorf("--db: want a PostgreSQL URL postgres://USER:PASSWORD@HOST:PORT/DB, got one starting %q (leave --db empty for the SQLite database in --data)", strings.SplitN(dbURL, ":", 2)[0])
	}
	return postgres.Open(ctx, dbURL)
}

// describeDB names the database for the start-up banner (never a password).
func describeDB(dataDir, dbURL string) string {
	if dbURL == "" {
		return "SQLite " + filepath.Join(dataDir, dbFile)
	}
	if u, err := url.Parse(dbURL); err == nil {
		return "PostgreSQL " + u.Host + u.Path
	}
	return "PostgreSQL"
}

func cmdServe(ctx context.Context, e env) error {
	fs := newFlagSet("serve", "serve [--addr HOST:PORT] [--data DIR] [--local-workers N] [--quorum N] [--tls-cert FILE --tls-key FILE]", e.stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address (port 0 picks a free port)")
	data := fs.String("data", "./data", "data directory (the SQLite database lives here unless --db is given; spilled chunk payloads always)")
	dbURL := addDBFlag(fs)
	locals := fs.Int("local-workers", 0, "trusted in-process workers (this machine computes chunks too; their results need no second opinion)")
	quorum := fs.Int("quorum", 2, "distinct volunteers whose outputs must agree before a chunk is accepted")
	maxReplicas := fs.Int("max-replicas", 0, "results gathered for a chunk before it fails for want of agreement (0: quorum+3)")
	// Trust (server/grid, docs/security.md).
	sameNet := fs.Bool("allow-same-network", false, "let agreeing results come from one network prefix (a demo on one machine, or volunteers behind one NAT); distinct identities are still required")
	var proxies stringsFlag
	fs.Var(&proxies, "trusted-proxy", "a reverse proxy (CIDR or address, repeatable) whose X-Forwarded-For names the client; nobody else's is read")
	maxVolunteers := fs.Int("max-volunteers", 0, "volunteer connections held at most (0: the file-descriptor limit less a reserve for the portal and API)")
	chunkSec := fs.Float64("chunk-seconds", 0, "seconds of signal per chunk (0: each algorithm's default)")
	maxUpload := fs.Int64("max-upload", 1024, "largest upload in MiB")
	uploadDisk := fs.Int64("upload-disk", 0, "disk in MiB that all uploads in progress may hold together in DATA/tmp, spooled and expanded (0: 2 × --max-upload); an upload that would exceed it gets 413 at once")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	secureCookies := fs.Bool("secure-cookies", false, "always mark the session cookie Secure (by default it is Secure when the request came over https or with X-Forwarded-Proto: https)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file (written when the server stops; for benchmarks)")
	transport := addTransportFlags(fs) // transport.go: --tls-cert, --tls-key, timeouts
	pos, err := parseInterleaved(fs, e.args)
	if err != nil {
		return err
	}
	if err := noArguments("serve", pos, "--addr 127.0.0.1:8080 --data ./data"); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: lvl}))
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	useTLS, err := transport.tls()
	if err != nil {
		return err
	}

	// Bind the address, then refuse a second serve on this data
	// directory, before anything is created: a failed start leaves no
	// data directory, database or one-time password behind.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		if owner, locked := dataDirLocked(*data); locked {
			return fmt.Errorf("--addr %s: the port is taken, and %w", *addr, errDataDirInUse(*data, owner))
		}
		return fmt.Errorf("--addr %s: %w (is another server using the port? choose another with --addr)", *addr, err)
	}
	defer ln.Close()
	unlock, err := lockDataDir(*data)
	if err != nil {
		return err
	}
	defer unlock()

	st, err := openStore(ctx, *data, *dbURL)
	if err != nil {
		return err
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	trusted, err := server.ParseTrustedProxies(proxies)
	if err != nil {
		return err
	}
	if *maxVolunteers == 0 {
		*maxVolunteers = volunteerCap()
	}
	// Several replicas on one PostgreSQL: the one holding the leader lock
	// runs the grid and the volunteers' websockets; the others serve the
	// portal and the API without a grid, answering 503 on /readyz and 200
	// on /readyz/portal (replica.go, docs/operations.md).
	// SQLite has one server: it leads from the start.
	algs := catalog.All()
	rep := server.NewReplica(func(ctx context.Context) error { _, err := st.CountUsers(ctx); return err }, reg)
	leaderGauge := grid.NewLeaderGauge(reg)
	pg, _ := st.(*postgres.Store)
	var lead *postgres.Leadership
	if pg != nil {
		if lead, err = pg.TryLead(ctx); err != nil {
			return err
		}
	}
	// g is the grid once this replica leads; a standby has none.
	var (
		gmu   sync.Mutex
		g     *grid.Grid
		watch = func() {} // stops the grid's LISTEN for other replicas' writes
	)
	defer func() {
		gmu.Lock()
		defer gmu.Unlock()
		watch()
		if g != nil {
			g.Close()
		}
		if lead != nil {
			lead.Release()
		}
	}()
	gridCfg := grid.Config{Quorum: *quorum, MaxReplicas: *maxReplicas, AllowSameNetwork: *sameNet, ChunkSeconds: *chunkSec,
		MaxConnections: *maxVolunteers, SpillDir: filepath.Join(*data, "tmp"), Logger: log, Metrics: reg}
	// handler serves the portal, the API and, given a grid, the volunteers;
	// without one (a standby) what concerns the grid is recorded for the
	// leader (grid.Standby).
	handler := func(gr *grid.Grid) http.Handler {
		d := server.Deps{Store: st, Grid: gr, Registry: algs, Logger: log, Gatherer: reg, MaxUpload: *maxUpload << 20, UploadDisk: *uploadDisk << 20,
			Portal: server.PortalConfig{DataDir: *data, SecureCookies: *secureCookies || useTLS}, Limits: transport.limits(), TrustedProxies: trusted}
		if gr == nil {
			d.Standby = grid.NewStandby(st, algs, gridCfg)
		}
		return server.NewServer(d)
	}
	// start runs the grid and serves traffic: at once with SQLite or a free
	// lock, on taking over otherwise.
	start := func(ctx context.Context, first bool) error {
		created, err := ensureAdmin(ctx, st, e)
		if err != nil {
			return err
		}
		if !created && first {
			remindAdminPassword(ctx, st, e, *data)
		}
		if !first && pg != nil {
			// The dead leader's uploads in flight are incomplete datasets.
			if err := pg.RemoveDeadWriters(ctx); err != nil {
				return fmt.Errorf("remove the dead leader's incomplete uploads: %w", err)
			}
		}
		// Large chunk payloads wait for their leases on disk (grid/payload.go).
		gr := grid.New(st, algs, gridCfg)
		gmu.Lock()
		g = gr
		gmu.Unlock()
		if err := gr.ResumeInBackground(ctx); err != nil {
			return fmt.Errorf("resume unfinished analyses: %w", err)
		}
		if pg != nil {
			// Standbys start, cancel and delete analyses too: the store
			// tells this grid (LISTEN), which loads or drops them.
			wctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				pg.WatchAnalyses(wctx, func(id int64) {
					if err := gr.Sync(wctx, id); err != nil && wctx.Err() == nil {
						log.Error("sync an analysis another replica wrote", "analysis", id, "err", err)
					}
				}, func() {
					if err := gr.SyncAll(wctx); err != nil && wctx.Err() == nil {
						log.Error("sync the analyses other replicas wrote", "err", err)
					}
				})
			}()
			gmu.Lock()
			watch = func() { stop(); <-done }
			gmu.Unlock()
		}
		if err := gr.StartLocalWorkers(*locals); err != nil {
			return err
		}
		h := handler(gr)
		role := "single"
		if pg != nil {
			role = "leader"
		}
		rep.Serve(h, role)
		leaderGauge.Set(1)
		return nil
	}
	if pg == nil || lead != nil {
		if err := start(ctx, true); err != nil {
			return err
		}
	} else {
		rep.Standby(handler(nil))
	}
	srv := transport.server(rep, log)
	base := transport.scheme() + "://" + ln.Addr().String()
	fmt.Fprintf(e.stdout, "pulsegrid serving on %s  (data: %s, database: %s, quorum %d, %d local workers)\n", base, *data, describeDB(*data, *dbURL), grid.Config{Quorum: *quorum}.Effective().Quorum, *locals)
	if *sameNet {
		fmt.Fprintln(e.stdout, "  note:       --allow-same-network: volunteers of one network may verify each other (a demo on one machine; not for real data from the internet)")
	}
	fmt.Fprintf(e.stdout, "  portal:     %s/login\n", base)
	fmt.Fprintf(e.stdout, "  donate:     %s/donate  (open it in a browser tab to compute)\n", base)
	fmt.Fprintf(e.stdout, "  API:        %s/api/v1  (docs/api.md; tokens: pulsegrid user token --data %s --email E)\n", base, *data)
	fmt.Fprintf(e.stdout, "  volunteers: pulsegrid volunteer --server %s\n", base)
	fmt.Fprintf(e.stdout, "  metrics:    %s/metrics   health: %s/healthz   ready: %s/readyz\n", base, base, base)
	errc := make(chan error, 2)
	switch {
	case pg != nil && lead != nil:
		fmt.Fprintln(e.stdout, "  replica:    leader (holds the grid leader lock and runs the grid; other replicas on this database serve the portal and the API as standbys)")
	case pg != nil:
		fmt.Fprintln(e.stdout, "  replica:    standby (another replica holds the grid leader lock and runs the grid; this one serves the portal and the API, /readyz/portal 200, and takes over when the lock frees; /readyz answers 503 until then)")
	}
	var leadc chan *postgres.Leadership
	if pg != nil && lead == nil {
		leadc = make(chan *postgres.Leadership, 1)
		go func() {
			l, err := pg.Lead(ctx, postgres.LeaderCheckInterval)
			if err != nil {
				return // ctx ended
			}
			waited := time.Now()
			if err := start(ctx, false); err != nil {
				l.Release()
				errc <- fmt.Errorf("take over as the leader: %w", err)
				return
			}
			fmt.Fprintf(e.stdout, "took over as the leader (grid resumed in %s)\n", time.Since(waited).Round(time.Millisecond))
			leadc <- l
		}()
	}
	go func() { errc <- transport.serve(srv, ln) }()
	for {
		var lost <-chan struct{}
		if lead != nil {
			lost = lead.Lost()
		}
		select {
		case err := <-errc:
			return err
		case l := <-leadc:
			gmu.Lock()
			lead = l
			gmu.Unlock()
			continue
		case <-lost:
			// Another replica may lead already: stop at once rather than
			// run a second grid (a supervisor restarts this one as a standby).
			return fmt.Errorf("lost the grid leader lock (%v): stopping so that a standby takes over", lead.Err())
		case <-ctx.Done():
		}
		break
	}
	fmt.Fprintln(e.stdout, "shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// ensureAdmin creates the first admin account on an empty database and
// prints its one-time password, which expires after auth.OneTimeLifetime;
// created says whether it did.
func ensureAdmin(ctx context.Context, st store.Store, e env) (created bool, err error) {
	n, err := st.CountUsers(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	pw, hash, expires, err := auth.NewOneTimePassword()
	if err != nil {
		return false, err
	}
	u, err := st.CreateUser(ctx, store.User{Email: "admin@localhost", Role: store.RoleAdmin, PasswordHash: hash, MustChange: true, PasswordExpires: expires})
	if err != nil {
		return false, err
	}
	// To the operator's terminal only, never to the log: the log may be
	// collected and kept where passwords must not be.
	fmt.Fprintf(e.stdout, "created the first account: %s (admin), one-time password: %s  (it must be changed at first login, before %s)\n", u.Email, pw, expires.Format("2006-01-02 15:04 MST"))
	return true, nil
}

// remindAdminPassword says how to get a new password when an admin
// account has never signed in: its one-time password was printed at the
// first start only, and may be lost.
func remindAdminPassword(ctx context.Context, st store.Store, e env, data string) {
	us, err := st.Users(ctx)
	if err != nil {
		return
	}
	for _, u := range us {
		if u.Role == store.RoleAdmin && !u.Disabled && u.LastLogin.IsZero() {
			fmt.Fprintf(e.stdout, "the admin account %s has never signed in; if its one-time password is lost, print a new one with: pulsegrid user reset --data %s --email %s\n", u.Email, data, u.Email)
		}
	}
}

func validRole(r string) error {
	switch r {
	case store.RoleAdmin, store.RoleClinician, store.RoleVolunteer:
		return nil
	}
	return fmt.Errorf("--role %q: want %s", r, strings.Join([]string{store.RoleAdmin, store.RoleClinician, store.RoleVolunteer}, ", "))
}
