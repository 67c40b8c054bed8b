// Command pulsegrid is the whole of pulsegrid in one binary: the server, the
// native volunteer, the local pipeline, synthetic data and administration.
//
//	pulsegrid serve      start the server (portal, API, volunteer websocket)
//	pulsegrid volunteer  donate this machine's CPU to a server
//	pulsegrid run        run an algorithm on files here, without the grid
//	pulsegrid simulate   write synthetic recordings with ground truth
//	pulsegrid user       add, disable, reset users; issue API tokens
//	pulsegrid backup     write a consistent copy of the database
//	pulsegrid bench      measure the coordinator
//
// pulsegrid help SUBCOMMAND (or SUBCOMMAND -h) prints a subcommand's flags
// and exits 0; pulsegrid --version prints the build's version and commit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"syscall"
)

// env is what a subcommand may touch of the outside world, so that tests can
// call run with their own arguments, environment and output.
type env struct {
	args   []string // arguments after the subcommand name
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, e env) error
}

// commands is filled by each subcommand's file.
var commands = map[string]command{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pulsegrid:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		usage(stderr)
		return fmt.Errorf("no subcommand given")
	}
	name, rest := args[1], args[2:]
	switch name {
	case "-h", "-help", "--help":
		usage(stdout)
		return nil
	case "--version", "-version", "version":
		fmt.Fprintln(stdout, versionLine())
		return nil
	case "help":
		// pulsegrid help CMD is pulsegrid CMD -h.
		if len(rest) == 0 {
			usage(stdout)
			return nil
		}
		if _, ok := commands[rest[0]]; !ok {
			usage(stderr)
			return fmt.Errorf("help %s: no such subcommand", rest[0])
		}
		name, rest = rest[0], []string{"-h"}
	}
	cmd, ok := commands[name]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown subcommand %q", name)
	}
	e := env{args: rest, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	help := helpRequested(rest)
	if help {
		// Asked-for help is output, not a diagnostic: the flag sets print
		// their usage to stderr, so point it at stdout.
		e.stderr = stdout
	}
	err := cmd.run(ctx, e)
	if errors.Is(err, flag.ErrHelp) {
		return nil // the usage was printed
	}
	return err
}

// helpRequested reports whether args ask for help (-h, -help or --help
// before a "--" that ends the flags).
func helpRequested(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pulsegrid SUBCOMMAND [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "pulsegrid help SUBCOMMAND (or pulsegrid SUBCOMMAND -h) lists its flags; pulsegrid --version prints the build.")
}

// version and commit describe the build when the Makefile sets them
// (-ldflags "-X main.version=v1.2.3 -X main.commit=SHA"); empty ones are
// taken from what the Go toolchain recorded: the module version (a tag, a
// pseudo-version, or "(devel)") and the VCS settings, which Go stamps into
// binaries built in a git checkout (but not by go run, with
// -buildvcs=false, or in a git worktree).
var version, commit = "", ""

// versionLine describes this build: version, VCS commit and time (with
// "+dirty" when built from a modified tree) and the Go release, from what
// the Go toolchain embeds (runtime/debug.ReadBuildInfo).
func versionLine() string {
	v, rev, when, dirty, goVersion := version, commit, "", false, runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = bi.Main.Version
		}
		goVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	line := "pulsegrid " + v
	switch {
	case rev == "":
		line += ", commit unknown (built without VCS information: use make build)"
	default:
		line += ", commit " + rev
		if dirty {
			line += "+dirty"
		}
		if when != "" {
			line += " (" + when + ")"
		}
	}
	return line + ", " + goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH
}
