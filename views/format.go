package views

import (
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulsegrid/pulsegrid/views/charts"
)

// navItem is one link of the header navigation.
type navItem struct {
	Key, Label, Href string
}

// navItems lists the sections a role may visit; none while the account
// must change its password first (every other page sends it back).
func navItems(role string, mustChange bool) []navItem {
	if mustChange {
		return nil
	}
	public := []navItem{{"donate", "Donate", "/donate"}, {"leaderboard", "Leaderboard", "/leaderboard"}}
	switch role {
	case RoleClinician, RoleAdmin:
		items := []navItem{
			{"datasets", "Datasets", "/datasets"},
			{"upload", "Upload", "/datasets/upload"},
			{"analyses", "Analyses", "/analyses"},
			{"tokens", "API tokens", "/account/tokens"},
		}
		if role == RoleAdmin {
			items = append(items,
				navItem{"users", "Users", "/admin/users"},
				navItem{"templates", "Templates", "/admin/templates"},
				navItem{"grid", "Grid", "/admin/grid"},
				navItem{"audit", "Audit log", "/admin/audit"})
		}
		return append(items, public...)
	}
	return public
}

// fmtDuration formats a length of time in one style whatever its size, so
// that a column of them reads alike: "0.4 s", "16 s", "30 min 5 s",
// "32 h 16 min" (seconds are dropped from an hour on).
func fmtDuration(sec float64) string {
	if sec != sec || sec < 0 || math.IsInf(sec, 0) {
		return "–"
	}
	if sec < 1 {
		return strconv.FormatFloat(sec, 'f', 1, 64) + " s"
	}
	return spanOf(int64(math.Round(sec)))
}

// spanOf is fmtDuration of a whole number of seconds.
func spanOf(t int64) string {
	switch {
	case t < 60:
		return strconv.FormatInt(t, 10) + " s"
	case t < 3600:
		if t%60 == 0 {
			return strconv.FormatInt(t/60, 10) + " min"
		}
		return strconv.FormatInt(t/60, 10) + " min " + strconv.FormatInt(t%60, 10) + " s"
	}
	t = (t + 30) / 60 // minutes, rounded
	if t%60 == 0 {
		return strconv.FormatInt(t/60, 10) + " h"
	}
	return strconv.FormatInt(t/60, 10) + " h " + strconv.FormatInt(t%60, 10) + " min"
}

// fmtETA formats an estimated time left in fmtDuration's style, rounded
// up under a minute; negative means unknown. static/js/progress.js's
// formatETA writes the same.
func fmtETA(sec float64) string {
	if sec != sec || sec < 0 || math.IsInf(sec, 0) {
		return "unknown"
	}
	if sec < 60 {
		return spanOf(int64(math.Ceil(sec)))
	}
	return spanOf(int64(math.Round(sec)))
}

// fmtBytes formats a size with binary units.
func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTP"[exp]) + "iB"
}

// fmtTime formats a timestamp in UTC; the zero time reads "never".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// isoTime is the machine-readable form for <time datetime>.
func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// fmtNum formats a value with dec decimals; NaN reads "–". A value that
// rounds to zero reads "0.0", never "-0.0".
func fmtNum(v float64, dec int) string {
	if v != v || math.IsInf(v, 0) {
		return "–"
	}
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if strings.HasPrefix(s, "-") && strings.Trim(s[1:], "0.") == "" {
		s = s[1:]
	}
	return s
}

// fmtCount formats a count: an integer, without decimals.
func fmtCount(v float64) string { return fmtNum(v, 0) }

// fmtRange formats lo to hi with dec decimals, negative values with a true
// minus sign: "−0.2 to 0.2" (a hyphen between two negatives read "-0.2--0.2").
func fmtRange(lo, hi float64, dec int) string {
	minus := func(s string) string {
		if strings.HasPrefix(s, "-") {
			return "−" + s[1:]
		}
		return s
	}
	if lo != lo && hi != hi {
		return "–"
	}
	return minus(fmtNum(lo, dec)) + " to " + minus(fmtNum(hi, dec))
}

// fmtPct formats a fraction 0..1 as a percentage.
func fmtPct(v float64) string {
	if v != v {
		return "–"
	}
	return strconv.FormatFloat(v*100, 'f', 1, 64) + " %"
}

func itoa(v int) string      { return strconv.Itoa(v) }
func i64(v int64) string     { return strconv.FormatInt(v, 10) }
func f3(v float64) string    { return strconv.FormatFloat(v, 'f', 3, 64) }
func fRate(v float64) string { return fmtRate(v) }

// fmtRate formats a sample rate in Hz sensibly rounded: at most two
// decimals from 1 Hz up (360, 62.5, 128), two significant digits below
// (a sample a minute: 0.017).
func fmtRate(v float64) string {
	switch {
	case v != v || math.IsInf(v, 0) || v < 0:
		return "–"
	case v == 0:
		return "0"
	case v >= 1:
		return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
	}
	scale := math.Pow(10, float64(1-int(math.Floor(math.Log10(v))))) // two significant digits
	return strconv.FormatFloat(math.Round(v*scale)/scale, 'f', -1, 64)
}

// sortHref is the link of a sortable column header: clicking the active
// column flips the direction.
func sortHref(p DatasetsPage, col string) string {
	v := url.Values{}
	if p.Query != "" {
		v.Set("q", p.Query)
	}
	v.Set("sort", col)
	if p.Sort == col && !p.Desc {
		v.Set("dir", "desc")
	} else {
		v.Set("dir", "asc")
	}
	return "/datasets?" + v.Encode()
}

// ariaSort is the aria-sort value of a column header.
func ariaSort(p DatasetsPage, col string) string {
	if p.Sort != col {
		return "none"
	}
	if p.Desc {
		return "descending"
	}
	return "ascending"
}

// contains reports whether list holds s.
func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// pct is the share verified for a progress element.
func pct(done, total int) string {
	if total <= 0 {
		return "0"
	}
	return strconv.FormatFloat(100*float64(done)/float64(total), 'f', 0, 64)
}

// TaskForceRange returns the usual adult value of an HRV measure as
// "mean ± SD" from the Task Force of the ESC and NASPE (Circulation 1996;
// 93:1043, table 2: time domain from 24-h recordings, frequency domain from
// 5-min supine recordings), and ok=false when the table has none.
func TaskForceRange(key string) (usual string, ok bool) {
	r, ok := taskForce[strings.ToLower(key)]
	return r, ok
}

var taskForce = map[string]string{
	"sdnn":        "141 ± 39",
	"sdann":       "127 ± 35",
	"rmssd":       "27 ± 12",
	"hrv_ti":      "37 ± 15",
	"total_power": "3466 ± 1018",
	"lf":          "1170 ± 416",
	"hf":          "975 ± 203",
	"lf_nu":       "54 ± 4",
	"hf_nu":       "29 ± 3",
	"lf_hf":       "1.5–2.0",
	"mean_hr":     "60–100",
}

// usual returns the row's usual range, falling back to the Task Force table.
func usual(r HRVRow) string {
	if r.Usual != "" {
		return r.Usual
	}
	if u, ok := TaskForceRange(r.Key); ok {
		return u
	}
	return "–"
}

// Stats aggregates one measure across recordings.
type Stats struct {
	N            int // finite values
	Mean, Median float64
	Q1, Q3       float64 // IQR = Q3 − Q1
	Min, Max     float64
}

// Aggregate computes mean, median and quartiles (linear interpolation
// between order statistics, as R's type 7) over the finite values.
func Aggregate(values []float64) Stats {
	var v []float64
	for _, x := range values {
		if x == x && !math.IsInf(x, 0) {
			v = append(v, x)
		}
	}
	s := Stats{N: len(v)}
	if len(v) == 0 {
		nan := math.NaN()
		s.Mean, s.Median, s.Q1, s.Q3, s.Min, s.Max = nan, nan, nan, nan, nan, nan
		return s
	}
	sort.Float64s(v)
	var sum float64
	for _, x := range v {
		sum += x
	}
	s.Mean = sum / float64(len(v))
	s.Median = quantile(v, 0.5)
	s.Q1 = quantile(v, 0.25)
	s.Q3 = quantile(v, 0.75)
	s.Min, s.Max = v[0], v[len(v)-1]
	return s
}

func quantile(sorted []float64, q float64) float64 {
	h := q * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// valueAt is Values[i] or NaN.
func valueAt(m CohortMetric, i int) float64 {
	if i < len(m.Values) {
		return m.Values[i]
	}
	return math.NaN()
}

// statusClass is the CSS class of a status badge.
func statusClass(status string) string { return "badge status-" + status }

// errorTitle is the heading of an error page.
func errorTitle(status int) string {
	switch status {
	case 400:
		return "This request could not be understood"
	case 401:
		return "Please sign in"
	case 403:
		return "You are not allowed to see this page"
	case 404:
		return "Page not found"
	case 413:
		return "That upload is too large"
	case 429:
		return "Too many requests"
	}
	if status >= 500 {
		return "Something went wrong on our side"
	}
	return "Error"
}

// errorMessage is the default explanation of an error status.
func errorMessage(p ErrorPage) string {
	if p.Message != "" {
		return p.Message
	}
	switch p.Status {
	case 403:
		return "Your account does not have access to this page. If you think it should, ask an administrator."
	case 404:
		return "There is nothing here. The address may be mistyped, or the item was deleted or belongs to someone else."
	case 429:
		return "Please wait a moment and try again."
	}
	if p.Status >= 500 {
		return "The server could not complete the request. Try again; if it keeps happening, tell an administrator and quote the request id."
	}
	return "Please go back and try again."
}

// stripChart builds the chart of a strip view.
func stripChart(s StripView) charts.Strip {
	return charts.Strip{
		From: s.From, To: s.To, Start: s.Start, Rate: s.Rate, Samples: s.Samples,
		Lead: s.Lead, Unit: s.Unit, Detected: s.Detected, Reference: s.Reference, Second: s.Second,
	}
}

// stripURL is the address of a strip window.
func stripURL(id int64, from, to float64) string {
	return "/analyses/" + i64(id) + "/strip?from=" + f3(from) + "&to=" + f3(to)
}

// windowOptions are the strip window widths offered, in seconds.
var windowOptions = []float64{5, 10, 30, 60, 300}

func threadOptions(maxThreads int) []int {
	if maxThreads <= 0 {
		maxThreads = 16
	}
	out := make([]int, maxThreads)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func minLen(n int) int {
	if n <= 0 {
		return 12
	}
	return n
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// resultWindowURL is the result page at another strip window of the same
// width, clamped to the record.
func resultWindowURL(s StripView, from float64) string {
	width := s.To - s.From
	if from > s.DurationSec-width {
		from = s.DurationSec - width
	}
	if from < 0 {
		from = 0
	}
	return "/analyses/" + i64(s.AnalysisID) + "/result?from=" + f3(from) + "&to=" + f3(from+width) + "#strip"
}

// trendChart builds the chart of one vitals trend.
func trendChart(t Trend) charts.LineChart {
	c := charts.LineChart{
		Title:  t.Name + " trend",
		X:      charts.Axis{Label: "Time", Time: true},
		Y:      charts.Axis{Label: t.Name, Unit: t.Unit},
		Series: []charts.Series{{Label: t.Name, Start: t.Start, Step: t.Step, Y: t.Samples}},
	}
	if t.UsualLo < t.UsualHi {
		c.Bands = []charts.Band{{Lo: t.UsualLo, Hi: t.UsualHi, Label: "usual range"}}
	}
	return c
}

func hasCohortHR(p CohortPage) bool {
	for _, r := range p.Recordings {
		if len(r.HR) > 0 {
			return true
		}
	}
	return false
}

func templateAction(id int64) string {
	if id == 0 {
		return "/admin/templates"
	}
	return "/admin/templates/" + i64(id)
}

// ErrorTitle is the page title for an error status, for Layout.
func ErrorTitle(status int) string { return errorTitle(status) }

// plural formats a count with the right noun form.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return itoa(n) + " " + many
}

// analysisLink is where a link to an analysis goes: its result once done,
// its progress page before (the result does not exist yet).
func analysisLink(id int64, status string) string {
	if status == statusDone {
		return "/analyses/" + i64(id) + "/result"
	}
	return "/analyses/" + i64(id)
}

// batchTerminal reports whether every analysis of the batch has finished.
func batchTerminal(p CohortBatchPage) bool {
	for _, a := range p.Progress {
		if !a.Terminal() {
			return false
		}
	}
	return true
}

// problemWhere is where a problem was found, as the message's lead-in:
// "bad.csv, line 3: " (the handler drops the same from the message).
func problemWhere(p Problem) string {
	if p.Line > 0 {
		return p.File + ", line " + itoa(p.Line) + ": "
	}
	return p.File + ": "
}

// Duration is fmtDuration for the server's own sentences, so that a
// length of time reads the same in a message as in a table.
func Duration(sec float64) string { return fmtDuration(sec) }
