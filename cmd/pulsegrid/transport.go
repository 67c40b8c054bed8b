package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/pulsegrid/pulsegrid/server"
)

// transportFlags are serve's flags for how connections are served: TLS
// and the connection timeouts. They live apart from serve's start-up so
// that each can change without the other.
type transportFlags struct {
	certFile, keyFile *string
	headerTimeout     *time.Duration
	idleTimeout       *time.Duration
	apiRate           *float64
	apiBurst          *int
}

func addTransportFlags(fs *flag.FlagSet) *transportFlags {
	return &transportFlags{
		certFile:      fs.String("tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs --tls-key. Turns on HSTS and Secure cookies"),
		keyFile:       fs.String("tls-key", "", "the PEM private key of --tls-cert"),
		headerTimeout: fs.Duration("header-timeout", 10*time.Second, "longest time a client may take to send a request's headers"),
		idleTimeout:   fs.Duration("idle-timeout", 2*time.Minute, "how long an idle keep-alive connection stays open"),
		apiRate:       fs.Float64("api-rate", 100, "API requests a second one client address may make on average (more answer 429)"),
		apiBurst:      fs.Int("api-burst", 1000, "API requests one client address may make at once"),
	}
}

// limits are the server's per-client limits the flags set.
func (t *transportFlags) limits() server.Limits {
	return server.Limits{APIRate: *t.apiRate, APIBurst: *t.apiBurst}
}

// tls reports whether HTTPS is asked for, after checking the flags agree.
func (t *transportFlags) tls() (bool, error) {
	switch {
	case *t.certFile == "" && *t.keyFile == "":
		return false, nil
	case *t.certFile == "" || *t.keyFile == "":
		return false, fmt.Errorf("--tls-cert and --tls-key go together: give both, or neither to serve plain HTTP (behind a TLS proxy)")
	}
	if _, err := tls.LoadX509KeyPair(*t.certFile, *t.keyFile); err != nil {
		return false, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", *t.certFile, *t.keyFile, err)
	}
	return true, nil
}

// server is the http.Server for h. Request headers must arrive within the
// header timeout and idle connections close after the idle timeout; there
// is no whole-request read or write timeout, as uploads of a gigabyte and
// volunteer websockets run for long. Request bodies are guarded by the
// handler instead (server.Limits: a pause or too slow a rate ends them).
func (t *transportFlags) server(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: *t.headerTimeout,
		IdleTimeout:       *t.idleTimeout,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serve serves srv on ln, over TLS when the flags ask for it.
func (t *transportFlags) serve(srv *http.Server, ln net.Listener) error {
	if *t.certFile != "" {
		return srv.ServeTLS(ln, *t.certFile, *t.keyFile)
	}
	return srv.Serve(ln)
}

// scheme is "https" when the flags ask for TLS, else "http".
func (t *transportFlags) scheme() string {
	if *t.certFile != "" {
		return "https"
	}
	return "http"
}
