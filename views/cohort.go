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

// cohortRecordings is how many recordings the batch covers: the most any
// section compares (an algorithm may not have started on every one).
func cohortRecordings(p CohortBatchPage) int {
	n := 0
	for _, s := range p.Sections {
		n = max(n, len(s.Recordings))
	}
	return n
}

// cohortHeading names a section by its algorithm's title (Cohort shows the
// algorithm's name under it), or by the name when there is no title.
func cohortHeading(s CohortSection) string {
	if s.Title != "" {
		return s.Title
	}
	return s.Algorithm
}
