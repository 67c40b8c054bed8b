package harness

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pulsegrid/pulsegrid/attack/client"
)

// BaselineName is the honest-only scenario; its time is the undisturbed
// time of its shape.
const BaselineName = "honest-baseline"

// InjectedError is the error text the error injectors send: what a
// clinician must never read.
const InjectedError = "Recording unusable. Call 0800-555-0199 now"

// The targets (issue 10, "How it is shown").

func noWrong(o *Outcome) error {
	if o.Wrong > 0 {
		return fmt.Errorf("%d of %d chunks wrong in final results (%d of them lied on)", o.Wrong, o.Chunks, o.WrongLied)
	}
	return nil
}

func allDone(o *Outcome) error {
	if o.Done != o.Analyses {
		return fmt.Errorf("%d of %d analyses done (%d failed, %d unfinished): %s", o.Done, o.Analyses, o.Failed, o.Unfinished, strings.Join(o.AnalysisErrors, "; "))
	}
	return nil
}

func wrongAtMostPer1000(n float64) func(*Outcome) error {
	return func(o *Outcome) error {
		if o.WrongPer1000() > n {
			return fmt.Errorf("%d of %d chunks wrong (%.1f per 1000, target %.0f)", o.Wrong, o.Chunks, o.WrongPer1000(), n)
		}
		return nil
	}
}

func costAtMost(c float64) func(*Outcome) error {
	return func(o *Outcome) error {
		if o.ChunksAccepted == 0 || o.Cost > c {
			return fmt.Errorf("verification cost %.2f (%.0f results for %.0f chunks), target ≤ %.1f", o.Cost, o.ResultsComputed, o.ChunksAccepted, c)
		}
		return nil
	}
}

// noStall: every analysis finishes within twice the undisturbed time plus
// the ack timeout.
func noStall(o *Outcome) error {
	limit := 2*o.Undisturbed + AckTimeout.Seconds()
	if o.Unfinished > 0 || o.Done != o.Analyses || o.Seconds > limit {
		return fmt.Errorf("%d of %d done (%d unfinished) after %.1f s; target all within %.1f s (2 × %.1f s undisturbed + ack timeout)",
			o.Done, o.Analyses, o.Unfinished, o.Seconds, limit, o.Undisturbed)
	}
	return nil
}

func noLeak(o *Outcome) error {
	if len(o.Leaks) > 0 {
		return fmt.Errorf("volunteer error text shown in %s", strings.Join(o.Leaks, ", "))
	}
	return nil
}

func noFailed(o *Outcome) error {
	if o.Failed > 0 {
		return fmt.Errorf("%d analyses failed: %s", o.Failed, strings.Join(o.AnalysisErrors, "; "))
	}
	return nil
}

func creditWithinWall(o *Outcome) error {
	if o.MaxCredit > o.WallSeconds {
		return fmt.Errorf("credit %.1f s granted from %.1f s connected", o.MaxCredit, o.WallSeconds)
	}
	return nil
}

func memoryAtMost(mb float64) func(*Outcome) error {
	return func(o *Outcome) error {
		if grow := o.PeakRSSMB - o.RSSBeforeMB; grow > mb {
			return fmt.Errorf("server resident set grew %.0f MiB (%.0f → peak %.0f) for %d partial frames of %.1f MiB; target ≤ %.0f MiB",
				grow, o.RSSBeforeMB, o.PeakRSSMB, o.Adversary.PartialFrames, float64(o.Adversary.PartialBytes)/float64(max(1, o.Adversary.PartialFrames))/(1<<20), mb)
		}
		return nil
	}
}

func neverLeasedAgain(o *Outcome) error {
	if o.LeasedAgain > 0 {
		return fmt.Errorf("%d leases of a chunk went to an identity that had already held it", o.LeasedAgain)
	}
	return nil
}

func allRefused(o *Outcome) error {
	if o.AdversaryConnections > 0 || o.Adversary.Fatals == 0 {
		return fmt.Errorf("%d connections welcomed, %d fatal answers; want every hello refused", o.AdversaryConnections, o.Adversary.Fatals)
	}
	return nil
}

func check(name string, strict bool, fn func(*Outcome) error) Check {
	return Check{Name: name, Strict: strict, Fn: fn}
}

// Scenarios is the catalogue for the adversaries' protocol (1 or 2;
// some attacks exist only in v2). short cuts the record counts for `make
// test`; the full form is what docs/benchmarks.md reports.
func Scenarios(short bool, protocol int) []Scenario {
	n := func(full, s int) int {
		if short {
			return s
		}
		return full
	}
	// Hoarding scenarios wait at most this long for the batch: the target
	// is seconds. "No stall" is a timed target: strict, so that make test
	// asserts only what does not depend on the machine's load.
	stall := n(45, 20)
	// The short form keeps the server's memory modest on a shared machine.
	partials := n(50, 10)
	conns := n(1000, 200)
	liar := func(forge client.Forge) client.Behaviour {
		return client.Behaviour{Lie: client.LieAlways, Forge: forge}
	}
	var scs []Scenario
	// The baseline's cost is 1.08–1.19 on main in the short form (93
	// chunks, 10 % spot checks), so the default run asserts 1.5, which
	// still fails when trusted work is not settled at quorum 1 (2.0);
	// the 1.2 target is strict until a larger short form or a steadier
	// audit rate makes it safe.
	scs = append(scs, Scenario{
		Name: BaselineName, About: "honest native volunteers only: the undisturbed time and the verification cost",
		Warmup: n(2, 1), Records: n(4, 3), Honest: 2,
		Checks: []Check{check("all done", false, allDone), check("0 wrong", false, noWrong), check("cost ≤ 1.5", false, costAtMost(1.5)), check("cost ≤ 1.2", true, costAtMost(1.2))},
	})
	scs = append(scs, Scenario{
		Name: "solo-liars", About: "3 identities that always lie, each its own way (no collusion)",
		Records: n(4, 2), Honest: 2,
		Groups: []Group{{Count: 3, Addrs: ManyPrefixes, Behaviour: liar(client.ForgeSolo)}},
		Checks: []Check{check("0 wrong", false, noWrong), check("all done", false, allDone)},
	})
	for _, k := range []int{2, 3, 5} {
		for _, p := range []AddrPlan{OneAddress, OnePrefix, ManyPrefixes} {
			if short && (k != 2 || p != OnePrefix) {
				continue
			}
			scs = append(scs, Scenario{
				Name:    fmt.Sprintf("collude-%d-%s", k, strings.ReplaceAll(p.String(), " ", "-")),
				About:   fmt.Sprintf("%d colluding identities on %s, every second beat removed", k, p),
				Records: n(4, 2), Honest: 2,
				Groups: []Group{{Count: k, Addrs: p, Behaviour: liar(client.ForgeCollude)}},
				Checks: []Check{check("0 wrong", false, noWrong)},
			})
		}
	}
	scs = append(scs, Scenario{
		Name: "trusted-then-lying", About: "1 identity honest for 12 verified verdicts, then lying on everything",
		Warmup: n(3, 2), Records: n(4, 2), Honest: 2,
		Groups: []Group{{Count: 1, Behaviour: client.Behaviour{Lie: client.LieAfterTrusted, After: 12, Forge: client.ForgeCollude}}},
		Checks: []Check{check("0 wrong", false, noWrong)},
	})
	scs = append(scs, Scenario{
		Name: "rare-liar", About: "1 identity with 4 slots lying on 1 chunk in 50, honest otherwise",
		Warmup: n(2, 1), Records: n(16, 3), Honest: 2,
		Groups: []Group{{Count: 1, Behaviour: client.Behaviour{Lie: client.LieRare, Every: 50, Forge: client.ForgeCollude, Slots: 4}}},
		Checks: []Check{check("≤ 1 wrong per 1000", true, wrongAtMostPer1000(1))},
	})
	scs = append(scs, Scenario{
		Name: "new-identity-per-catch", About: "2 colluders on one prefix that come back as new identities after every rejection",
		Records: n(4, 2), Honest: 2,
		Groups: []Group{{Count: 2, Addrs: OnePrefix, Behaviour: client.Behaviour{Lie: client.LieAlways, Forge: client.ForgeCollude, Renew: true}}},
		Checks: []Check{check("0 wrong", false, noWrong)},
	})
	scs = append(scs, Scenario{
		Name: "hoard-progress", About: "2 identities that ack 4 leases each and send progress forever, never a result",
		Records: n(2, 2), Honest: 2, NeedsBaseline: true, Timeout: time.Duration(stall) * time.Second,
		Groups: []Group{{Count: 2, Behaviour: client.Behaviour{Hoard: client.HoardProgress, Slots: 4}}},
		Checks: []Check{check("no stall", true, noStall), check("0 wrong", false, noWrong)},
	})
	scs = append(scs, Scenario{
		Name: "hoard-never-ack", About: "20 identities that take a lease each and never ack it",
		Records: n(2, 2), Honest: 2, NeedsBaseline: true, Timeout: time.Duration(stall) * time.Second,
		Groups: []Group{{Count: 20, Behaviour: client.Behaviour{Hoard: client.HoardNeverAck}}},
		Checks: []Check{check("no stall", true, noStall), check("0 wrong", false, noWrong), check("never leased again", false, neverLeasedAgain)},
	})
	scs = append(scs, Scenario{
		Name: fmt.Sprintf("hoard-%d-connections", conns), About: fmt.Sprintf("%d connections (one identity each, one /24 each) holding one lease each with progress", conns),
		Records: n(2, 2), Honest: 2, NeedsBaseline: true, Timeout: time.Duration(stall) * time.Second,
		Groups: []Group{{Count: conns, Behaviour: client.Behaviour{Hoard: client.HoardProgress}}},
		Checks: []Check{check("no stall", true, noStall), check("0 wrong", false, noWrong)},
	})
	scs = append(scs, Scenario{
		Name: "hoard-one-identity-100-connections", About: "1 identity over 100 connections (one /24), each holding one lease with progress",
		Records: n(2, 2), Honest: 2, NeedsBaseline: true, Timeout: time.Duration(stall) * time.Second,
		Groups: []Group{{Count: 100, Addrs: OnePrefix, SharedIdentity: true, Behaviour: client.Behaviour{Hoard: client.HoardProgress}}},
		// The server once stalled here: one identity's hungry connections
		// used up the kick's budget before the honest volunteers were
		// offered new work. "No stall" is timed, so it stays strict (the
		// full run reports it, docs/benchmarks.md "Adversaries").
		Checks: []Check{check("no stall", true, noStall), check("never leased again", false, neverLeasedAgain)},
	})
	if protocol >= 2 {
		scs = append(scs, Scenario{
			Name: "bad-signature", About: "5 identities whose hello signs another nonce than the challenge's",
			Records: n(1, 1), Honest: 2,
			Groups: []Group{{Count: 5, BadSignature: true, Behaviour: client.Behaviour{Lie: client.LieAlways}}},
			Checks: []Check{check("every hello refused", false, allRefused), check("0 wrong", false, noWrong)},
		})
	}
	scs = append(scs, Scenario{
		Name: "error-one", About: "1 identity answering every lease with the same error text",
		Records: n(4, 2), Honest: 2, ErrorText: InjectedError,
		Groups: []Group{{Count: 1, Behaviour: client.Behaviour{ErrorReason: InjectedError}}},
		Checks: []Check{check("no failed analysis", false, noFailed), check("error text not shown", false, noLeak), check("0 wrong", false, noWrong)},
	})
	scs = append(scs, Scenario{
		Name: "error-trusted", About: "1 identity honest for 12 verified verdicts, then answering with an error text",
		Warmup: n(2, 1), Records: n(4, 2), Honest: 2, ErrorText: InjectedError,
		Groups: []Group{{Count: 1, Behaviour: client.Behaviour{Lie: client.LieAfterTrusted, After: 12, ErrorReason: InjectedError}}},
		Checks: []Check{check("no failed analysis", false, noFailed), check("error text not shown", false, noLeak)},
	})
	scs = append(scs, Scenario{
		Name: "error-collude", About: "3 identities on many prefixes answering every lease with the same error text",
		Records: n(4, 2), Honest: 2, ErrorText: InjectedError,
		Groups: []Group{{Count: 3, Behaviour: client.Behaviour{ErrorReason: InjectedError}}},
		Checks: []Check{check("no failed analysis", false, noFailed), check("error text not shown", false, noLeak)},
	})
	// The credit claimants are the only volunteers, so that each of their
	// leases is answered and verified (two honest outputs agree).
	scs = append(scs, Scenario{
		Name: "credit-claim", About: "2 identities holding one lease at a time for 0.15 s, honest output, cpu_ms 1e9",
		Records: n(1, 1),
		Groups:  []Group{{Count: 2, Behaviour: client.Behaviour{HoldFor: 150 * time.Millisecond, CPUMS: 1e9}}},
		Checks:  []Check{check("credit ≤ wall time", false, creditWithinWall), check("all done", false, allDone), check("0 wrong", false, noWrong)},
	})
	scs = append(scs, Scenario{
		Name: "credit-claim-parallel", About: "2 identities holding 16 leases at once for 2 s each, honest output, cpu_ms 1e9",
		Records: n(1, 1),
		Groups:  []Group{{Count: 2, Behaviour: client.Behaviour{HoldFor: 2 * time.Second, CPUMS: 1e9, Slots: 16}}},
		Checks:  []Check{check("credit ≤ wall time", false, creditWithinWall), check("0 wrong", false, noWrong)},
	})
	scs = append(scs, Scenario{
		Name: "partial-frames", About: fmt.Sprintf("%d anonymous connections, each a result declaring 8 MiB then 8 MiB − 1 KiB of its frame, then silence", partials),
		Records: n(1, 1), Honest: 2, Memory: true,
		Groups: []Group{{Count: partials, Behaviour: client.Behaviour{PartialFrame: client.MaxOutput - 1024}}},
		Checks: []Check{check("resident set growth ≤ 32 MiB", true, memoryAtMost(32)), check("all done", false, allDone)},
	})
	return scs
}

// Default are the scenarios the default (not strict) run asserts: those
// with at least one check that is not strict.
func Default(scs []Scenario) []Scenario {
	var out []Scenario
	for _, s := range scs {
		for _, c := range s.Checks {
			if !c.Strict {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// WriteTable prints the outcomes as a table.
func WriteTable(w io.Writer, os []*Outcome) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tproto\tdone/all\tfailed\tunfinished\tverified/chunks\tlies\tlied chunks\twrong chunks\twrong/1000\ttime s\tundisturbed s\tcost\tpeak RSS MiB\tcredit/wall s\ttargets")
	for _, o := range os {
		rss, credit, undist := "", "", ""
		if o.PeakRSSMB > 0 && strings.Contains(o.Scenario, "partial") {
			rss = fmt.Sprintf("%.0f (from %.0f)", o.PeakRSSMB, o.RSSBeforeMB)
		}
		if o.MaxCredit > 0 {
			credit = fmt.Sprintf("%.1f/%.1f", o.MaxCredit, o.WallSeconds)
		}
		if o.Undisturbed > 0 {
			undist = fmt.Sprintf("%.1f", o.Undisturbed)
		}
		targets := "met"
		if len(o.Failures) > 0 {
			targets = "NOT MET: " + strings.Join(o.Failures, "; ")
		}
		to := ""
		if o.TimedOut {
			to = " (timeout)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d/%d\t%d\t%d\t%d/%d\t%d\t%d\t%d\t%.1f\t%.1f%s\t%s\t%.2f\t%s\t%s\t%s\n",
			o.Scenario, o.Protocol, o.Done, o.Analyses, o.Failed, o.Unfinished, o.Verified, o.Chunks, o.Lies, o.LiedChunks, o.Wrong, o.WrongPer1000(),
			o.Seconds, to, undist, o.Cost, rss, credit, targets)
	}
	tw.Flush()
}

// WriteJSON writes the outcomes as indented JSON.
func WriteJSON(w io.Writer, os []*Outcome) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(os)
}

// WriteMarkdown prints the outcomes as the table of docs/benchmarks.md,
// "Adversaries".
func WriteMarkdown(w io.Writer, outs []*Outcome) {
	fmt.Fprintln(w, "| scenario | analyses done / failed / unfinished | chunks verified | lies (chunks) | wrong chunks | time s | cost | other | targets not met |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, o := range outs {
		var other []string
		if strings.Contains(o.Scenario, "partial") {
			other = append(other, fmt.Sprintf("peak RSS %.0f MiB (from %.0f)", o.PeakRSSMB, o.RSSBeforeMB))
		}
		if strings.Contains(o.Scenario, "credit") {
			other = append(other, fmt.Sprintf("credit %.1f s from %.1f s connected", o.MaxCredit, o.WallSeconds))
		}
		if o.AdversaryConnections > 5 {
			other = append(other, fmt.Sprintf("%d adversary connections", o.AdversaryConnections))
		}
		if o.AdversaryRefused > 0 {
			other = append(other, fmt.Sprintf("%d refused (1013)", o.AdversaryRefused))
		}
		t := fmt.Sprintf("%.1f", o.Seconds)
		if o.TimedOut {
			t += " (timeout)"
		}
		if o.Undisturbed > 0 {
			t += fmt.Sprintf(", undisturbed %.1f", o.Undisturbed)
		}
		var names []string
		for _, f := range o.Failures {
			name, _, _ := strings.Cut(f, ":")
			names = append(names, name)
		}
		fmt.Fprintf(w, "| %s | %d / %d / %d | %d of %d | %d (%d) | %d | %s | %.2f | %s | %s |\n",
			o.Scenario, o.Done, o.Failed, o.Unfinished, o.Verified, o.Chunks, o.Lies, o.LiedChunks, o.Wrong, t, o.Cost,
			strings.Join(other, "; "), strings.Join(names, ", "))
	}
}
