package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pulsegrid/pulsegrid/server/auth"
	"github.com/pulsegrid/pulsegrid/server/store"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pulsegrid test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeTLS: serve --tls-cert --tls-key answers HTTPS with HSTS and a
// Secure session cookie; the first admin's one-time password goes to
// standard output only, never to the log.
func TestServeTLS(t *testing.T) {
	data := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"pulsegrid", "serve", "--addr", addr, "--data", data, "--tls-cert", certFile, "--tls-key", keyFile, "--log-level", "debug"}, os.Getenv, strings.NewReader(""), &stdout, &stderr)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
	base := "https://" + addr
	var resp *http.Response
	var err error
	for range 200 {
		if resp, err = client.Get(base + "/healthz"); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("no HTTPS answer: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("over TLS: tls %v, HSTS %q", resp.TLS != nil, resp.Header.Get("Strict-Transport-Security"))
	}
	if !strings.Contains(stdout.String(), "serving on https://") {
		t.Errorf("serve does not say it serves https: %s", stdout.String())
	}
	m := regexp.MustCompile(`one-time password: (\S+)`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("no one-time password on standard output: %s", stdout.String())
	}
	otp := m[1]
	resp, err = client.PostForm(base+"/login", url.Values{"email": {"admin@localhost"}, "password": {otp}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "pulsegrid_session" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.Secure || !session.HttpOnly {
		t.Fatalf("login over TLS: %d, cookie %+v, want 303 with a Secure HttpOnly cookie", resp.StatusCode, session)
	}
	if strings.Contains(stderr.String(), otp) {
		t.Fatalf("the one-time password reached the log:\n%s", stderr.String())
	}
	// Plain HTTP to the TLS port gets no page.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served on the TLS port")
		}
	}
}

func TestServeTLSFlags(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t, t.TempDir())
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"CertOnly", []string{"--tls-cert", certFile}, "go together"},
		{"KeyOnly", []string{"--tls-key", keyFile}, "go together"},
		{"Swapped", []string{"--tls-cert", keyFile, "--tls-key", certFile}, "--tls-cert"},
		{"Missing", []string{"--tls-cert", "/nonexistent.pem", "--tls-key", keyFile}, "nonexistent.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cli(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestCLIAccountsAndAudit: every CLI action is audited with the operating
// system user as actor; disable and enable end tokens like the portal
// does; passwords follow the policy; backups are 0600.
func TestCLIAccountsAndAudit(t *testing.T) {
	data := t.TempDir()
	for _, weak := range []string{"aaaaaaaaaaaa", "password1234", "123456789012"} {
		if _, err := cli(t, "user", "add", "--data", data, "--email", "w@x.org", "--password", weak); err == nil {
			t.Errorf("--password %s was accepted", weak)
		}
	}
	out, err := cli(t, "user", "add", "--data", data, "--email", "c@x.org")
	if err != nil || !strings.Contains(out, "one-time password") || !strings.Contains(out, "valid until") {
		t.Fatalf("add: %q %v", out, err)
	}
	tokOut, err := cli(t, "user", "token", "--data", data, "--email", "c@x.org", "--name", "script")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(tokOut)
	tok := f[len(f)-1]
	for _, act := range []string{"disable", "enable"} {
		if _, err := cli(t, "user", act, "--data", data, "--email", "c@x.org"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli(t, "user", "reset", "--data", data, "--email", "nobody@x.org"); err == nil {
		t.Fatal("reset of an unknown user succeeded")
	}
	if _, err := cli(t, "user", "reset", "--data", data, "--email", "c@x.org", "--password", "Correct-Horse-42"); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if _, err := cli(t, "backup", "--data", data, "--out", backup); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode: %v %v, want 0600", fi.Mode().Perm(), err)
	}
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode: %v %v, want 0700", fi.Mode().Perm(), err)
	}

	st, err := openStore(context.Background(), data, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.UserByToken(context.Background(), auth.HashToken(tok)); err == nil {
		t.Error("the token survived a disable and an enable")
	}
	es, err := st.AuditFind(context.Background(), store.AuditFilter{Actor: "cli:"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Action+"/"+e.Outcome)
		if e.Address != "local" || !strings.HasPrefix(e.Actor, "cli:") || len(e.Actor) <= len("cli:") {
			t.Errorf("entry %+v: want address local and actor cli:NAME", e)
		}
	}
	want := []string{"backup/ok", "user.reset/ok", "user.reset/refused", "user.enable/ok", "user.disable/ok", "user.token/ok", "user.add/ok",
		"user.add/refused", "user.add/refused", "user.add/refused"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit of the CLI:\n got %v\nwant %v", got, want)
	}
	if bytes.Contains([]byte(es[2].Detail), []byte("no user")) == false {
		t.Errorf("refused reset's detail %q", es[2].Detail)
	}
}
