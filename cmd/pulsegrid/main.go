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
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
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
	if len(args) < 2 || args[1] == "help" || args[1] == "-h" || args[1] == "--help" {
		usage(stdout)
		if len(args) < 2 {
			return fmt.Errorf("no subcommand given")
		}
		return nil
	}
	cmd, ok := commands[args[1]]
	if !ok {
		usage(stderr)
		return fmt.Errorf("unknown subcommand %q", args[1])
	}
	return cmd.run(ctx, env{args: args[2:], getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr})
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: pulsegrid SUBCOMMAND [flags]   (pulsegrid SUBCOMMAND -h for its flags)")
	fmt.Fprintln(w)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}
