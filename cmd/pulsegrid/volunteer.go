package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/pulsegrid/pulsegrid/algorithms/catalog"
	"github.com/pulsegrid/pulsegrid/volunteer"
)

func init() {
	commands["volunteer"] = command{
		summary: "donate this machine's CPU to a pulsegrid server",
		run:     cmdVolunteer,
	}
}

func cmdVolunteer(ctx context.Context, e env) error {
	fs := newFlagSet("volunteer", "volunteer --server URL [--workers N] [--cpu PERCENT] [--token T] [--identity FILE] [--nickname NAME] [--team NAME]", e.stderr)
	srv := fs.String("server", "", "the server's URL, e.g. http://127.0.0.1:8080")
	workers := fs.Int("workers", 1, "chunks computed at once")
	cpu := fs.Int("cpu", 100, "share of a core each worker may use, in percent")
	token := fs.String("token", "", "enrollment token (API token of a volunteer or admin account): lets this machine run trusted-only datasets")
	identFile := fs.String("identity", "", "file keeping this volunteer's identity between runs, so its reputation carries over")
	nickname := fs.String("nickname", "", "public name on the server's leaderboard (at most 40 characters; it is public, so no real name is needed); empty: anonymous")
	team := fs.String("team", "", "the team to join, by its exact name: the leaderboard sums each team's credit (at most 40 characters, public); empty: none")
	verbose := fs.Bool("v", false, "log every chunk")
	pos, err := parseInterleaved(fs, e.args)
	if err != nil {
		return err
	}
	if err := noArguments("volunteer", pos, "--server http://127.0.0.1:8080"); err != nil {
		return err
	}
	if *srv == "" {
		return fmt.Errorf("volunteer: --server URL is required, e.g. --server http://127.0.0.1:8080")
	}
	if err := checkServerURL(*srv); err != nil {
		return err
	}
	if *cpu < 1 || *cpu > 100 {
		return fmt.Errorf("--cpu %d: want 1..100", *cpu)
	}
	var ident volunteer.Identity
	if *identFile != "" {
		if b, err := os.ReadFile(*identFile); err == nil {
			if err := json.Unmarshal(b, &ident); err != nil {
				return fmt.Errorf("%s: %w", *identFile, err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	start := time.Now()
	var v *volunteer.Volunteer
	v = volunteer.New(volunteer.Config{
		Server: *srv, Registry: catalog.All(), Slots: *workers, CPU: *cpu, Token: *token, Identity: ident, Nickname: *nickname, Team: *team,
		Agent: fmt.Sprintf("pulsegrid-native %s/%s", runtime.GOOS, runtime.GOARCH),
		OnEvent: func(ev volunteer.Event) {
			switch ev.Kind {
			case volunteer.EventConnected:
				st := v.Stats()
				fmt.Fprintf(e.stderr, "connected to %s as %s (enrolled: %v; %d results verified, credit %.1f CPU s so far)\n", *srv, ev.Identity.ID, ev.Enrolled, st.TotalVerified, st.Credit)
				if *identFile != "" && ev.Identity != nil {
					b, _ := json.Marshal(ev.Identity)
					if err := writeFileAtomic(*identFile, b); err != nil {
						fmt.Fprintf(e.stderr, "cannot save identity: %v\n", err)
					}
				}
			case volunteer.EventDisconnected:
				fmt.Fprintf(e.stderr, "disconnected (%s); retrying in %s\n", ev.Err, ev.Retry.Round(time.Millisecond))
			case volunteer.EventChunkFailed:
				fmt.Fprintf(e.stderr, "chunk %d (%s) failed: %s\n", ev.LeaseID, ev.Algorithm, ev.Err)
			case volunteer.EventChunkDone:
				if *verbose {
					st := v.Stats()
					fmt.Fprintf(e.stderr, "chunk %d (%s) done in %s; %d done, %d verified since %s\n", ev.LeaseID, ev.Algorithm, ev.Elapsed.Round(time.Millisecond), st.Done, st.Verified, start.Format(time.TimeOnly))
				}
			}
		},
	})
	fmt.Fprintf(e.stdout, "volunteering to %s with %d worker(s) at %d%% CPU; Ctrl-C stops\n", *srv, *workers, *cpu)
	err = v.Run(ctx)
	st := v.Stats()
	fmt.Fprintf(e.stdout, "stopped: %d chunks computed, %d verified, %d rejected, %s of CPU; credit %.1f CPU s in all\n", st.Done, st.Verified, st.Rejected, st.Busy.Round(time.Millisecond), st.Credit)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// checkServerURL refuses a --server that is not a usable URL before
// anything starts: "127.0.0.1:8080" without its scheme is the usual slip.
func checkServerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("--server %q is not a URL: give the scheme and host, e.g. --server http://%s", s, strings.TrimPrefix(strings.TrimPrefix(s, "//"), "/"))
	}
	if _, err := volunteer.WebsocketURL(s); err != nil {
		return fmt.Errorf("--server %q: the scheme must be http, https, ws or wss (e.g. http://%s)", s, u.Host)
	}
	return nil
}
