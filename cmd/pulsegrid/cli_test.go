package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpAndVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string // in stdout
	}{
		{"TopLevelShort", []string{"-h"}, "usage: pulsegrid SUBCOMMAND"},
		{"TopLevelLong", []string{"--help"}, "pulsegrid help SUBCOMMAND"},
		{"HelpAlone", []string{"help"}, "usage: pulsegrid SUBCOMMAND"},
		{"HelpRun", []string{"help", "run"}, "usage: pulsegrid run ALGORITHM"},
		{"HelpServe", []string{"help", "serve"}, "-local-workers"},
		{"ServeShort", []string{"serve", "-h"}, "-addr"},
		{"UserLong", []string{"user", "add", "--help"}, "usage: pulsegrid user"},
		{"VolunteerHelp", []string{"volunteer", "-h"}, "-server"},
		{"Version", []string{"--version"}, "pulsegrid "},
		{"VersionWord", []string{"version"}, "commit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := cli(t, tc.args...)
			if err != nil {
				t.Fatalf("pulsegrid %s: got %v, want exit 0", strings.Join(tc.args, " "), err)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("pulsegrid %s: stdout %q, want %q in it", strings.Join(tc.args, " "), out, tc.want)
			}
		})
	}
	t.Run("ErrUnknownHelp", func(t *testing.T) {
		if _, err := cli(t, "help", "nope"); err == nil || !strings.Contains(err.Error(), "no such subcommand") {
			t.Errorf("help nope: got %v, want no such subcommand", err)
		}
	})
	t.Run("ErrNoSubcommand", func(t *testing.T) {
		if _, err := cli(t); err == nil {
			t.Error("no subcommand: got exit 0, want an error")
		}
	})
	t.Run("VersionNamesCommit", func(t *testing.T) {
		version, commit = "v9.9.9", "0123456789abcdef"
		defer func() { version, commit = "", "" }()
		out, _ := cli(t, "--version")
		if !strings.HasPrefix(out, "pulsegrid v9.9.9, commit 0123456789abcdef") {
			t.Errorf("--version: got %q, want the version and commit set at build", out)
		}
	})
}

func TestBadFlagValuesRefusedEarly(t *testing.T) {
	t.Run("ErrVolunteerServerWithoutScheme", func(t *testing.T) {
		out, err := cli(t, "volunteer", "--server", "127.0.0.1:8080")
		if err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:8080") {
			t.Errorf("volunteer --server 127.0.0.1:8080: got %v, want a message suggesting http://127.0.0.1:8080", err)
		}
		if strings.Contains(out, "volunteering") {
			t.Errorf("volunteer printed %q before refusing its --server", out)
		}
	})
	t.Run("ErrVolunteerServerScheme", func(t *testing.T) {
		if _, err := cli(t, "volunteer", "--server", "ftp://h:1"); err == nil || !strings.Contains(err.Error(), "scheme") {
			t.Errorf("volunteer --server ftp://h:1: got %v", err)
		}
	})
	for _, tc := range []struct{ args, want []string }{
		{[]string{"serve", "8080"}, []string{`serve takes no arguments, got "8080"`, "--addr"}},
		{[]string{"volunteer", "http://127.0.0.1:8080"}, []string{`volunteer takes no arguments, got "http://127.0.0.1:8080"`, "--server http://"}},
	} {
		t.Run("ErrStrayArgument "+strings.Join(tc.args, " "), func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			out, err := cli(t, append(tc.args, "--data", data)...)
			if tc.args[0] == "volunteer" {
				out, err = cli(t, tc.args...)
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("pulsegrid %s: got %v, want %q in the error", strings.Join(tc.args, " "), err, w)
				}
			}
			if out != "" {
				t.Errorf("pulsegrid %s printed %q before refusing", strings.Join(tc.args, " "), out)
			}
			if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("pulsegrid %s created %s", strings.Join(tc.args, " "), data)
			}
		})
	}
	for _, bad := range []string{"bad", "a@", "@b", "Dr Lee <lee@h.org>", "a b@c.d"} {
		t.Run("ErrUserAddEmail "+bad, func(t *testing.T) {
			data := t.TempDir()
			if _, err := cli(t, "user", "add", "--data", data, "--email", bad); err == nil || !strings.Contains(err.Error(), "not an email address") {
				t.Errorf("user add --email %q: got %v, want it refused", bad, err)
			}
			if _, err := os.Stat(filepath.Join(data, dbFile)); err == nil {
				t.Errorf("user add --email %q created the database", bad)
			}
		})
	}
	if _, err := cli(t, "user", "add", "--data", t.TempDir(), "--email", "admin2@localhost", "--password", "Correct-Horse-42"); err != nil {
		t.Errorf("user add --email admin2@localhost: %v", err)
	}
}

// TestServeStartup: a taken port fails before the database or the admin
// exists; a second serve on one data directory is refused; a restart
// whose admin never signed in says how to get a new password.
func TestServeStartup(t *testing.T) {
	t.Run("ErrPortTaken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		data := filepath.Join(t.TempDir(), "data")
		out, err := cli(t, "serve", "--addr", ln.Addr().String(), "--data", data)
		if err == nil || !strings.Contains(err.Error(), "--addr") {
			t.Fatalf("serve on a taken port: got %v", err)
		}
		if strings.Contains(out, "password") {
			t.Errorf("serve on a taken port printed %q", out)
		}
		if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("serve on a taken port created its data directory (stat: %v)", err)
		}
	})
	t.Run("SecondServeRefused", func(t *testing.T) {
		data := t.TempDir()
		firstAddr := freeAddr(t)
		first, out := serveProcess(t, firstAddr, data)
		if !strings.Contains(out.String(), "one-time password") || strings.Contains(out.String(), "user reset") {
			t.Errorf("first start: got %q, want the one-time password and no reset hint", out.String())
		}
		_, err := cli(t, "serve", "--addr", freeAddr(t), "--data", data)
		if err == nil || !strings.Contains(err.Error(), "another pulsegrid serve") || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", first.Process.Pid)) {
			t.Fatalf("second serve on one data directory: got %v, want it refused naming the first", err)
		}
		// make run twice: the same port and the same data directory. The
		// message says that the port's holder is a serve of this data.
		_, err = cli(t, "serve", "--addr", firstAddr, "--data", data)
		if err == nil || !strings.Contains(err.Error(), "port is taken") || !strings.Contains(err.Error(), "another pulsegrid serve") {
			t.Errorf("second serve on the same port and data: got %v, want both named", err)
		}
		// The other subcommands still work while serve runs.
		if _, err := cli(t, "user", "add", "--data", data, "--email", "c@x.org", "--password", "Correct-Horse-42"); err != nil {
			t.Errorf("user add while serve runs: %v", err)
		}
		// kill -9 leaves the lock file with its pid; the kernel has
		// dropped the lock, so the restart takes it.
		first.Process.Kill()
		first.Wait()
		_, out = serveProcess(t, freeAddr(t), data)
		want := "pulsegrid user reset --data " + data + " --email admin@localhost"
		if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "one-time password:") {
			t.Errorf("restart with an admin that never signed in: got %q, want %q and no new password", out.String(), want)
		}
	})
}

// TestMakeRunSaysWhatItDoes: a cold make run compiles for a minute or two
// (the wasm worker, then the server) before serve prints anything; each
// compilation is announced before it starts (make -n lists the recipe
// without running it).
func TestMakeRunSaysWhatItDoes(t *testing.T) {
	make, err := exec.LookPath("make")
	if err != nil {
		t.Fatalf("make is needed to check the Makefile: %v", err)
	}
	cmd := exec.Command(make, "-n", "run")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n run: %v: %s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	said := func(upto int, what string) bool {
		for _, l := range lines[:upto] {
			if strings.Contains(l, "echo") && strings.Contains(l, what) {
				return true
			}
		}
		return false
	}
	builds := 0
	for i, l := range lines {
		switch {
		case strings.Contains(l, "GOARCH=wasm") && strings.Contains(l, "go build"):
			builds++
			if !said(i, "compiling the browser worker") {
				t.Errorf("make run compiles the wasm worker (line %d) without saying so first:\n%s", i+1, out)
			}
		case (strings.Contains(l, "go run") || strings.Contains(l, "go build -ldflags")) && strings.Contains(l, "./cmd/pulsegrid"):
			builds++
			if !said(i, "compiling pulsegrid") {
				t.Errorf("make run compiles the server (line %d) without saying so first:\n%s", i+1, out)
			}
		}
	}
	if builds != 2 {
		t.Errorf("make -n run: found %d compilations, want the worker's and the server's:\n%s", builds, out)
	}
}
