package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store/postgres/pgtest"
)

// testTool returns the program the environment variable env names
// (scripts/with-haproxy.sh sets them for make test). Without it the test
// is skipped with a loud message, or fails when CI is set.
func testTool(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		msg := env + " is not set: the failover test did NOT run. Run it with `make unit` or `scripts/with-postgres.sh scripts/with-haproxy.sh go test ./cmd/pulsegrid -run Failover`"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set: this is a failure)")
		}
		t.Skip(msg)
	}
	return p
}

// metric reads one unlabelled series from a /metrics page (-1 when absent).
func metric(base, name string) float64 {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// haproxyConfig makes the test's configuration from deploy/haproxy.cfg:
// the same file with the test's ports.
func haproxyConfig(t *testing.T, lb, stats string, replicas []string) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	subst := map[string]string{"127.0.0.1:8080": lb, "127.0.0.1:8404": stats}
	for i, r := range replicas {
		subst[fmt.Sprintf("127.0.0.1:%d", 8081+i)] = r
	}
	for from, to := range subst {
		// The replicas are named in both backends (portal and leader).
		want := 2
		if !strings.HasPrefix(from, "127.0.0.1:808") || from == "127.0.0.1:8080" {
			want = 1
		}
		if n := strings.Count(s, from+"\n") + strings.Count(s, from+" "); n != want {
			t.Fatalf("deploy/haproxy.cfg names %s %d times, want %d (the test puts its ports in its place)", from, n, want)
		}
		s = strings.ReplaceAll(s, from, to)
	}
	f := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// childProcess runs this test binary as `pulsegrid ARGS...` until the test
// ends (SIGTERM, then SIGKILL).
func childProcess(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PULSEGRID_TEST_ARGS="+strings.Join(args, "\n"))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopProcess(cmd) })
	return cmd, out
}

// stopProcess ends a process the test started: SIGTERM, SIGKILL after 5 s.
func stopProcess(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// TestFailoverThroughHAProxy is issue 12's failover shown end to end:
// PostgreSQL, three serve replicas, HAProxy configured from
// deploy/haproxy.cfg, two native volunteers (`pulsegrid volunteer`, their
// default reconnect backoff) and a Chromium /donate tab, all through
// HAProxy; recordings uploaded and analyses started through HAProxy while
// the serving replica is killed with SIGKILL and started again twenty
// times. Then every upload that was answered 201 is there, every analysis
// is done and equals `pulsegrid run` on its files, and the tab and the
// volunteers reconnected by themselves to the last leader.
func TestFailoverThroughHAProxy(t *testing.T) {
	const kills = 20
	db := pgtest.URL(t)
	haproxy := testTool(t, "PULSEGRID_TEST_HAPROXY")
	chromium := testTool(t, "PULSEGRID_TEST_CHROMIUM")
	if _, err := os.Stat("../../static/worker.wasm"); err != nil {
		msg := "static/worker.wasm is missing (make wasm): the /donate tab cannot compute, the failover test did NOT run"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	began := time.Now()

	// Recordings and what `pulsegrid run` makes of them.
	recDir := t.TempDir()
	if _, err := cli(t, "simulate", "ecg", "--out", recDir, "--records", "4", "--minutes", "3", "--seed", "12"); err != nil {
		t.Fatal(err)
	}
	records := []string{"ecg001", "ecg002", "ecg003", "ecg004"}
	reference := map[string]string{}
	for _, r := range records {
		out, err := cli(t, "run", "ecg.beats@1", filepath.Join(recDir, r+".hea"), filepath.Join(recDir, r+".dat"), "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		reference[r] = canonicalJSON(t, []byte(out))
	}

	// Three replicas, then HAProxy in front of them.
	type replica struct {
		addr, base, data string
		cmd              *exec.Cmd
		out              *syncBuffer
	}
	reps := make([]*replica, 3)
	var addrs []string
	start := func(r *replica) {
		r.cmd, r.out = serveProcess(t, r.addr, r.data, "--db", db, "--allow-same-network", "--trusted-proxy", "127.0.0.1")
	}
	for i := range reps {
		r := &replica{addr: freeAddr(t), data: t.TempDir()}
		r.base = "http://" + r.addr
		start(r)
		reps[i] = r
		addrs = append(addrs, r.addr)
	}
	lbAddr := freeAddr(t)
	lb := "http://" + lbAddr
	cfg := haproxyConfig(t, lbAddr, freeAddr(t), addrs)
	if out, err := exec.Command(haproxy, "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v: %s", err, out)
	}
	hap := exec.Command(haproxy, "-db", "-f", cfg) // -db: in the foreground
	hapOut := &syncBuffer{}
	hap.Stdout, hap.Stderr = hapOut, hapOut
	if err := hap.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopProcess(hap)
		if t.Failed() {
			t.Logf("haproxy:\n%s", tail(hapOut.String(), 3000))
		}
	})
	waitFor(t, 30*time.Second, "HAProxy routing to a ready replica", func() bool { c, _ := readyz(lb); return c == 200 })

	leader := func(except int) int {
		t.Helper()
		lead := -1
		waitFor(t, 30*time.Second, "a replica answering /readyz 200", func() bool {
			for i, r := range reps {
				if c, _ := readyz(r.base); c == 200 && i != except {
					lead = i
					return true
				}
			}
			return false
		})
		return lead
	}

	tok := clinicianToken(t, "--db", db)

	// Volunteers: two native, one browser tab, all through HAProxy.
	var vols []*syncBuffer
	for range 2 {
		_, out := childProcess(t, "volunteer", "--server", lb)
		vols = append(vols, out)
	}
	tab := openChromium(t, chromium, lb+"/donate")
	waitFor(t, 60*time.Second, "the /donate tab to connect", func() bool {
		state, _, _, err := tab.donateState()
		if err != nil {
			return false
		}
		if state == "" { // no page or its script yet; idle: press Start
			return false
		}
		if state == "idle" {
			tab.eval(`(() => { const th = document.querySelector('[data-testid=donate-threads]'); th.value = '1'; th.dispatchEvent(new Event('change'));
				const n = document.querySelector('[data-testid=donate-nickname]'); n.value = 'failover-tab'; n.dispatchEvent(new Event('input'));
				document.querySelector('[data-testid=donate-start]').click(); })()`, nil)
			return false
		}
		return state == "connected"
	})

	// Uploads and analyses through HAProxy, all along the kills.
	type upload struct {
		id     int64
		record string
	}
	var (
		mu       sync.Mutex
		acked    []upload
		analyses []int64
		refused  int // uploads or starts not answered 201 (a kill, a takeover)
	)
	client := &http.Client{Timeout: 30 * time.Second}
	post := func(path, ctype string, body []byte) (int, []byte) {
		req, _ := http.NewRequest("POST", lb+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", ctype)
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	bodies := map[string][]byte{}
	ctypes := map[string]string{}
	for _, r := range records {
		bodies[r], ctypes[r] = recordBody(t, recDir, r)
	}
	ctx, stopUploads := context.WithCancel(context.Background())
	uploaderDone := make(chan struct{})
	go func() {
		defer close(uploaderDone)
		for i := 0; ctx.Err() == nil; i++ {
			r := records[i%len(records)]
			code, b := post("/api/v1/datasets", ctypes[r], bodies[r])
			if code != 201 {
				mu.Lock()
				refused++
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
				continue
			}
			var ds struct{ ID int64 }
			json.Unmarshal(b, &ds)
			mu.Lock()
			acked = append(acked, upload{ds.ID, r})
			mu.Unlock()
			// Start its analysis, again after a refusal (a kill between the
			// two requests), until it is answered 201 — also when the kills
			// have ended meanwhile: an upload answered 201 must get its
			// analysis, or the end of the test would blame the grid.
			for startBy := time.Now().Add(60 * time.Second); time.Now().Before(startBy); {
				code, b := post("/api/v1/analyses", "application/json", []byte(fmt.Sprintf(`{"dataset_id":%d,"algorithm":"ecg.beats@1"}`, ds.ID)))
				if code == 201 {
					var an struct{ ID int64 }
					json.Unmarshal(b, &an)
					mu.Lock()
					analyses = append(analyses, an.ID)
					mu.Unlock()
					break
				}
				mu.Lock()
				refused++
				mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()

	// Kill the serving replica twenty times; each time a standby takes
	// over, the killed one comes back as a standby, and the new leader
	// leases and verifies chunks before the next kill.
	lead := leader(-1)
	var ready, leased, verified []time.Duration
	for round := range kills {
		old := reps[lead]
		killed := time.Now()
		old.cmd.Process.Kill() // SIGKILL: its PostgreSQL sessions end, the leader lock frees
		old.cmd.Wait()
		next := leader(lead)
		ready = append(ready, time.Since(killed))
		start(old)
		nb := reps[next].base
		// Worked again: a lease issued and a chunk verified by the new
		// leader. Uploads keep work queued; a round without any is only
		// logged, the end of the test checks that everything finished.
		leasedAt, verifiedAt := time.Duration(0), time.Duration(0)
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && verifiedAt == 0; time.Sleep(20 * time.Millisecond) {
			if leasedAt == 0 && metric(nb, "pulsegrid_leases_issued_total") > 0 {
				leasedAt = time.Since(killed)
			}
			if metric(nb, "pulsegrid_chunks_verified_total") > 0 {
				verifiedAt = time.Since(killed)
			}
		}
		if leasedAt > 0 {
			leased = append(leased, leasedAt)
		}
		if verifiedAt > 0 {
			verified = append(verified, verifiedAt)
		}
		t.Logf("kill %d: replica %d → %d ready after %s, first lease after %s, first verified chunk after %s",
			round+1, lead, next, ready[len(ready)-1].Round(time.Millisecond), leasedAt.Round(time.Millisecond), verifiedAt.Round(time.Millisecond))
		lead = next
		time.Sleep(500 * time.Millisecond) // let the new leader work a little before it dies in turn
	}
	stopUploads()
	<-uploaderDone
	mu.Lock()
	t.Logf("%d kills in %s: %d uploads answered 201, %d analyses started, %d requests refused or cut by a kill",
		kills, time.Since(began).Round(time.Second), len(acked), len(analyses), refused)
	mu.Unlock()
	if len(acked) < kills/2 {
		t.Errorf("only %d uploads were answered 201 during %d kills", len(acked), kills)
	}
	slices.Sort(ready)
	slices.Sort(leased)
	slices.Sort(verified)
	t.Logf("SIGKILL → standby ready (HAProxy routes): median %s, max %s; → first lease: median %s (%d rounds); → first verified chunk: median %s (%d rounds)",
		median(ready), ready[len(ready)-1], median(leased), len(leased), median(verified), len(verified))
	if len(verified) == 0 {
		t.Errorf("no new leader verified a chunk before it was killed")
	}

	// The volunteers and the tab reconnect to the last leader by
	// themselves: 2 native + 1 tab thread (the leader's auditor is not
	// counted in pulsegrid_volunteers_connected).
	final := reps[lead].base
	var tabState, tabStatus string
	var connected float64
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the tab: %s (%s); the last leader: %v volunteers connected", tabState, tabStatus, connected)
			for i, r := range reps {
				t.Logf("replica %d log:\n%s", i, tail(r.out.String(), 3000))
			}
			for i, v := range vols {
				t.Logf("volunteer %d:\n%s", i, tail(v.String(), 2000))
			}
		}
	})
	waitFor(t, 90*time.Second, "the volunteers and the /donate tab to reconnect to the last leader", func() bool {
		tabState, tabStatus, _, _ = tab.donateState()
		connected = metric(final, "pulsegrid_volunteers_connected")
		return tabState == "connected" && connected >= 3
	})

	// Every analysis finishes, and equals `pulsegrid run`.
	get := func(path string, out any) int {
		t.Helper()
		code, b := apiDo(t, "GET", lb+path, tok, "", nil)
		if out != nil && code == 200 {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("GET %s: %v: %s", path, err, b)
			}
		}
		return code
	}
	type analysisJSON struct {
		ID        int64
		DatasetID int64 `json:"dataset_id"`
		Status    string
		Error     string
	}
	var all []analysisJSON
	waitFor(t, 120*time.Second, "every analysis to finish", func() bool {
		all = nil
		if get("/api/v1/analyses", &all) != 200 {
			return false
		}
		for _, a := range all {
			if a.Status == "failed" || a.Status == "cancelled" {
				t.Fatalf("analysis %d is %s: %s", a.ID, a.Status, a.Error)
			}
			if a.Status != "done" {
				return false
			}
		}
		return true
	})
	byDataset := map[int64][]analysisJSON{}
	for _, a := range all {
		byDataset[a.DatasetID] = append(byDataset[a.DatasetID], a)
	}
	for _, id := range analyses {
		if !slices.ContainsFunc(all, func(a analysisJSON) bool { return a.ID == id }) {
			t.Errorf("analysis %d was answered 201 and is gone", id)
		}
	}
	for _, u := range acked {
		var ds struct{ Identity struct{ Record string } }
		if code := get(fmt.Sprintf("/api/v1/datasets/%d", u.id), &ds); code != 200 || ds.Identity.Record != u.record {
			t.Errorf("upload %d (%s) was answered 201: now %d, record %q", u.id, u.record, code, ds.Identity.Record)
		}
		if len(byDataset[u.id]) == 0 {
			t.Errorf("upload %d (%s) has no analysis", u.id, u.record)
		}
	}
	records_ := map[int64]string{}
	for _, a := range all {
		rec, ok := records_[a.DatasetID]
		if !ok {
			var ds struct{ Identity struct{ Record string } }
			if get(fmt.Sprintf("/api/v1/datasets/%d", a.DatasetID), &ds) != 200 {
				t.Errorf("analysis %d: its dataset %d is gone", a.ID, a.DatasetID)
				continue
			}
			rec = ds.Identity.Record
			records_[a.DatasetID] = rec
		}
		code, b := apiDo(t, "GET", fmt.Sprintf("%s/api/v1/analyses/%d/result?format=json", lb, a.ID), tok, "", nil)
		if code != 200 {
			t.Errorf("analysis %d result: %d %s", a.ID, code, b)
			continue
		}
		if got := canonicalJSON(t, b); got != reference[rec] || len(got) < 100 {
			t.Errorf("analysis %d (%s): the grid's result (%d bytes) differs from pulsegrid run (%d bytes)", a.ID, rec, len(got), len(reference[rec]))
		}
	}
	if _, _, done, _ := tab.donateState(); done == 0 {
		t.Errorf("the /donate tab computed no chunk")
	} else {
		t.Logf("the /donate tab computed %d chunks; %d analyses checked against pulsegrid run in %s", done, len(all), time.Since(began).Round(time.Second))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[len(d)/2].Round(time.Millisecond)
}

// canonicalJSON re-encodes a JSON document with sorted keys.
func canonicalJSON(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v: %.200s", err, b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// waitFor polls cond every 20 ms until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
	}
}
