package views

import (
	"net/url"
	"strings"
)

// cohortURL is the cohort page of a batch, narrowed to alg unless empty.
func cohortURL(batchID int64, alg string) string {
	u := "/batches/" + i64(batchID)
	if alg != "" {
		u += "?algorithm=" + url.QueryEscape(alg)
	}
	return u
}

// cohortAnchor is the element id of an algorithm's section: its name with
// every character but letters and digits made a hyphen ("ecg.beats@1" →
// "cohort-ecg-beats-1").
func cohortAnchor(alg string) string {
	return "cohort-" + strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, alg)
}

// cohortRecordings is how many recordings the batch covers: the distinct
// datasets of its analyses (a section may compare fewer, when an algorithm
// did not start on every one, or none yet while its analyses run).
func cohortRecordings(p CohortBatchPage) int {
	seen := map[int64]bool{}
	for _, a := range p.Progress {
		seen[a.DatasetID] = true
	}
	n := len(seen)
	for _, s := range p.Sections {
		n = max(n, len(s.Recordings))
	}
	return n
}

// batchWaiting is the waiting_for of the batch as a whole: "volunteers"
// when an unfinished analysis has no volunteer, else "second_opinion"
// when one waits for a second opinion, else "" (its hints are then
// hidden; batch.js applies the same rule to what it polls).
func batchWaiting(p CohortBatchPage) string {
	w := ""
	for _, a := range p.Progress {
		switch {
		case a.Terminal():
		case a.WaitingFor == "volunteers":
			return a.WaitingFor
		case a.WaitingFor == "second_opinion":
			w = a.WaitingFor
		}
	}
	return w
}

// BatchState says in a few words what an analysis of a batch is doing or
// waiting for: "waiting for volunteers", "3 waiting for a second opinion",
// "2 queued, 1 running, about 16 s left", "merging the results", "3 of 9
// verified so far" (figures from the database); "" once it finished.
// static/js/batch.js words it the same way (batchState there; the views
// tests compare the two on the same figures).
func BatchState(a BatchAnalysis) string {
	if a.Terminal() {
		return ""
	}
	switch a.WaitingFor {
	case "volunteers":
		return "waiting for volunteers"
	case "second_opinion":
		return itoa(a.ChunksAwaiting) + " waiting for a second opinion"
	}
	var parts []string
	if a.ChunksQueued > 0 {
		parts = append(parts, itoa(a.ChunksQueued)+" queued")
	}
	if a.ChunksRunning > 0 {
		parts = append(parts, itoa(a.ChunksRunning)+" running")
	}
	if a.ChunksAwaiting > 0 {
		parts = append(parts, itoa(a.ChunksAwaiting)+" awaiting a second opinion")
	}
	if a.ETASeconds >= 0 {
		parts = append(parts, "about "+fmtETA(a.ETASeconds)+" left")
	}
	if len(parts) == 0 && a.ChunksTotal > 0 && a.ChunksVerified == a.ChunksTotal {
		return "merging the results"
	}
	if a.Stored && len(parts) == 0 {
		// Only the leader knows the chunks' states and the time left.
		return itoa(a.ChunksVerified) + " of " + itoa(a.ChunksTotal) + " verified so far"
	}
	return strings.Join(parts, ", ")
}

// cohortHeading names a section by its algorithm's title (Cohort shows the
// algorithm's name under it), or by the name when there is no title.
func cohortHeading(s CohortSection) string {
	if s.Title != "" {
		return s.Title
	}
	return s.Algorithm
}
