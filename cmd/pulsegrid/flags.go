package main

import (
	"flag"
	"fmt"
	"io"
)

// parseInterleaved parses flags that may come before, between or after
// positional arguments ("run ecg.beats@1 100.hea 100.dat --out r.json"),
// which the standard flag package alone stops at. It returns the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// newFlagSet returns a FlagSet that reports errors instead of exiting and
// prints its usage to w.
func newFlagSet(name, usage string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		io.WriteString(w, "usage: pulsegrid "+usage+"\n")
		fs.PrintDefaults()
	}
	return fs
}

// noArguments refuses positional arguments for a subcommand that takes
// none, which the flag package would otherwise leave unread
// ("pulsegrid serve 8080" would serve on the default port). suggest names
// the flag the argument was probably meant for.
func noArguments(cmd string, pos []string, suggest string) error {
	if len(pos) == 0 {
		return nil
	}
	return fmt.Errorf("%s takes no arguments, got %q: flags start with --, e.g. %s", cmd, pos[0], suggest)
}
