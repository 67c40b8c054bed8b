package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store/postgres/pgtest"
)

// standbyFixture is PostgreSQL, simulated recordings with what `pulsegrid
// run` makes of them, a clinician's token, and serve replicas started in
// order, so that the first one leads.
type standbyFixture struct {
	t         *testing.T
	db, tok   string
	records   []string
	reference map[string]string // record → canonical JSON of pulsegrid run
	bodies    map[string][]byte // record → multipart upload body
	ctypes    map[string]string
}

type serveReplica struct {
	addr, base, data string
	cmd              *exec.Cmd
	out              *syncBuffer
}

func newStandbyFixture(t *testing.T, records int) *standbyFixture {
	f := &standbyFixture{t: t, db: pgtest.URL(t), reference: map[string]string{}, bodies: map[string][]byte{}, ctypes: map[string]string{}}
	dir := t.TempDir()
	if _, err := cli(t, "simulate", "ecg", "--out", dir, "--records", fmt.Sprint(records), "--minutes", "3", "--seed", "21"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= records; i++ {
		r := fmt.Sprintf("ecg%03d", i)
		f.records = append(f.records, r)
		out, err := cli(t, "run", "ecg.beats@1", filepath.Join(dir, r+".hea"), filepath.Join(dir, r+".dat"), "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		f.reference[r] = canonicalJSON(t, []byte(out))
		f.bodies[r], f.ctypes[r] = recordBody(t, dir, r)
	}
	f.tok = clinicianToken(t, "--db", f.db)
	return f
}

// replica starts a serve replica on the fixture's database.
func (f *standbyFixture) replica() *serveReplica {
	r := &serveReplica{addr: freeAddr(f.t), data: f.t.TempDir()}
	r.base = "http://" + r.addr
	r.cmd, r.out = serveProcess(f.t, r.addr, r.data, "--db", f.db, "--allow-same-network")
	f.t.Cleanup(func() {
		if f.t.Failed() {
			f.t.Logf("replica %s:\n%s", r.addr, tail(r.out.String(), 3000))
		}
	})
	return r
}

// upload posts record to base and returns the dataset id (0 unless 201).
func (f *standbyFixture) upload(base, record string) int64 {
	code, b := f.post(base+"/api/v1/datasets", f.ctypes[record], f.bodies[record])
	var ds struct{ ID int64 }
	json.Unmarshal(b, &ds)
	if code != 201 {
		return 0
	}
	return ds.ID
}

// start starts ecg.beats@1 on dataset through base and returns its id (0 unless 201).
func (f *standbyFixture) start(base string, dataset int64) int64 {
	code, b := f.post(base+"/api/v1/analyses", "application/json", []byte(fmt.Sprintf(`{"dataset_id":%d,"algorithm":"ecg.beats@1"}`, dataset)))
	var an struct{ ID int64 }
	json.Unmarshal(b, &an)
	if code != 201 {
		return 0
	}
	return an.ID
}

func (f *standbyFixture) post(url, ctype string, body []byte) (int, []byte) {
	code, b, err := func() (int, []byte, error) {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.tok)
		req.Header.Set("Content-Type", ctype)
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes(), nil
	}()
	if err != nil {
		return 0, []byte(err.Error())
	}
	return code, b
}

// analysis reads an analysis through base.
func (f *standbyFixture) analysis(base string, id int64) (status, errText string) {
	code, b := apiDo(f.t, "GET", fmt.Sprintf("%s/api/v1/analyses/%d", base, id), f.tok, "", nil)
	var a struct{ Status, Error string }
	json.Unmarshal(b, &a)
	if code != 200 {
		return fmt.Sprint(code), string(b)
	}
	return a.Status, a.Error
}

// finishes waits until analysis id of record is done, read through base,
// and checks its result against pulsegrid run's.
func (f *standbyFixture) finishes(base string, id int64, record string) {
	t := f.t
	t.Helper()
	waitFor(t, 120*time.Second, fmt.Sprintf("analysis %d to finish", id), func() bool {
		s, e := f.analysis(base, id)
		if s == "failed" || s == "cancelled" || s == "404" {
			t.Fatalf("analysis %d: %s %s", id, s, e)
		}
		return s == "done"
	})
	code, b := apiDo(t, "GET", fmt.Sprintf("%s/api/v1/analyses/%d/result?format=json", base, id), f.tok, "", nil)
	if code != 200 {
		t.Fatalf("analysis %d result: %d %s", id, code, b)
	}
	if got := canonicalJSON(t, b); got != f.reference[record] || len(got) < 100 {
		t.Errorf("analysis %d (%s): the grid's result (%d bytes) differs from pulsegrid run (%d bytes)", id, record, len(got), len(f.reference[record]))
	}
}

// heldByGrid is how many analyses the grid of the replica at base holds
// (its /healthz), -1 when it answers without a grid.
func heldByGrid(base string) int {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(base + "/healthz")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var h struct {
		Grid *struct {
			Analyses int `json:"analyses_running"`
		}
	}
	if json.NewDecoder(resp.Body).Decode(&h) != nil || h.Grid == nil {
		return -1
	}
	return h.Grid.Analyses
}

// TestStandbyWritesReachTheLeader: a leader and a standby on PostgreSQL.
// Analyses started through the standby are loaded by the leader's grid
// (before any volunteer is there), a cancel and a delete through the
// standby make the leader drop theirs, and analyses started through the
// standby are computed by volunteers of the leader and equal `pulsegrid
// run`, read through the standby.
//
// One-line bugs it catches: the leader not calling Grid.Sync for a
// notification (serve.go's WatchAnalyses callback; the grid never holds
// the standby's start), Sync not dropping a finished analysis (the
// cancelled one stays held) or a deleted one (the `case gone` drop).
func TestStandbyWritesReachTheLeader(t *testing.T) {
	f := newStandbyFixture(t, 2)
	lead := f.replica()
	waitReady(t, lead.base)
	sb := f.replica()
	waitFor(t, 30*time.Second, "the standby to serve the portal", func() bool {
		resp, err := http.Get(sb.base + "/readyz/portal")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if c, _ := readyz(sb.base); c != 503 {
		t.Fatalf("the second replica's /readyz: %d, want 503 (a standby)", c)
	}

	ds := f.upload(sb.base, f.records[0])
	if ds == 0 {
		t.Fatal("upload through the standby refused")
	}
	x, w := f.start(sb.base, ds), f.start(sb.base, ds)
	if x == 0 || w == 0 {
		t.Fatal("start through the standby refused")
	}
	answered := time.Now()
	waitFor(t, 30*time.Second, "the leader's grid to hold the two analyses started through the standby", func() bool { return heldByGrid(lead.base) == 2 })
	loaded := time.Since(answered)
	if code, b := f.post(fmt.Sprintf("%s/api/v1/analyses/%d/cancel", sb.base, x), "application/json", nil); code != 200 {
		t.Fatalf("cancel through the standby: %d %s", code, b)
	}
	answered = time.Now()
	waitFor(t, 30*time.Second, "the leader to drop the analysis cancelled through the standby", func() bool { return heldByGrid(lead.base) == 1 })
	// Figures for docs/operations.md, not assertions (waitFor polls every 20 ms).
	t.Logf("standby's 201 → the leader holds the start: %s; standby's cancel answered → the leader dropped it: %s",
		loaded.Round(time.Millisecond), time.Since(answered).Round(time.Millisecond))
	if code, b := apiDo(t, "DELETE", fmt.Sprintf("%s/api/v1/analyses/%d", sb.base, w), f.tok, "", nil); code != 204 && code != 200 {
		t.Fatalf("delete through the standby: %d %s", code, b)
	}
	waitFor(t, 30*time.Second, "the leader to drop the analysis deleted through the standby", func() bool { return heldByGrid(lead.base) == 0 })

	for range 2 {
		_, out := childProcess(t, "volunteer", "--server", lead.base)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("volunteer:\n%s", tail(out.String(), 2000))
			}
		})
	}
	y := f.start(sb.base, ds)
	ds2 := f.upload(sb.base, f.records[1])
	z := f.start(sb.base, ds2)
	if y == 0 || ds2 == 0 || z == 0 {
		t.Fatalf("start or upload through the standby refused: %d %d %d", y, ds2, z)
	}
	f.finishes(sb.base, y, f.records[0])
	f.finishes(sb.base, z, f.records[1])
	if s, _ := f.analysis(sb.base, x); s != "cancelled" {
		t.Errorf("the cancelled analysis is %s now", s)
	}
}

// TestLeaderKilledWhileStandbyServes: three replicas; clinicians' uploads
// and starts go to one standby all along while the leader is SIGKILLed.
// Every request is answered 201 (the standby does not need the leader),
// a replica takes over, and every analysis finishes equal to `pulsegrid
// run` once volunteers connect to the new leader, including those started
// while no replica led.
//
// One-line bug it catches: UnfinishedAnalyses listing only 'queued'
// analyses (the standby records starts as 'running': the new leader never
// resumes those started before or during the kill).
func TestLeaderKilledWhileStandbyServes(t *testing.T) {
	f := newStandbyFixture(t, 2)
	reps := []*serveReplica{f.replica()}
	waitReady(t, reps[0].base)
	reps = append(reps, f.replica(), f.replica())
	sb := reps[1]

	type job struct {
		record   string
		analysis int64
	}
	var (
		mu      sync.Mutex
		jobs    []job
		refused []string
	)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := f.records[i%len(f.records)]
			ds := f.upload(sb.base, r)
			var an int64
			if ds != 0 {
				an = f.start(sb.base, ds)
			}
			mu.Lock()
			if an == 0 {
				refused = append(refused, fmt.Sprintf("%s: upload %d", r, ds))
			} else {
				jobs = append(jobs, job{r, an})
			}
			mu.Unlock()
		}
	}()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(jobs) }
	waitFor(t, 60*time.Second, "two analyses started through the standby", func() bool { return count() >= 2 })
	reps[0].cmd.Process.Kill() // SIGKILL
	reps[0].cmd.Wait()
	killedAt := count()
	leader := -1
	waitFor(t, 30*time.Second, "a standby to take over", func() bool {
		for i, r := range reps[1:] {
			if c, _ := readyz(r.base); c == 200 {
				leader = i + 1
				return true
			}
		}
		return false
	})
	waitFor(t, 60*time.Second, "two more analyses started through the standby after the kill", func() bool { return count() >= killedAt+2 })
	close(stop)
	<-done
	mu.Lock()
	if len(refused) > 0 {
		t.Errorf("the standby refused %d requests while the leader was killed: %v", len(refused), refused)
	}
	all := append([]job(nil), jobs...)
	mu.Unlock()
	t.Logf("%d analyses started through replica 1, %d before the kill; replica %d took over", len(all), killedAt, leader)

	for range 2 {
		childProcess(t, "volunteer", "--server", reps[leader].base)
	}
	for _, j := range all {
		f.finishes(sb.base, j.analysis, j.record)
	}
}
