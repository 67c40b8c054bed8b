package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// metricNames returns the names of the series a /metrics page holds.
func metricNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	names := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]`).FindAllSubmatch(b, -1) {
		names[string(m[1])] = true
	}
	return names
}

// dashboardQueries returns every PromQL expression of the Grafana
// dashboards in deploy/grafana/dashboards, by file.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	files, _ := filepath.Glob("../../deploy/grafana/dashboards/*.json")
	if len(files) == 0 {
		t.Fatal("no dashboards in deploy/grafana/dashboards")
	}
	prov, err := os.ReadFile("../../deploy/grafana/provisioning/datasources/pulsegrid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID    string
			Panels []struct {
				Title      string
				Datasource struct{ UID string }
				Targets    []struct {
					Expr       string
					Datasource struct{ UID string }
				}
			}
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || len(d.Panels) == 0 {
			t.Errorf("%s: no uid or no panels", f)
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q queries nothing", f, p.Title)
			}
			for _, tg := range p.Targets {
				if !strings.Contains(string(prov), "uid: "+tg.Datasource.UID+"\n") {
					t.Errorf("%s: panel %q uses datasource %q, which deploy/grafana/provisioning does not provide", f, p.Title, tg.Datasource.UID)
				}
				out[f] = append(out[f], tg.Expr)
			}
		}
	}
	return out
}

// TestDashboardsQueryRealMetrics: every series name the Grafana dashboards
// query exists on a real server's /metrics (pulsegrid_*, go_*, process_*)
// or on HAProxy's exporter as deploy/haproxy.cfg configures it
// (haproxy_*), so that a renamed metric cannot leave a panel empty.
func TestDashboardsQueryRealMetrics(t *testing.T) {
	addr := freeAddr(t)
	serveProcess(t, addr, t.TempDir())
	server := metricNames(t, "http://"+addr+"/metrics")
	haproxy := testTool(t, "PULSEGRID_TEST_HAPROXY")
	stats := freeAddr(t)
	cfg := haproxyConfig(t, freeAddr(t), stats, []string{freeAddr(t), freeAddr(t), freeAddr(t)})
	hap := exec.Command(haproxy, "-db", "-f", cfg)
	if err := hap.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopProcess(hap) })
	var lb map[string]bool
	waitFor(t, 30*time.Second, "HAProxy's exporter", func() bool {
		resp, err := http.Get("http://" + stats + "/metrics")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	lb = metricNames(t, "http://"+stats+"/metrics")

	ident := regexp.MustCompile(`\b((?:pulsegrid|process|go|haproxy)_[a-z0-9_]+)\b`)
	checked := 0
	for f, exprs := range dashboardQueries(t) {
		for _, e := range exprs {
			for _, m := range ident.FindAllStringSubmatch(e, -1) {
				name := m[1]
				have := server
				if strings.HasPrefix(name, "haproxy_") {
					have = lb
				}
				if !have[name] {
					t.Errorf("%s queries %s (in %q), which /metrics does not have", filepath.Base(f), name, e)
				}
				checked++
			}
		}
	}
	for _, want := range []string{"pulsegrid_replica_leader", "pulsegrid_queue_depth", "pulsegrid_volunteers_connected", "pulsegrid_chunks_verified_total"} {
		if !server[want] {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if checked < 20 {
		t.Errorf("only %d metric references found in the dashboards", checked)
	}
}

// TestDeployFilesAgree: the systemd units pass serve only flags it has;
// Prometheus scrapes every replica deploy/haproxy.cfg routes to, and
// HAProxy's exporter.
func TestDeployFilesAgree(t *testing.T) {
	help, err := cli(t, "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	units, _ := filepath.Glob("../../deploy/systemd/*.service")
	if len(units) < 2 {
		t.Fatalf("deploy/systemd holds %d units, want the one-machine unit and the replica template", len(units))
	}
	for _, u := range units {
		b, _ := os.ReadFile(u)
		exec := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindSubmatch(b)
		if exec == nil || !strings.Contains(string(exec[1]), " serve ") {
			t.Errorf("%s: no ExecStart running serve", u)
			continue
		}
		for _, f := range regexp.MustCompile(`--([a-z-]+)`).FindAllSubmatch(exec[1], -1) {
			if !strings.Contains(help, "  -"+string(f[1])+" ") && !strings.Contains(help, "  -"+string(f[1])+"\n") {
				t.Errorf("%s: serve has no flag --%s", filepath.Base(u), f[1])
			}
		}
	}
	tmpl, _ := os.ReadFile("../../deploy/systemd/pulsegrid@.service")
	if !strings.Contains(string(tmpl), "EnvironmentFile=/etc/pulsegrid/%i.env") {
		t.Error("pulsegrid@.service reads no env file per instance")
	}
	env, _ := os.ReadFile("../../deploy/systemd/replica.env.example")
	if !strings.Contains(string(env), dbEnv+"=postgres://") {
		t.Errorf("replica.env.example sets no %s", dbEnv)
	}

	hcfg, _ := os.ReadFile("../../deploy/haproxy.cfg")
	prom, _ := os.ReadFile("../../deploy/prometheus/prometheus.yml")
	var servers []string
	for _, m := range regexp.MustCompile(`(?m)^\s+server \S+ (\S+) check`).FindAllSubmatch(hcfg, -1) {
		if !slices.Contains(servers, string(m[1])) { // each backend names the replicas
			servers = append(servers, string(m[1]))
		}
	}
	job := func(name string) []string {
		i := strings.Index(string(prom), "job_name: "+name+"\n")
		if i < 0 {
			t.Fatalf("prometheus.yml has no job %s", name)
		}
		rest := string(prom)[i:]
		m := regexp.MustCompile(`targets: \[([^\]]*)\]`).FindStringSubmatch(rest)
		var out []string
		for _, s := range strings.Split(m[1], ",") {
			out = append(out, strings.Trim(strings.TrimSpace(s), "'\""))
		}
		return out
	}
	if got := job("pulsegrid"); len(servers) == 0 || !slices.Equal(got, servers) {
		t.Errorf("prometheus.yml scrapes %v, haproxy.cfg routes to %v", got, servers)
	}
	stats := regexp.MustCompile(`(?m)^frontend stats\n\s+bind (\S+)`).FindSubmatch(hcfg)
	if stats == nil || !slices.Equal(job("haproxy"), []string{string(stats[1])}) {
		t.Errorf("prometheus.yml does not scrape HAProxy's stats frontend")
	}
}
