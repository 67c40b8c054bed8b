package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store"
)

// Limits bound what one client may ask of the server. Zero fields take
// the defaults in brackets.
type Limits struct {
	// APIRate is the API requests a second one address may make on
	// average [100], APIBurst how many at once [1000]. Beyond it: 429.
	// Generous: a hospital's clinicians may share one address (NAT, a
	// proxy), each progress page polls once a second, and a script
	// fetching results one by one must not be cut; a flood is thousands.
	APIRate  float64
	APIBurst int
	// TokenFailures is how many unrecognised API tokens one address may
	// send [10] before each further check waits TokenRefill [6 s].
	TokenFailures int
	TokenRefill   time.Duration
	// BodyIdle is the longest a request body may pause between bytes
	// [10 s]; BodyMinRate the slowest average, in bytes a second of
	// waiting for the network, a body may arrive at after BodyGrace
	// [1024 B/s after 30 s]. Together they stop a body trickled at a
	// byte every 15 s while a large upload over a slow link goes on.
	BodyIdle    time.Duration
	BodyMinRate int
	BodyGrace   time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.APIRate <= 0 {
		l.APIRate = 100
	}
	if l.APIBurst <= 0 {
		l.APIBurst = 1000
	}
	if l.TokenFailures <= 0 {
		l.TokenFailures = 10
	}
	if l.TokenRefill <= 0 {
		l.TokenRefill = 6 * time.Second
	}
	if l.BodyIdle <= 0 {
		l.BodyIdle = 10 * time.Second
	}
	if l.BodyMinRate <= 0 {
		l.BodyMinRate = 1024
	}
	if l.BodyGrace <= 0 {
		l.BodyGrace = 30 * time.Second
	}
	return l
}

// guard is the server's per-address state: the API request buckets, in
// this process's memory (flood protection of this process), and the
// throttles against guessing, in the store and shared by every server on
// the database (throttle.go).
type guard struct {
	limits   Limits
	api      *buckets
	shared   *sharedThrottles
	tokenBad *tokenThrottle
}

func newGuard(l Limits, st store.ThrottleStore, log *slog.Logger) *guard {
	l = l.withDefaults()
	sh := newSharedThrottles(st, log)
	return &guard{
		limits:   l,
		api:      newBuckets(l.APIRate, float64(l.APIBurst)),
		shared:   sh,
		tokenBad: &tokenThrottle{sh: sh, rate: 1 / l.TokenRefill.Seconds(), burst: float64(l.TokenFailures)},
	}
}

// buckets are token buckets by key: each refills at rate a second up to
// burst.
type buckets struct {
	rate, burst float64
	mu          sync.Mutex
	m           map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newBuckets(rate, burst float64) *buckets {
	return &buckets{rate: rate, burst: burst, m: map[string]*bucket{}}
}

// level refills key's bucket to now and returns it.
func (b *buckets) level(key string, now time.Time) *bucket {
	k := b.m[key]
	if k == nil {
		if len(b.m) >= 100000 { // forget full buckets rather than grow without bound
			for key, x := range b.m {
				if x.tokens+now.Sub(x.at).Seconds()*b.rate >= b.burst {
					delete(b.m, key)
				}
			}
		}
		k = &bucket{tokens: b.burst, at: now}
		b.m[key] = k
	}
	k.tokens = math.Min(b.burst, k.tokens+now.Sub(k.at).Seconds()*b.rate)
	k.at = now
	return k
}

// wait is how long key must wait for a token (0: one is there).
func (b *buckets) wait(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.level(key, time.Now())
	if k.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - k.tokens) / b.rate * float64(time.Second))
}

// take spends a token of key's if there is one; else it returns the wait.
func (b *buckets) take(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := b.level(key, time.Now())
	if k.tokens >= 1 {
		k.tokens--
		return 0
	}
	return time.Duration((1 - k.tokens) / b.rate * float64(time.Second))
}

// tooMany answers 429 with Retry-After and a JSON error.
func tooMany(w http.ResponseWriter, wait time.Duration, msg string) {
	s := max(int(math.Ceil(wait.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.Itoa(s))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"code": "too_many_requests", "error": fmt.Sprintf("%s; try again in %d s", msg, s)})
}

type auditorKey struct{}

// requestAudit lets code that has only the context (mayAccess) write audit
// entries: edge puts one in every request's context.
type requestAudit struct {
	d       Deps
	request string // "METHOD /path", the object of an access refusal
	once    sync.Once
}

// maxBody bounds the body of every request but an upload's (forms, JSON
// requests). Without it Go's form parsing keeps up to 10 MB of each
// urlencoded body in memory and writes the file parts of a multipart body
// beyond 32 MB to os.TempDir without any limit, outside the disk for
// uploads: POST /login, which needs no account, took either.
const maxBody = 1 << 20

// isUpload says whether r is one of the two upload routes (routes.go),
// whose bodies receiveUpload bounds by --max-upload and the disk for
// uploads.
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && (r.URL.Path == "/api/v1/datasets" || r.URL.Path == "/datasets/upload")
}

// parseSmallForm parses a form body (urlencoded or multipart) outside the
// upload routes here, within maxBody, so that one that is too long gets 413
// naming the limit: handlers read fields with FormValue, which drops the
// parse error and would answer a cut body as if its fields were empty.
func parseSmallForm(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	var err error
	switch {
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		err = r.ParseForm()
	case strings.HasPrefix(ct, "multipart/form-data"):
		err = r.ParseMultipartForm(maxBody)
	default:
		return nil
	}
	if err == nil {
		return nil
	}
	var tooLong *http.MaxBytesError
	var e *Error
	switch {
	case errors.As(err, &tooLong):
		return Errorf(ETooLarge, "a request body over %d bytes: at most %d are read outside uploads", maxBody, maxBody)
	case errors.As(err, &e):
		return e
	}
	return Errorf(EInvalid, "the form: %v", err)
}

// edge is the outermost part of the handler stack that knows the
// deployment: it names the client address (clientAddr, which reads a
// trusted proxy's X-Forwarded-For) for the audit log, the login throttle
// and the limits, limits API requests per address, bounds the bodies of
// requests other than uploads and guards request bodies against trickling.
func edge(d Deps, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := clientAddr(r, d.TrustedProxies)
		ctx := context.WithValue(r.Context(), clientAddrKey{}, addr)
		ctx = store.WithAuditAddress(ctx, addr)
		ctx = context.WithValue(ctx, auditorKey{}, &requestAudit{d: d, request: r.Method + " " + r.URL.Path})
		r = r.WithContext(ctx)
		api := strings.HasPrefix(r.URL.Path, "/api/")
		if api {
			if wait := d.guard.api.take(addr); wait > 0 {
				tooMany(w, wait, "too many API requests from your address")
				return
			}
		}
		if r.Body != nil && r.Body != http.NoBody {
			small := !isUpload(r)
			if small && r.ContentLength > maxBody {
				writeError(w, r, d.Logger, Errorf(ETooLarge, "a request body of %d bytes: at most %d are read outside uploads", r.ContentLength, maxBody))
				return
			}
			if small {
				r.Body = http.MaxBytesReader(w, r.Body, maxBody)
			}
			r.Body = &bodyGuard{rc: r.Body, ctl: http.NewResponseController(w), limits: d.guard.limits}
			// Portal forms only: API bodies are JSON whatever their type says
			// (curl -d sends JSON as urlencoded), read by the handlers.
			if small && !api {
				if err := parseSmallForm(r); err != nil {
					writeError(w, r, d.Logger, err)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// bodyGuard reads a request body with a read deadline on each read (so a
// pause longer than BodyIdle ends the request) and a floor on the average
// rate, counted over the time spent waiting for the network only, so that
// a handler that works between reads does not count against its client.
type bodyGuard struct {
	rc      io.ReadCloser
	ctl     *http.ResponseController
	limits  Limits
	n       int64
	waiting time.Duration
	err     error
}

// Read implements io.Reader.
func (b *bodyGuard) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.waiting > b.limits.BodyGrace && float64(b.n) < float64(b.limits.BodyMinRate)*b.waiting.Seconds() {
		b.err = Errorf(EInvalid, "the request body arrived at %.0f bytes/s; the server needs at least %d bytes/s", float64(b.n)/b.waiting.Seconds(), b.limits.BodyMinRate)
		b.ctl.SetReadDeadline(time.Now()) // end the connection's reads: nothing more of this body is wanted
		return 0, b.err
	}
	start := time.Now()
	// ErrNotSupported (a test's recorder) leaves only the rate floor.
	b.ctl.SetReadDeadline(start.Add(b.limits.BodyIdle))
	n, err := b.rc.Read(p)
	b.waiting += time.Since(start)
	b.n += int64(n)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = Errorf(EInvalid, "the request body paused for more than %s", b.limits.BodyIdle)
		} else {
			// Done with the body: no deadline may cut the response or
			// the server's watch for the client going away.
			b.ctl.SetReadDeadline(time.Time{})
		}
		b.err = err
	}
	return n, err
}

// Close implements io.Closer.
func (b *bodyGuard) Close() error { return b.rc.Close() }

// auditOutcome is audit with an outcome other than ok.
func auditOutcome(d Deps, r *http.Request, action, object, detail, outcome string) {
	auditCtx(d, r.Context(), action, object, detail, outcome)
}

// auditCtx is auditOutcome for code that has the context, not the request.
func auditCtx(d Deps, ctx context.Context, action, object, detail, outcome string) {
	if err := d.Store.Audit(ctx, store.AuditEntry{UserID: userOf(ctx).ID, Action: action, Object: object, Detail: detail, Outcome: outcome}); err != nil {
		d.Logger.Error("audit log", "err", err, "action", action, "object", object)
	}
}
