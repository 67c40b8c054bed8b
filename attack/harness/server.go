package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles cmd/pulsegrid of the module at root into dir and returns
// the binary's path.
func Build(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "pulsegrid")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/pulsegrid")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/pulsegrid: %v\n%s", err, out)
	}
	return bin, nil
}

// ModuleRoot finds the directory holding go.mod, from dir upwards.
func ModuleRoot(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		d = up
	}
}

// lockedBuffer collects a child's output for the report of a failure.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 4<<20 { // keep the memory of a chatty child bounded
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Server is a running `pulsegrid serve` with a temporary data directory.
type Server struct {
	Bin   string
	Base  string // http://127.0.0.1:PORT
	Data  string
	Token string // a clinician's API token
	cmd   *exec.Cmd
	out   *lockedBuffer
	httpc *http.Client
	exit  chan struct{}
}

// startProcess starts a child in its own process group, so that Stop can
// end it and anything it started.
func startProcess(bin string, args []string, out io.Writer) (*exec.Cmd, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, cmd.Start()
}

// stopProcess sends SIGTERM to the child's group, and SIGKILL if it has
// not exited after grace.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}, grace time.Duration) {
	if cmd.Process == nil {
		return
	}
	pgid := cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
	}
}

var servingLine = regexp.MustCompile(`pulsegrid serving on (http://\S+)`)

// StartServer runs `bin serve` on a free port of 127.0.0.1 with a new data
// directory under tmp, waits until it answers /healthz, and makes a
// clinician account and API token with the CLI (docs/api.md).
func StartServer(ctx context.Context, bin, tmp string, args ...string) (*Server, error) {
	data, err := os.MkdirTemp(tmp, "serve-")
	if err != nil {
		return nil, err
	}
	s := &Server{Bin: bin, Data: data, out: &lockedBuffer{}, httpc: &http.Client{Timeout: 30 * time.Second}, exit: make(chan struct{})}
	pr, pw := io.Pipe()
	all := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data}, args...)
	s.cmd, err = startProcess(bin, all, io.MultiWriter(s.out, pw))
	if err != nil {
		return nil, err
	}
	go func() { s.cmd.Wait(); pw.Close(); close(s.exit) }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case s.Base = <-found:
	case <-s.exit:
		return nil, fmt.Errorf("pulsegrid serve exited before serving:\n%s", s.out.String())
	case <-time.After(30 * time.Second):
		s.Stop()
		return nil, fmt.Errorf("pulsegrid serve printed no address within 30 s:\n%s", s.out.String())
	case <-ctx.Done():
		s.Stop()
		return nil, ctx.Err()
	}
	for i := 0; ; i++ {
		r, err := s.httpc.Get(s.Base + "/healthz")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				break
			}
		}
		if i > 100 {
			s.Stop()
			return nil, fmt.Errorf("%s/healthz does not answer 200", s.Base)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.makeToken(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// cli runs the binary's CLI against the server's data directory.
func (s *Server) cli(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.Bin, append(args, "--data", s.Data)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("pulsegrid %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (s *Server) makeToken(ctx context.Context) error {
	const email = "attack-clinician@localhost"
	if _, err := s.cli(ctx, "user", "add", "--email", email, "--role", "clinician", "--password", "Correct-Horse-Battery-42"); err != nil {
		return err
	}
	out, err := s.cli(ctx, "user", "token", "--email", email)
	if err != nil {
		return err
	}
	// The token is the last field of the last line (docs/api.md).
	lines := strings.Split(strings.TrimSpace(out), "\n")
	fields := strings.Fields(lines[len(lines)-1])
	if len(fields) == 0 {
		return fmt.Errorf("pulsegrid user token printed nothing")
	}
	s.Token = fields[len(fields)-1]
	return nil
}

// Log is what the server printed so far.
func (s *Server) Log() string { return s.out.String() }

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop ends the server and removes nothing (the caller's temp dir does).
func (s *Server) Stop() { stopProcess(s.cmd, s.exit, 10*time.Second) }

// api calls the JSON API with the clinician's token and decodes a JSON
// answer into out (when not nil); it returns the raw body too.
func (s *Server) api(method, path, contentType string, body io.Reader, out any) ([]byte, error) {
	req, err := http.NewRequest(method, s.Base+"/api/v1"+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	r, err := s.httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if r.StatusCode >= 300 {
		return b, fmt.Errorf("%s %s: %s: %s", method, path, r.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return b, fmt.Errorf("%s %s: answer is not the JSON expected: %w", method, path, err)
		}
	}
	return b, nil
}

// Upload sends the files of one recording and returns the dataset id.
func (s *Server) Upload(files []string) (int64, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		w, err := mw.CreateFormFile("files", filepath.Base(f))
		if err != nil {
			return 0, err
		}
		w.Write(b)
	}
	mw.Close()
	var ds struct {
		ID int64 `json:"id"`
	}
	if _, err := s.api("POST", "/datasets", mw.FormDataContentType(), &buf, &ds); err != nil {
		return 0, err
	}
	return ds.ID, nil
}

// Analysis is the part of GET /api/v1/analyses/{id} the harness reads.
type Analysis struct {
	ID       int64  `json:"id"`
	Status   string `json:"status"`
	Error    string `json:"error"`
	Summary  string `json:"summary"`
	Progress struct {
		Total    int `json:"chunks_total"`
		Verified int `json:"chunks_verified"`
	} `json:"progress"`
}

// Finished reports whether the analysis will not change any more.
func (a *Analysis) Finished() bool {
	return a.Status == "done" || a.Status == "failed" || a.Status == "cancelled"
}

// StartAnalysis starts algorithm on a dataset (default params, routine).
func (s *Server) StartAnalysis(dataset int64, algorithm string) (int64, error) {
	body, _ := json.Marshal(map[string]any{"dataset_id": dataset, "algorithm": algorithm, "priority": "routine"})
	var a Analysis
	if _, err := s.api("POST", "/analyses", "application/json", bytes.NewReader(body), &a); err != nil {
		return 0, err
	}
	return a.ID, nil
}

// Analysis reads one analysis and returns its raw JSON too.
func (s *Server) Analysis(id int64) (*Analysis, []byte, error) {
	var a Analysis
	raw, err := s.api("GET", fmt.Sprintf("/analyses/%d", id), "", nil, &a)
	return &a, raw, err
}

// Result is the stored JSON result of a done analysis.
func (s *Server) Result(id int64) ([]byte, error) {
	return s.api("GET", fmt.Sprintf("/analyses/%d/result?format=json", id), "", nil, nil)
}

// Metrics reads /metrics: every sample without labels (and queue_depth
// summed over its priorities), by name.
func (s *Server) Metrics() (map[string]float64, error) {
	r, err := s.httpc.Get(s.Base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer r.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}

// Memory reads the server's peak and current resident set (VmHWM, VmRSS)
// in bytes from /proc.
func (s *Server) Memory() (peak, now int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.Pid()))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmHWM":
			peak = n << 10
		case "VmRSS":
			now = n << 10
		}
	}
	return peak, now, nil
}

// Honest is a native `pulsegrid volunteer`.
type Honest struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	exit chan struct{}
}

// StartHonest runs `bin volunteer --server base --workers 1` (the real
// native volunteer) plus extra flags.
func StartHonest(bin, base string, extra ...string) (*Honest, error) {
	h := &Honest{out: &lockedBuffer{}, exit: make(chan struct{})}
	var err error
	h.cmd, err = startProcess(bin, append([]string{"volunteer", "--server", base, "--workers", "1"}, extra...), h.out)
	if err != nil {
		return nil, err
	}
	go func() { h.cmd.Wait(); close(h.exit) }()
	return h, nil
}

// Stop ends the volunteer.
func (h *Honest) Stop() { stopProcess(h.cmd, h.exit, 5*time.Second) }

// Log is what the volunteer printed.
func (h *Honest) Log() string { return h.out.String() }
