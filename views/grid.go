package views

import (
	"strconv"
	"time"
)

// fmtCompletion formats a node's average completion time: seconds from
// one second up, milliseconds below (a native volunteer may finish a chunk
// in a few), "< 1 ms" for results too quick to measure (the grid counts
// whole milliseconds) and "–" without results.
func fmtCompletion(avg time.Duration, results int64) string {
	switch {
	case results == 0:
		return "–"
	case avg >= time.Second:
		return fmtNum(avg.Seconds(), 2) + " s"
	case avg >= time.Millisecond:
		return strconv.FormatInt(avg.Milliseconds(), 10) + " ms"
	}
	return "< 1 ms"
}

// fmtLastSeen is a node's last-seen time; a connected node reads "now"
// (its record says when it connected, which grows stale while it works).
func fmtLastSeen(t time.Time, online bool) string {
	if online {
		return "now"
	}
	return fmtTime(t)
}
