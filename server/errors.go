package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pulsegrid/pulsegrid/server/grid"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// Error codes: the whole vocabulary of failures the API reports.
const (
	EInvalid       = "invalid"       // 400: the request is malformed or asks for something impossible
	EUnauthorized  = "unauthorized"  // 401: no or bad credentials
	EForbidden     = "forbidden"     // 403: credentials fine, not allowed
	ENotFound      = "not_found"     // 404
	EConflict      = "conflict"      // 409: the object is not in a state that allows this
	ETooLarge      = "too_large"     // 413
	EUnprocessable = "unprocessable" // 422: well-formed, but the data cannot be used
	EInternal      = "internal"      // 500: our fault; logged
	EUnavailable   = "unavailable"   // 503: the server cannot take it now; Retry-After says when to try again
)

// Error is an application error with a message a person can act on.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Problems is a request refused for several reasons at once (a form with
// more than one thing wrong); its code is the first problem's, and a
// handler that reports one error reports the first.
type Problems []*Error

// Error implements error.
func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Message
	}
	return strings.Join(msgs, "; ")
}

// ErrorCode maps an error to a code: *Error carries its own; store and
// grid sentinels map to theirs; anything else is internal.
func ErrorCode(err error) string {
	var e *Error
	var se *grid.SplitError
	var ps Problems
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	case errors.As(err, &ps) && len(ps) > 0:
		return ps[0].Code
	case errors.Is(err, store.ErrNotFound):
		return ENotFound
	case errors.Is(err, store.ErrConflict):
		return EConflict
	case errors.As(err, &se):
		return EUnprocessable
	}
	return EInternal
}

var statusOf = map[string]int{
	EInvalid: http.StatusBadRequest, EUnauthorized: http.StatusUnauthorized, EForbidden: http.StatusForbidden,
	ENotFound: http.StatusNotFound, EConflict: http.StatusConflict, ETooLarge: http.StatusRequestEntityTooLarge,
	EUnprocessable: http.StatusUnprocessableEntity, EInternal: http.StatusInternalServerError,
	EUnavailable: http.StatusServiceUnavailable,
}

// setRetryAfter sends err's Retry-After, if it has one, in whole seconds.
func setRetryAfter(w http.ResponseWriter, err error) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
}

// writeError renders err as JSON {"code", "error"} (or a small HTML page for
// browsers asking for HTML) with the status of its code. Only internal
// errors are logged, and their details are not shown.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := ErrorCode(err)
	msg := err.Error()
	if code == EInternal {
		log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error; the server log has the details"
	}
	status := statusOf[code]
	setRetryAfter(w, err)
	if code == EUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pulsegrid"`)
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") && !strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<!doctype html><title>%d</title><h1>%s</h1><p>%s</p>\n", status, http.StatusText(status), html.EscapeString(msg))
		return
	}
	writeJSON(w, status, map[string]string{"code": code, "error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	enc.Encode(v)
}
