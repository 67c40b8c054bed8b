package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// holterOptions are the flags of `bench holter`.
type holterOptions struct {
	record     string   // directory with a WFDB record, or "" to simulate one
	minutes    int      // length of the simulated record
	rounds     int      // alternations of local run and grid run
	volunteers int      // native volunteer processes
	algorithms []string // started on each upload
	cpuProfile string   // the server's CPU profile over all rounds
	baseline   string   // another pulsegrid binary whose serve and volunteers run beside, each round ("": none)
	serveArgs  []string // more flags for serve
	// command runs this binary as `pulsegrid ARGS...` (tests run their
	// own test binary so); nil: os.Executable.
	command func(ctx context.Context, args ...string) *exec.Cmd
	// baselineCommand runs the baseline binary so; nil: exec of baseline.
	baselineCommand func(ctx context.Context, args ...string) *exec.Cmd
}

// holterRound is one grid run of `bench holter`, beside the local run of
// the same round.
type holterRound struct {
	local, upload, split, compute, total time.Duration
	// CPU time (user + system), which the machine's load changes less than
	// wall time: of the local run, of the server in each phase, and of the
	// volunteers over the grid run.
	localCPU, upCPU, splitCPU, computeCPU, volCPU time.Duration
}

// benchHolter measures a long recording from upload to verified result
// through a real `pulsegrid serve` and native `pulsegrid volunteer`
// processes, against `pulsegrid run` on the same files in the same
// session, alternating the two.
func benchHolter(ctx context.Context, o holterOptions, stdout io.Writer) error {
	if o.command == nil {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		o.command = func(ctx context.Context, args ...string) *exec.Cmd { return exec.CommandContext(ctx, self, args...) }
	}
	dir, err := os.MkdirTemp("", "pulsegrid-bench-holter-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	files, what, err := holterRecord(ctx, dir, o)
	if err != nil {
		return err
	}
	var size int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			size += st.Size()
		}
	}
	api, stop, err := holterGrid(ctx, o, o.command, filepath.Join(dir, "this"), o.cpuProfile)
	if err != nil {
		return err
	}
	defer stop()
	var before *holterAPI
	if o.baseline != "" {
		b := o.baselineCommand
		if b == nil {
			b = func(ctx context.Context, args ...string) *exec.Cmd {
				return exec.CommandContext(ctx, o.baseline, args...)
			}
		}
		if before, stop, err = holterGrid(ctx, o, b, filepath.Join(dir, "baseline"), ""); err != nil {
			return fmt.Errorf("baseline %s: %w", o.baseline, err)
		}
		defer stop()
	}
	fmt.Fprintf(stdout, "holter: %s on %s (%d files, %.1f MB); %d native volunteers (--workers 1), quorum 2\n",
		strings.Join(o.algorithms, " + "), what, len(files), float64(size)/1e6, o.volunteers)
	fmt.Fprintf(stdout, "  %s, %d CPU(s), %s; load %s\n", cpuModel(), runtime.NumCPU(), runtime.Version(), loadAvg())
	fmt.Fprintln(stdout, "  local: pulsegrid run on the files; grid: upload (POST /datasets) + start (POST /analyses) + compute (until every chunk is verified and merged)")
	fmt.Fprintln(stdout, "  each round: wall time, then (cpu) CPU time of pulsegrid run, of the server per phase, and of the volunteers")
	fmt.Fprintf(stdout, "  %-6s %8s │ %8s %8s %8s %8s │ %6s\n", "round", "local", "upload", "start", "compute", "total", "ratio")
	builds := []*holterAPI{api}
	names := []string{"this"}
	if before != nil {
		builds, names = append(builds, before), append(names, "base")
	}
	ratios := make([][]float64, len(builds))
	crit := make([][]float64, len(builds)) // server CPU of upload + start
	for r := range o.rounds {
		var local holterRound
		hs := make([]holterRound, len(builds))
		steps := []func() error{func() error { return holterLocal(ctx, o, dir, files, &local) }}
		for b := range builds {
			steps = append(steps, func() error { return builds[b].run(ctx, o, files, dir, &hs[b]) })
		}
		// A different order each round: none is always first after a pause.
		k := r % len(steps)
		steps = append(steps[k:], steps[:k]...)
		for _, step := range steps {
			if err := step(); err != nil {
				return fmt.Errorf("round %d: %w", r+1, err)
			}
		}
		for b, h := range hs {
			label := strconv.Itoa(r + 1)
			if len(builds) > 1 {
				label += " " + names[b]
			}
			fmt.Fprintf(stdout, "  %-6s %8s │ %8s %8s %8s %8s │ %6.2f\n", label, ms(local.local), ms(h.upload), ms(h.split), ms(h.compute), ms(h.total), h.total.Seconds()/local.local.Seconds())
			fmt.Fprintf(stdout, "  %-6s %8s │ %8s %8s %8s %8s │ volunteers %s\n", "(cpu)", ms(local.localCPU), ms(h.upCPU), ms(h.splitCPU), ms(h.computeCPU), ms(h.upCPU+h.splitCPU+h.computeCPU), ms(h.volCPU))
			ratios[b] = append(ratios[b], h.total.Seconds()/local.local.Seconds())
			crit[b] = append(crit[b], (h.upCPU + h.splitCPU).Seconds())
		}
	}
	for b := range builds {
		slices.Sort(ratios[b])
		slices.Sort(crit[b])
		rs, cs := ratios[b], crit[b]
		who := ""
		if len(builds) > 1 {
			who = map[string]string{"this": " (this build)", "base": " (baseline " + o.baseline + ")"}[names[b]]
		}
		fmt.Fprintf(stdout, "  ratio grid total / local run%s: median %.2f, range %.2f–%.2f over %d rounds; server CPU of upload + start: median %.2fs\n",
			who, medianOf(rs), rs[0], rs[len(rs)-1], len(rs), medianOf(cs))
	}
	fmt.Fprintln(stdout, "  every grid result byte-identical to the local run's CSV")
	fmt.Fprintf(stdout, "  load after: %s\n", loadAvg())
	return nil
}

// holterGrid starts `serve` (quorum 2) with its data in dir and
// o.volunteers native volunteers, all run by command, and returns a client
// of its API and what stops them.
func holterGrid(ctx context.Context, o holterOptions, command func(context.Context, ...string) *exec.Cmd, dir, cpuProfile string) (*holterAPI, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	data := filepath.Join(dir, "data")
	var stops []func()
	stop := func() {
		for _, f := range slices.Backward(stops) {
			f()
		}
	}
	fail := func(err error) (*holterAPI, func(), error) {
		stop()
		return nil, nil, err
	}
	args := append([]string{"serve", "--addr", addr, "--data", data, "--quorum", "2", "--allow-same-network", "--log-level", "warn"}, o.serveArgs...)
	if cpuProfile != "" {
		args = append(args, "--cpuprofile", cpuProfile)
	}
	srv := command(ctx, args...)
	srv.Stdout, srv.Stderr = io.Discard, os.Stderr
	if err := srv.Start(); err != nil {
		return fail(err)
	}
	stops = append(stops, func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	})
	base := "http://" + addr
	if err := waitHealthy(ctx, base, 30*time.Second); err != nil {
		return fail(err)
	}
	cli := func(a ...string) (string, error) {
		out, err := command(ctx, append(a, "--data", data)...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("pulsegrid %s: %v: %s", strings.Join(a, " "), err, out)
		}
		return string(out), nil
	}
	if _, err := cli("user", "add", "--email", "bench@example.org", "--role", "clinician", "--password", "Correct-Horse-42"); err != nil {
		return fail(err)
	}
	out, err := cli("user", "token", "--email", "bench@example.org")
	if err != nil {
		return fail(err)
	}
	lines := strings.Fields(strings.TrimSpace(out))
	api := &holterAPI{base: base, token: lines[len(lines)-1], server: srv.Process.Pid}
	for i := range o.volunteers {
		v := command(ctx, "volunteer", "--server", base, "--workers", "1", "--identity", filepath.Join(dir, fmt.Sprintf("vol%d.json", i)))
		v.Stdout, v.Stderr = io.Discard, io.Discard
		if err := v.Start(); err != nil {
			return fail(err)
		}
		api.volunteers = append(api.volunteers, v.Process.Pid)
		stops = append(stops, func() {
			v.Process.Signal(os.Interrupt)
			v.Wait()
		})
	}
	return api, stop, nil
}

// medianOf is the median of sorted xs (the mean of the middle two for an even count).
func medianOf(xs []float64) float64 {
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

func ms(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s" }

// holterRecord returns the files of the record to upload and says what
// it is: those of the one record in o.record, several real records of
// o.record concatenated to o.minutes (concatRecords), or a record
// simulated in dir when o.record is "".
func holterRecord(ctx context.Context, dir string, o holterOptions) ([]string, string, error) {
	if o.record == "" {
		src := filepath.Join(dir, "record")
		out, err := o.command(ctx, "simulate", "ecg", "--out", src, "--minutes", strconv.Itoa(o.minutes), "--seed", "1").CombinedOutput()
		if err != nil {
			return nil, "", fmt.Errorf("simulate: %v: %s", err, out)
		}
		files, _ := filepath.Glob(filepath.Join(src, "*"))
		files = slices.DeleteFunc(files, func(f string) bool { return !strings.HasSuffix(f, ".hea") && !strings.HasSuffix(f, ".dat") })
		slices.Sort(files)
		if len(files) != 2 {
			return nil, "", fmt.Errorf("simulate made %v, want one .hea and one .dat", files)
		}
		return []string{files[1], files[0]}, fmt.Sprintf("a simulated record of %d min (pulsegrid simulate ecg)", o.minutes), nil
	}
	heads, _ := filepath.Glob(filepath.Join(o.record, "*.hea"))
	if len(heads) == 1 {
		name := strings.TrimSuffix(heads[0], ".hea")
		return []string{heads[0], name + ".dat"}, "the real record " + filepath.Base(name), nil
	}
	files, parts, err := concatRecords(o.record, dir, o.minutes)
	if err != nil {
		return nil, "", err
	}
	return files, fmt.Sprintf("%d real %s records end to end (≥ %d min)", len(parts), filepath.Base(filepath.Clean(o.record)), o.minutes), nil
}

// holterLocal times `pulsegrid run` of each algorithm on the files (CSV
// into dir/local-ALG.csv), one after the other: the reference.
func holterLocal(ctx context.Context, o holterOptions, dir string, files []string, h *holterRound) error {
	start := time.Now()
	for _, alg := range o.algorithms {
		args := append([]string{"run", alg, "--format", "csv", "--out", filepath.Join(dir, "local-"+alg+".csv")}, files...)
		cmd := o.command(ctx, args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("pulsegrid run %s: %v: %s", alg, err, out)
		}
		h.localCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	h.local = time.Since(start)
	return nil
}

// holterAPI is the bench's client of the JSON API.
type holterAPI struct {
	base, token string
	server      int   // the server's process id, for its CPU time
	volunteers  []int // the volunteers' process ids
}

// volCPU is the volunteers' CPU time so far.
func (a *holterAPI) volCPU() time.Duration {
	var d time.Duration
	for _, pid := range a.volunteers {
		d += procCPU(pid)
	}
	return d
}

func (a *holterAPI) do(ctx context.Context, method, path, ctype string, body io.Reader, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if into == nil {
		return nil
	}
	if p, ok := into.(*[]byte); ok {
		*p = b
		return nil
	}
	return json.Unmarshal(b, into)
}

// run uploads the files, starts the analyses, waits until every one is
// done and checks its CSV against the local run's.
func (a *holterAPI) run(ctx context.Context, o holterOptions, files []string, dir string, h *holterRound) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for _, p := range files {
				w, err := mw.CreateFormFile("files", filepath.Base(p))
				if err != nil {
					return err
				}
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				_, err = io.Copy(w, f)
				f.Close()
				if err != nil {
					return err
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	start, cpu0, vol0 := time.Now(), procCPU(a.server), a.volCPU()
	var ds struct {
		ID int64 `json:"id"`
	}
	if err := a.do(ctx, "POST", "/api/v1/datasets", mw.FormDataContentType(), pr, &ds); err != nil {
		return err
	}
	defer a.do(context.WithoutCancel(ctx), "DELETE", fmt.Sprintf("/api/v1/datasets/%d", ds.ID), "", nil, nil)
	h.upload, h.upCPU = time.Since(start), procCPU(a.server)-cpu0
	var ids []int64
	for _, alg := range o.algorithms {
		body, _ := json.Marshal(map[string]any{"dataset_id": ds.ID, "algorithm": alg})
		var an struct {
			ID int64 `json:"id"`
		}
		if err := a.do(ctx, "POST", "/api/v1/analyses", "application/json", bytes.NewReader(body), &an); err != nil {
			return err
		}
		ids = append(ids, an.ID)
	}
	h.split, h.splitCPU = time.Since(start)-h.upload, procCPU(a.server)-cpu0-h.upCPU
	for _, id := range ids {
		for {
			var an struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			}
			if err := a.do(ctx, "GET", fmt.Sprintf("/api/v1/analyses/%d", id), "", nil, &an); err != nil {
				return err
			}
			if an.Status == "done" {
				break
			}
			if an.Status == "failed" || an.Status == "cancelled" {
				return fmt.Errorf("analysis %d %s: %s", id, an.Status, an.Error)
			}
			if time.Since(start) > 10*time.Minute {
				return fmt.Errorf("analysis %d still %s after 10 minutes", id, an.Status)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	h.total = time.Since(start)
	h.compute = h.total - h.upload - h.split
	h.computeCPU, h.volCPU = procCPU(a.server)-cpu0-h.upCPU-h.splitCPU, a.volCPU()-vol0
	for i, id := range ids {
		var got []byte
		if err := a.do(ctx, "GET", fmt.Sprintf("/api/v1/analyses/%d/result?format=csv", id), "", nil, &got); err != nil {
			return err
		}
		want, err := os.ReadFile(filepath.Join(dir, "local-"+o.algorithms[i]+".csv"))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s: the grid's CSV (%d bytes) differs from pulsegrid run's (%d bytes)", o.algorithms[i], len(got), len(want))
		}
	}
	return nil
}

// flagSet says whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// cpuModel is the CPU's model name as lscpu prints it, from /proc/cpuinfo.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "CPU model unknown"
}

// loadAvg is the 1, 5 and 15-minute load averages, as uptime prints them.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// procCPU is the CPU time (user + system) process pid has used so far,
// from /proc/PID/stat (procStat); 0 where there is no /proc.
func procCPU(pid int) time.Duration {
	f, err := procStat(pid)
	if err != nil {
		return 0
	}
	return time.Duration(statTicks(f)) * time.Second / clockTick
}
