// Command attack runs the adversarial scenarios of package attack/harness
// against a real `pulsegrid serve` on 127.0.0.1 and prints a table (and
// optionally JSON) of what each attack achieved.
//
//	go run ./attack/cmd/attack                       # every scenario, full size
//	go run ./attack/cmd/attack -run collude-2-one-prefix,hoard-progress -json out.json
//	go run ./attack/cmd/attack -short -protocol 2
//
// It exits 1 when a target that the mode asserts is not met (-strict
// asserts every target; by default only those the server already meets).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pulsegrid/pulsegrid/attack/harness"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "attack:", err)
		os.Exit(1)
	}
}

func run() error {
	runNames := flag.String("run", "all", "comma-separated scenarios to run, or all")
	list := flag.Bool("list", false, "list the scenarios and exit")
	short := flag.Bool("short", false, "the small record counts of the `make test` form")
	strict := flag.Bool("strict", os.Getenv("PULSEGRID_ATTACK_STRICT") == "1", "assert every target (default: $PULSEGRID_ATTACK_STRICT=1)")
	proto := flag.Int("protocol", 1, "volunteer protocol the adversaries speak: 1 or 2")
	bin := flag.String("bin", os.Getenv("PULSEGRID_BIN"), "pulsegrid binary (default: go build ./cmd/pulsegrid into a temp dir)")
	mitdb := flag.String("mitdb", "", "MIT-BIH directory (default: ../shared/data/mitdb from the module root)")
	chunk := flag.Float64("chunk-seconds", 60, "seconds of signal per chunk")
	jsonOut := flag.String("json", "", "also write the outcomes as JSON to this file")
	mdOut := flag.String("md", "", "also write the outcomes as a Markdown table (docs/benchmarks.md) to this file")
	serverArgs := flag.String("server-args", "", "extra flags for every serve, space-separated")
	verbose := flag.Bool("v", false, "log each scenario as it runs")
	honestClients := flag.Bool("honest-clients", false, "run the honest volunteers as honest attack clients, each from its own /24, instead of native volunteers on 127.0.0.1")
	flag.Parse()
	if *proto != 1 && *proto != 2 {
		return fmt.Errorf("-protocol %d: want 1 or 2", *proto)
	}
	scs := harness.Scenarios(*short, *proto)
	if *list {
		for _, s := range scs {
			fmt.Printf("%-24s %s\n", s.Name, s.About)
		}
		return nil
	}
	chosen, err := harness.Select(scs, *runNames)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	wd, _ := os.Getwd()
	root, err := harness.ModuleRoot(wd)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "pulsegrid-attack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "building cmd/pulsegrid ...")
		if *bin, err = harness.Build(ctx, root, tmp); err != nil {
			return err
		}
	}
	if *mitdb == "" {
		*mitdb = filepath.Join(root, "..", "shared", "data", "mitdb")
	}
	env := &harness.Env{Bin: *bin, Tmp: tmp, MITDB: *mitdb, Protocol: *proto, ChunkSeconds: *chunk, ServerArgs: strings.Fields(*serverArgs), HonestClients: *honestClients}
	if *verbose {
		env.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
		}
	}
	outs, runErr := env.RunAll(ctx, chosen, *strict)
	harness.WriteTable(os.Stdout, outs)
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			return err
		}
		if err := harness.WriteJSON(f, outs); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if *mdOut != "" {
		var b strings.Builder
		harness.WriteMarkdown(&b, outs)
		if err := os.WriteFile(*mdOut, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	if errors.Is(runErr, harness.ErrAsserted) {
		for _, o := range outs {
			for _, a := range o.Asserted {
				fmt.Fprintf(os.Stderr, "%s: %s\n", o.Scenario, a)
			}
		}
	}
	return runErr
}
