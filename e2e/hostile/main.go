// Command hostile is a volunteer that lies, for the end-to-end test of the
// server's verification (e2e/tests/hostile.spec.js). It runs the real
// volunteer loop and pipeline, returns honest outputs for its first
// --honest chunks (so that it earns some reputation to lose), then flips a
// byte of every output before it is sent, with a digest that matches the
// forged bytes, as a cheater would.
//
// It prints one line per event on standard output ("connected ID",
// "verdict N verified|rejected|ignored", "cheated N") for the test to read.
//
// `hostile standing --data DIR ID...` prints the standing the server stored
// for volunteer IDs (reputation, validated and rejected results) as JSON
// lines, read from the server's database as the CLI does; the admin pages
// do not list volunteers yet.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/server/store"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "standing" {
		if err := standing(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "hostile standing:", err)
			os.Exit(1)
		}
		return
	}
	server := flag.String("server", "", "the server's URL, e.g. http://127.0.0.1:8080")
	honest := flag.Int("honest", 3, "outputs returned unchanged before the lying starts")
	flag.Parse()
	if *server == "" {
		fmt.Fprintln(os.Stderr, "hostile: --server URL is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var mu sync.Mutex // serialises the output lines and the counter
	outputs := 0
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format+"\n", args...)
	}
	v := volunteer.New(volunteer.Config{
		Server:     *server,
		Registry:   catalog.All(),
		Slots:      1,
		Agent:      "hostile e2e volunteer",
		MinBackoff: 200 * time.Millisecond,
		Cheat: func(out []byte) []byte {
			mu.Lock()
			defer mu.Unlock()
			outputs++
			if outputs <= *honest || len(out) == 0 {
				return out
			}
			forged := append([]byte(nil), out...)
			forged[len(forged)/2] ^= 0x5a
			fmt.Printf("cheated %d\n", outputs)
			return forged
		},
		OnEvent: func(ev volunteer.Event) {
			switch ev.Kind {
			case volunteer.EventConnected:
				say("connected %s", ev.Identity.ID)
			case volunteer.EventVerdict:
				say("verdict %d %s", ev.LeaseID, ev.Verdict)
			}
		},
	})
	if err := v.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
}

// standing prints the stored standing of each volunteer ID.
func standing(args []string) error {
	fs := flag.NewFlagSet("standing", flag.ExitOnError)
	data := fs.String("data", "", "the server's data directory")
	fs.Parse(args)
	if *data == "" || fs.NArg() == 0 {
		return fmt.Errorf("usage: hostile standing --data DIR ID...")
	}
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(*data, "pulsegrid.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	for _, id := range fs.Args() {
		v, err := st.Volunteer(ctx, id)
		if err != nil {
			return fmt.Errorf("volunteer %s: %w", id, err)
		}
		b, _ := json.Marshal(map[string]any{"id": v.ID, "reputation": v.Reputation, "validated": v.Validated, "rejected": v.Rejected})
		fmt.Println(string(b))
	}
	return nil
}
