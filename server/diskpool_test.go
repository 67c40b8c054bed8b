package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// csvOf is a valid CSV of heart rates of about n bytes.
func csvOf(n int) []byte {
	var b bytes.Buffer
	b.WriteString("time,HR [bpm]\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%d,%d\n", i, 60+i%40)
	}
	return b.Bytes()
}

type uploadAnswer struct {
	status     int
	retryAfter string
	body       string
}

// heldUpload is an upload whose body the test writes piece by piece.
type heldUpload struct {
	pw     *io.PipeWriter
	answer chan uploadAnswer
}

// startHeldUpload sends the headers of an upload now; its body is what
// the test writes to pw. length is its Content-Length (-1: unknown,
// sent chunked).
func startHeldUpload(base, tok string, length int64, ctype string) *heldUpload {
	pr, pw := io.Pipe()
	h := startHeldUploadFrom(base, tok, length, ctype, pr)
	h.pw = pw
	return h
}

// startHeldUploadFrom is startHeldUpload with the body read from pr.
func startHeldUploadFrom(base, tok string, length int64, ctype string, pr *io.PipeReader) *heldUpload {
	h := &heldUpload{answer: make(chan uploadAnswer, 1)}
	go func() {
		req, _ := http.NewRequest("POST", base+"/api/v1/datasets", pr)
		req.ContentLength = length
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			pr.CloseWithError(err)
			h.answer <- uploadAnswer{body: err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pr.CloseWithError(io.ErrClosedPipe) // the writer stops at once
		h.answer <- uploadAnswer{resp.StatusCode, resp.Header.Get("Retry-After"), string(b)}
	}()
	return h
}

func clinicianToken(t *testing.T, st *store.SQLite) string {
	t.Helper()
	ctx := context.Background()
	u, err := st.CreateUser(ctx, store.User{Email: "clin@example.org", Role: store.RoleClinician, PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	tok, hash, _ := auth.NewToken()
	if err := st.CreateToken(ctx, u.ID, hash, "disk"); err != nil {
		t.Fatal(err)
	}
	return tok
}

// waitFor polls cond (the state of DATA/tmp, written by the server) until
// it holds; the deadline only keeps a broken server from hanging the test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestParallelUploadsAreAdmittedWhole: uploads that arrive together are
// admitted whole or refused at once, so those admitted finish. Five
// uploads of 900 KB state their length; the disk for uploads is 2 MiB:
// two are admitted, three get 503 with Retry-After before a byte of their
// body is sent; the two then complete, and DATA/tmp is left empty. With
// the disk taken as bytes arrive (the old code) all five are admitted and
// run out of disk together.
func TestParallelUploadsAreAdmittedWhole(t *testing.T) {
	const limit = 1 << 20
	cs := startCorpusServerLimit(t, limit)
	tok := clinicianToken(t, cs.st)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("files", "hr.csv")
	fw.Write(csvOf(900 << 10))
	mw.Close()
	answers := make(chan int, 5)
	ups := make([]*heldUpload, 5)
	for i := range ups {
		ups[i] = startHeldUpload(cs.base, tok, int64(body.Len()), mw.FormDataContentType())
		go func() {
			a := <-ups[i].answer
			ups[i].answer <- a
			answers <- i
		}()
	}
	refused := map[int]bool{}
	for range 3 {
		select {
		case i := <-answers:
			a := <-ups[i].answer
			ups[i].answer <- a
			if a.status != http.StatusServiceUnavailable || a.retryAfter == "" || !strings.Contains(a.body, "shared by every upload") {
				t.Errorf("an upload answered before its body was sent: %d Retry-After %q %s, want 503 with Retry-After naming the shared disk", a.status, a.retryAfter, a.body)
			}
			refused[i] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of five uploads were answered before their bodies were sent; want three refused at once", len(refused))
		}
	}
	for i, u := range ups {
		if refused[i] {
			continue
		}
		go func() {
			u.pw.Write(body.Bytes())
			u.pw.Close()
		}()
		if a := <-u.answer; a.status != http.StatusCreated {
			t.Errorf("an admitted upload: %d %s, want 201", a.status, a.body)
		}
	}
	if n := cs.tmpBytes(t); n != 0 {
		t.Errorf("DATA/tmp holds %d bytes after every upload finished", n)
	}
	// Longer than --max-upload: 413 at once, without reading the body.
	big := startHeldUpload(cs.base, tok, limit+1, mw.FormDataContentType())
	select {
	case a := <-big.answer:
		if a.status != http.StatusRequestEntityTooLarge {
			t.Errorf("an upload stating %d bytes: %d %s, want 413", limit+1, a.status, a.body)
		}
	case <-time.After(30 * time.Second):
		t.Error("an upload stating more than --max-upload was not refused before its body was sent")
	}
}

// TestUploadsOfUnknownLengthLetTheOldestFinish: three uploads without a
// Content-Length each spool 600 KB of 2 MiB; then the oldest needs more
// than is free. It waits while the two younger ones are refused (503 with
// Retry-After) at their next write and give their disk back, and then it
// completes. Without the preference for the oldest, every upload that
// finds the disk short is refused, the oldest too.
func TestUploadsOfUnknownLengthLetTheOldestFinish(t *testing.T) {
	const limit = 1 << 20
	cs := startCorpusServerLimit(t, limit)
	tok := clinicianToken(t, cs.st)
	data := csvOf(950 << 10)
	type sender struct {
		*heldUpload
		mw *multipart.Writer
		fw io.Writer
	}
	start := func(name string) sender {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		s := sender{heldUpload: startHeldUploadFrom(cs.base, tok, -1, mw.FormDataContentType(), pr), mw: mw}
		s.heldUpload.pw = pw
		s.fw, _ = mw.CreateFormFile("files", name)
		return s
	}
	var ss []sender
	for i, name := range []string{"oldest.csv", "second.csv", "third.csv"} {
		s := start(name)
		go s.fw.Write(data[:600<<10])
		ss = append(ss, s)
		want := int64(i+1) * (590 << 10)
		waitFor(t, fmt.Sprintf("%s spooled", name), func() bool { return cs.tmpBytes(t) >= want })
	}
	oldest := ss[0]
	go func() {
		oldest.fw.Write(data[600<<10:])
		oldest.mw.Close()
		oldest.pw.Close()
	}()
	// The oldest has filled the disk and waits (or, wrongly, was refused).
	waitFor(t, "the oldest filled the disk", func() bool {
		if cs.tmpBytes(t) >= 2*limit-(64<<10) {
			return true
		}
		select {
		case a := <-oldest.answer:
			oldest.answer <- a
			return true
		default:
			return false
		}
	})
	for _, s := range ss[1:] {
		go func() {
			s.fw.Write(data[600<<10:])
			s.mw.Close()
			s.pw.Close()
		}()
	}
	for i, s := range ss {
		a := <-s.answer
		switch {
		case i == 0 && a.status != http.StatusCreated:
			t.Errorf("the oldest upload: %d %s, want 201", a.status, a.body)
		case i > 0 && (a.status != http.StatusServiceUnavailable || a.retryAfter == ""):
			t.Errorf("a younger upload: %d Retry-After %q %s, want 503 with Retry-After", a.status, a.retryAfter, a.body)
		}
	}
	waitFor(t, "DATA/tmp emptied", func() bool { return cs.tmpBytes(t) == 0 })
}
