// Package pulsegrid is the domain vocabulary every part of the server
// shares: the statuses an analysis goes through and the priorities it may
// be given. It imports nothing, so the store, the grid, the web handlers
// and the views all speak it; the browser's scripts are checked against it
// (server/vocabulary_test.go).
package pulsegrid

import "strings"

// Analysis statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusDone      = "done"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// Statuses are every analysis status, in the order an analysis goes through them.
var Statuses = []string{StatusQueued, StatusRunning, StatusDone, StatusFailed, StatusCancelled}

// FinishedStatuses are the final statuses: an analysis in one never changes
// again (except a done one reopened by a revision).
var FinishedStatuses = []string{StatusDone, StatusFailed, StatusCancelled}

// Finished reports whether status is final.
func Finished(status string) bool {
	return status == StatusDone || status == StatusFailed || status == StatusCancelled
}

// Analysis priorities.
const (
	PriorityStat    = "stat"
	PriorityUrgent  = "urgent"
	PriorityRoutine = "routine"
)

// Priorities of analyses, most urgent first (the grid's scheduling order).
var Priorities = []string{PriorityStat, PriorityUrgent, PriorityRoutine}

// ValidPriority reports whether p is one of Priorities.
func ValidPriority(p string) bool {
	for _, q := range Priorities {
		if p == q {
			return true
		}
	}
	return false
}

// PriorityChoices is the priorities least urgent first, as a message lists
// them: "routine, urgent or stat".
func PriorityChoices() string {
	n := len(Priorities)
	rev := make([]string, n)
	for i, p := range Priorities {
		rev[n-1-i] = p
	}
	return strings.Join(rev[:n-1], ", ") + " or " + rev[n-1]
}
