package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/store/postgres/pgtest"
)

// readyz returns the status code of GET base/readyz and the role it
// reports (0 when nothing answers).
func readyz(base string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/readyz")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	var r struct{ Role string }
	json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, r.Role
}

// TestSQLiteAlwaysReady: one SQLite server takes no lock and answers
// /readyz 200 from its first request.
func TestSQLiteAlwaysReady(t *testing.T) {
	addr := freeAddr(t)
	_, out := serveProcess(t, addr, t.TempDir())
	if code, role := readyz("http://" + addr); code != 200 || role != "single" {
		t.Fatalf("/readyz on SQLite: %d %q, want 200 \"single\"; %s", code, role, out)
	}
	if !strings.Contains(out.String(), "ready: http://"+addr+"/readyz") {
		t.Errorf("the banner does not name /readyz: %s", out)
	}
}

// TestReplicasElectOneLeader: three serve replicas on one PostgreSQL;
// exactly one answers /readyz 200 and the volunteers' websocket, the
// standbys answer 503 to both, and all serve the API and /readyz/portal
// 200 (and 200 on /healthz, their metrics saying 0 or 1); a SIGKILL of the
// leader lets exactly one standby take over, and the killed one, started
// again, waits as a standby.
func TestReplicasElectOneLeader(t *testing.T) {
	db := pgtest.URL(t)
	type replica struct {
		base string
		addr string
		data string
		cmd  *exec.Cmd
		out  *syncBuffer
	}
	reps := make([]*replica, 3)
	for i := range reps {
		r := &replica{addr: freeAddr(t), data: t.TempDir()}
		r.base = "http://" + r.addr
		r.cmd, r.out = serveProcess(t, r.addr, r.data, "--db", db)
		reps[i] = r
	}
	leader := func() int {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			lead := -1
			n := 0
			for i, r := range reps {
				if r == nil {
					continue
				}
				code, role := readyz(r.base)
				switch code {
				case 200:
					if role != "leader" {
						t.Fatalf("replica %d: /readyz 200 with role %q, want leader", i, role)
					}
					lead = i
					n++
				case 503:
				default:
					n = -100 // one is still starting
				}
			}
			if n > 1 {
				t.Fatalf("%d replicas answer /readyz 200 at once", n)
			}
			if n == 1 {
				return lead
			}
		}
		t.Fatal("no replica became ready")
		return -1
	}
	lead := leader()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(reps[0].out.String(), "replica:") && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if !strings.Contains(reps[0].out.String(), "replica:    leader") {
		t.Errorf("the first replica does not say it leads: %s", reps[0].out)
	}
	for i, r := range reps {
		resp, err := http.Get(r.base + "/api/v1/algorithms")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Every replica serves the API (no token: 401); only the leader
		// the volunteers' websocket; all say they serve the portal.
		if resp.StatusCode != 401 {
			t.Errorf("replica %d (leader %d): GET /api/v1/algorithms %d %s, want 401", i, lead, resp.StatusCode, b)
		}
		resp, err = http.Get(r.base + "/ws/volunteer")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if (resp.StatusCode == 503) != (i != lead) {
			t.Errorf("replica %d (leader %d): GET /ws/volunteer %d, want 503 on standbys only", i, lead, resp.StatusCode)
		}
		resp, err = http.Get(r.base + "/readyz/portal")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("replica %d: /readyz/portal %v %v, want 200", i, resp, err)
		}
		if err == nil {
			resp.Body.Close()
		}
		resp, err = http.Get(r.base + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("replica %d: /healthz %v %v, want 200", i, resp, err)
		}
		if err == nil {
			resp.Body.Close()
		}
		resp, err = http.Get(r.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		gauge := "pulsegrid_replica_leader 0"
		if i == lead {
			gauge = "pulsegrid_replica_leader 1"
		}
		if !strings.Contains(string(b), gauge+"\n") {
			t.Errorf("replica %d (leader %d): /metrics lacks %q", i, lead, gauge)
		}
	}
	for round := range 3 {
		old := reps[lead]
		old.cmd.Process.Kill() // SIGKILL: no shutdown code runs, PostgreSQL ends its sessions
		old.cmd.Wait()
		reps[lead] = nil
		next := leader()
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(reps[next].out.String(), "took over") && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		}
		if !strings.Contains(reps[next].out.String(), "took over as the leader") {
			t.Errorf("round %d: replica %d leads without saying it took over: %s", round, next, reps[next].out)
		}
		old.cmd, old.out = serveProcess(t, old.addr, old.data, "--db", db)
		reps[lead] = old
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(old.out.String(), "replica:") && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		}
		if !strings.Contains(old.out.String(), "replica:    standby") {
			t.Errorf("round %d: the restarted replica does not wait as a standby: %s", round, old.out)
		}
		if got := leader(); got != next {
			t.Fatalf("round %d: after the restart replica %d leads, want %d still", round, got, next)
		}
		lead = next
	}
}
