package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

// TestMain lets a test start this test binary as `pulsegrid ARGS...` in a
// child process (to kill it with SIGKILL), with PULSEGRID_TEST_ARGS set to
// the arguments separated by newlines.
func TestMain(m *testing.M) {
	if args := os.Getenv("PULSEGRID_TEST_ARGS"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, append([]string{"pulsegrid"}, strings.Split(args, "\n")...), os.Getenv, os.Stdin, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "pulsegrid:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// cli runs a subcommand in this process and returns its standard output.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), append([]string{"pulsegrid"}, args...), os.Getenv, strings.NewReader(""), &out, &errb)
	if err != nil {
		err = fmt.Errorf("%w (stderr: %s)", err, errb.String())
	}
	return out.String(), err
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a bytes.Buffer a child process writes while a test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveProcess starts `pulsegrid serve` as a child process.
func serveProcess(t *testing.T, addr, data string, extra ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	args := append([]string{"serve", "--addr", addr, "--data", data, "--chunk-seconds", "60"}, extra...)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PULSEGRID_TEST_ARGS="+strings.Join(args, "\n"))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for range 200 {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return cmd, out
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("serve did not answer /healthz: %s", out.String())
	return nil, nil
}

func apiDo(t *testing.T, method, url, token, ctype string, body io.Reader) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// clinicianToken adds the clinician clin@x.org with the CLI on the
// database dbArgs name (--data DIR or --db URL) and returns an API token
// of its.
func clinicianToken(t *testing.T, dbArgs ...string) string {
	t.Helper()
	if _, err := cli(t, append([]string{"user", "add", "--email", "clin@x.org", "--password", "Correct-Horse-42"}, dbArgs...)...); err != nil {
		t.Fatal(err)
	}
	out, err := cli(t, append([]string{"user", "token", "--email", "clin@x.org"}, dbArgs...)...)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(out)
	return f[len(f)-1]
}

// recordBody is the upload body of WFDB record name in dir (its .hea and
// .dat as multipart field "files") and its content type.
func recordBody(t *testing.T, dir, name string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, ext := range []string{".hea", ".dat"} {
		b, err := os.ReadFile(filepath.Join(dir, name+ext))
		if err != nil {
			t.Fatal(err)
		}
		fw, _ := mw.CreateFormFile("files", name+ext)
		fw.Write(b)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// startBeats119 uploads MIT-BIH 119 to base through the API and starts
// ecg.beats@1 on it; it returns the dataset's and the analysis's ids.
func startBeats119(t *testing.T, base, tok string) (dataset, analysis int64) {
	t.Helper()
	body, ctype := recordBody(t, "../../../shared/data/mitdb", "119")
	code, b := apiDo(t, "POST", base+"/api/v1/datasets", tok, ctype, bytes.NewReader(body))
	if code != 201 {
		t.Fatalf("upload: %d %s", code, b)
	}
	var ds struct{ ID int64 }
	json.Unmarshal(b, &ds)
	code, b = apiDo(t, "POST", base+"/api/v1/analyses", tok, "application/json", strings.NewReader(fmt.Sprintf(`{"dataset_id":%d,"algorithm":"ecg.beats@1"}`, ds.ID)))
	if code != 201 {
		t.Fatalf("analysis: %d %s", code, b)
	}
	var an struct{ ID int64 }
	json.Unmarshal(b, &an)
	return ds.ID, an.ID
}

func TestUserCommands(t *testing.T) {
	data := t.TempDir()
	if _, err := cli(t, "user", "add", "--data", data, "--email", "c@x.org", "--role", "clinician", "--password", "Correct-Horse-42"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli(t, "user", "add", "--data", data, "--email", "c@x.org"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate add: got %v", err)
	}
	if _, err := cli(t, "user", "add", "--data", data, "--email", "d@x.org", "--password", "short"); err == nil {
		t.Errorf("a weak password was accepted")
	}
	if _, err := cli(t, "user", "add", "--data", data, "--email", "d@x.org", "--role", "root"); err == nil {
		t.Errorf("an unknown role was accepted")
	}
	out, err := cli(t, "user", "token", "--email", "c@x.org", "--data", data) // flags in any order
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	fields := strings.Fields(lines[len(lines)-1])
	tok := fields[len(fields)-1]
	if !strings.HasPrefix(tok, "pgt_") {
		t.Fatalf("last field of the last line is %q, want the token", tok)
	}
	if _, err := cli(t, "user", "disable", "--data", data, "--email", "c@x.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli(t, "user", "token", "--data", data, "--email", "c@x.org"); err == nil {
		t.Errorf("a disabled user got a token")
	}
	out, err = cli(t, "user", "reset", "--data", data, "--email", "c@x.org")
	if err != nil || !strings.Contains(out, "one-time password") {
		t.Errorf("reset: %q %v", out, err)
	}
	if _, err := cli(t, "user", "reset", "--data", data, "--email", "nobody@x.org"); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("reset of an unknown user: %v", err)
	}
}

// TestKill9 kills the server with SIGKILL in the middle of an analysis:
// the upload survives, verified chunks are kept, leases in flight are
// re-issued after the restart and the result equals the local run. A
// backup taken while serve runs holds the dataset.
func TestKill9(t *testing.T) {
	data := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	srv, out := serveProcess(t, addr, data)
	if !strings.Contains(out.String(), "one-time password") {
		t.Errorf("first start did not print the admin's one-time password: %s", out.String())
	}
	tok := clinicianToken(t, "--data", data)
	dsID, anID := startBeats119(t, base, tok)

	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := cli(t, "backup", "--data", data, "--out", backup); err != nil {
		t.Fatal(err)
	}
	if bst, err := store.OpenSQLite(context.Background(), backup); err != nil {
		t.Error(err)
	} else {
		if _, err := bst.Dataset(context.Background(), dsID); err != nil {
			t.Errorf("backup taken while serving lacks the dataset: %v", err)
		}
		bst.Close()
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := range 2 {
		// Each from a network of its own: a quorum needs two.
		v := volunteer.New(volunteer.Config{Server: base, Registry: catalog.All(), CPU: 2, MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
			LocalAddr: fmt.Sprintf("127.0.%d.1", 10+i)})
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
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, n := status(); n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no progress before the kill")
		}
	}
	if s, _ := status(); s != "running" {
		t.Fatalf("analysis is %s before the kill; want running", s)
	}
	_, atKill := status()
	t.Logf("killing serve with %d chunks verified", atKill)
	srv.Process.Kill() // SIGKILL: no shutdown code runs
	srv.Wait()
	serveProcess(t, addr, data)
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
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
	if !bytes.Equal(gb, lb) {
		t.Errorf("result after kill -9 differs from pulsegrid run (%d vs %d bytes)", len(gb), len(lb))
	}
}
