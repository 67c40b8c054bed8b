// Package views holds the portal's templ components and the view-model
// structs they render. Handlers build a view model from the store and the
// session; components never touch either, so a page can be tested by
// rendering a struct.
//
// Every element a test or a script looks for carries a data-testid or an id;
// pages load behaviour only from /static/js/*.js modules (the CSP forbids
// inline scripts and inline styles).
package views

import (
	"time"

	"github.com/pulsegrid/pulsegrid"
	"github.com/pulsegrid/pulsegrid/views/charts"
)

// Roles a Nav knows about; an empty role is an anonymous visitor.
const (
	RoleAdmin     = "admin"
	RoleClinician = "clinician"
)

// Nav is what the page chrome needs: who is looking, which section is
// active, and the flash messages to show once.
type Nav struct {
	Role    string // "", RoleClinician or RoleAdmin
	Email   string // shown in the header when signed in
	Active  string // section key: "datasets", "upload", "analyses", "tokens", "donate", "leaderboard", "users", "templates", "grid", "audit"
	Flashes []Flash
	// CSRFToken, when set, is added as a hidden field to every form the
	// layout renders (the logout form). The server relies on
	// http.CrossOriginProtection; the token is optional defence in depth.
	CSRFToken string
	// MustChange hides the navigation: the account must choose a new
	// password before any other page opens, so links would only bounce.
	MustChange bool
}

// Flash is a one-time message.
type Flash struct {
	Kind    string // "info", "success", "warning", "error"
	Message string
}

// LoginPage is the sign-in form.
type LoginPage struct {
	Email     string // echoed back after a failed attempt
	Error     string // e.g. "Wrong email or password." or a throttling notice
	Next      string // path to return to after login (validated by the handler)
	CSRFToken string
}

// ChangePasswordPage is the form to choose a new password; Forced when the
// account is new or was reset and must change it before anything else.
type ChangePasswordPage struct {
	Forced    bool
	Error     string
	MinLength int // shown as a hint and set as minlength; 0 gives 12
	CSRFToken string
}

// DatasetsPage is the list of the user's datasets with search and sort.
type DatasetsPage struct {
	Query string // current search text
	Sort  string // column key: "name", "format", "duration", "channels", "size", "uploaded"
	Desc  bool   // sort descending
	Rows  []DatasetRow
}

// DatasetRow is one dataset in the list.
type DatasetRow struct {
	ID          int64
	Name        string // display name chosen at upload (may be the file stem)
	Format      string // "WFDB", "EDF", "CSV"
	Template    string
	Channels    int
	DurationSec float64
	SizeBytes   int64
	Uploaded    time.Time
	Annotated   bool // reference annotations (.atr) present
	Owner       string
}

// UploadPage is the upload form; Problems lists what was wrong with the
// last attempt (nothing of a rejected upload is stored).
type UploadPage struct {
	Templates []Option
	Template  string // selected template value
	Problems  []Problem
	MaxBytes  int64 // shown as a hint; 0 hides it
	CSRFToken string
}

// Option is one choice of a select.
type Option struct {
	Value, Label string
}

// Problem is one validation problem with where it was found.
type Problem struct {
	File    string // file name as uploaded, may be empty
	Line    int    // 1-based line or record, 0 when not applicable
	Message string
}

// DatasetPage is the detail of one dataset.
type DatasetPage struct {
	ID           int64
	Name         string
	Format       string
	Template     string
	Uploaded     time.Time
	DurationSec  float64
	SizeBytes    int64
	Annotations  int  // number of reference annotations, 0 if none
	TrustedOnly  bool // chunks go to enrolled machines only
	Channels     []ChannelInfo
	Analyses     []AnalysisRow // analyses run on this dataset
	ConfirmError string        // shown when a delete was not confirmed
	CSRFToken    string
}

// ChannelInfo describes one channel and carries a preview of it.
type ChannelInfo struct {
	Name    string
	Unit    string
	Rate    float64 // samples per second
	Samples int64   // number of samples
	Missing int64   // number of missing (NaN) samples
	Min     float64
	Max     float64
	// Preview holds the samples to draw in the preview (for example the
	// first 10 s, or the whole channel: the chart decimates to its width).
	Preview []float64
}

// AlgorithmOption is an algorithm the user can start.
type AlgorithmOption struct {
	Name          string // "ecg.beats@1"
	Description   string
	DefaultParams string // JSON
}

// AnalysisNewPage is the form to start analyses: every chosen algorithm on
// every chosen dataset.
type AnalysisNewPage struct {
	Algorithms []AlgorithmOption
	Datasets   []Option // value = dataset id
	Selected   []string // preselected dataset ids (from a dataset page)
	Chosen     []string // preselected algorithm names
	Params     string   // JSON object, may be empty
	Priority   string   // one of pulsegrid.Priorities; empty gives defaultPriority
	Problems   []Problem
	CSRFToken  string
	// Fits says, for each dataset (in Datasets' order) and algorithm (in
	// Algorithms' order), "" when the algorithm can run on it with its
	// default parameters, else why not ("no ECG channel found…").
	Fits [][]string
}

// Priorities in the order the form lists them: every one of
// pulsegrid.Priorities, least urgent first (TestPrioritiesAreTheDomains).
var Priorities = []Option{{pulsegrid.PriorityRoutine, "Routine"}, {pulsegrid.PriorityUrgent, "Urgent"}, {pulsegrid.PriorityStat, "STAT"}}

// defaultPriority is the priority an analysis gets when none is chosen.
const defaultPriority = pulsegrid.PriorityRoutine

// statusDone is the status of an analysis with a result.
const statusDone = pulsegrid.StatusDone

// AnalysesPage lists the user's analyses.
type AnalysesPage struct {
	Rows []AnalysisRow
}

// AnalysisRow is one analysis in a list.
type AnalysisRow struct {
	ID             int64
	Algorithm      string
	DatasetID      int64
	DatasetName    string
	Status         string // one of pulsegrid.Statuses
	Priority       string
	ChunksVerified int
	ChunksTotal    int
	Created        time.Time
	BatchID        int64 // non-zero when started together with others (cohort)
}

// AnalysisPage is the live progress of one analysis; progress.js polls
// GET /api/v1/analyses/{ID} and updates the elements in place.
type AnalysisPage struct {
	ID                int64
	Algorithm         string
	DatasetID         int64
	DatasetName       string
	Status            string
	Priority          string
	ChunksVerified    int
	ChunksTotal       int
	ChunksQueued      int // waiting for any volunteer
	ChunksRunning     int // leased now
	ChunksAwaiting    int // one result or more, waiting for a second opinion
	VolunteersWorking int
	// VolunteersConnected could run this analysis (its algorithm, its
	// dataset's trust rule), working on it or not.
	VolunteersConnected int
	Quorum              int     // agreeing results from distinct volunteers that settle a chunk
	ETASeconds          float64 // < 0 when unknown
	// WaitingFor says what blocks the analysis: "", "volunteers" (none
	// connected) or "second_opinion" (no connected volunteer may give the
	// next result of chunks that have one). The page explains both.
	WaitingFor string
	// Stored says the figures are the database's (a replica that does not
	// run the grid): the chunk states and volunteers are then unknown.
	Stored    bool
	Created   time.Time
	Finished  time.Time // zero while running
	Error     string    // reason when failed
	BatchID   int64
	CSRFToken string
}

// Terminal reports whether the analysis will not change any more.
func (a AnalysisPage) Terminal() bool { return pulsegrid.Finished(a.Status) }

// ResultPage shows the result of one analysis. Sections are optional: the
// handler fills those the algorithm produced.
type ResultPage struct {
	AnalysisID  int64
	Algorithm   string
	DatasetID   int64
	DatasetName string
	DurationSec float64
	Beats       *BeatsResult
	HRV         *HRVResult
	Vitals      *VitalsResult
	Alarms      *AlarmsResult
	Downloads   Downloads
}

// BeatsResult is the ECG beat detection result.
type BeatsResult struct {
	Count     int
	MeanHR    float64 // bpm, NaN if unknown
	Strip     StripView
	HRTimes   []float64 // seconds; heart-rate trend
	HR        []float64 // bpm, NaN for gaps
	RRTimes   []float64 // seconds of the second beat of each interval
	RRMs      []float64 // ms; NaN where an interval is excluded
	Reference *BeatScore
}

// BeatScore compares detections with reference annotations (150 ms window).
type BeatScore struct {
	Reference      int
	TruePositives  int
	FalsePositives int
	FalseNegatives int
	Sensitivity    float64 // 0..1
	PPV            float64 // 0..1
}

// StripView is the ECG strip window; it is also the whole model of the
// fragment GET /analyses/{id}/strip?from=S&to=S returns (StripFragment).
type StripView struct {
	AnalysisID  int64
	From, To    float64 // seconds
	DurationSec float64 // of the whole record: bounds the range control
	Lead        string
	Unit        string
	Rate        float64
	Start       float64 // time of Samples[0]
	Samples     []float64
	Detected    []charts.Mark
	Reference   []charts.Mark
	// Second is the record's other lead over the window, when it has one
	// at the same rate and length.
	Second *charts.StripLead
	// Seek are the report's buttons to the previous and next event and
	// beat of a class (Holter report only), LightWAVE-style.
	Seek []StripSeek
}

// StripSeek is one seek button of the strip: Href is the report with
// seek=What&dir=Dir and the current from/to, which strip.js keeps current.
type StripSeek struct {
	Label, Title string
	What, Dir    string
	Href         string
}

// StripSeekID is the element id (and data-testid) of the seek button to
// what in direction dir: the fragment the seek redirect ends in, so the
// browser puts the focus back on the button pressed.
func StripSeekID(dir, what string) string { return "strip-seek-" + dir + "-" + what }

// ID is the button's element id.
func (k StripSeek) ID() string { return StripSeekID(k.Dir, k.What) }

// HRVResult is the HRV table.
type HRVResult struct {
	Rows []HRVRow
	// NotComputable, when set, says why the frequency-domain rows (those
	// with NotComputable set) have no value.
	NotComputable string
}

// HRVRow is one HRV measure. If Usual is empty, the table fills it from
// TaskForceRange(Key).
type HRVRow struct {
	Key   string // "sdnn", "rmssd", "pnn50", "lf", "hf", "lf_hf", …
	Name  string // "SDNN"
	Value float64
	Unit  string
	Usual string // "141 ± 39"
	// NotComputable marks a measure the data cannot give (its Value is
	// NaN); HRVResult.NotComputable says why.
	NotComputable bool
}

// VitalsResult is the vitals summary and trends.
type VitalsResult struct {
	Rows   []VitalsRow
	Trends []Trend
	// Exclusions say, per channel that had any, how many samples were
	// excluded as implausible and why ("SpO2: 363 samples excluded: 363
	// sensor off (0)").
	Exclusions []string
}

// VitalsRow summarises one vital-sign channel.
type VitalsRow struct {
	Channel    string
	Unit       string
	Mean       float64
	Median     float64
	Min, Max   float64
	P5, P95    float64
	MissingPct float64
	// Excluded is the samples excluded as implausible; ExcludedWhy says
	// how many for which reason, "" when none.
	Excluded    int64
	ExcludedWhy string
}

// Trend is one channel's series for a trend chart.
type Trend struct {
	Name    string
	Unit    string
	Start   float64 // seconds of the first sample
	Step    float64 // seconds between samples
	Samples []float64
	// UsualLo < UsualHi shades the usual range.
	UsualLo, UsualHi float64
}

// AlarmsResult is the alarm episodes.
type AlarmsResult struct {
	Episodes []charts.Episode // Href may point to the strip
	// Exclusions say, per watched channel that had any, how many samples
	// the rules treated as missing because they were implausible, and why.
	Exclusions []string
}

// Downloads are export links; empty ones are not shown.
type Downloads struct {
	CSV, JSON, WFDB string
}

// CohortPage compares the recordings of a batch side by side.
type CohortPage struct {
	BatchID    int64
	Algorithm  string
	Recordings []CohortRecording
	Metrics    []CohortMetric
}

// CohortRecording is one column of the cohort view.
type CohortRecording struct {
	DatasetName string
	AnalysisID  int64
	Status      string
	HR          []float64 // optional heart-rate trend for a sparkline
}

// CohortMetric is one row: a measure across the recordings, in the order of
// CohortPage.Recordings (NaN when a recording has none).
type CohortMetric struct {
	Name   string
	Unit   string
	Values []float64
	// Count shows the values as integers (beats, episodes); the
	// aggregates keep one decimal.
	Count bool
}

// CohortBatchPage is the cohort view of a batch: a section per algorithm
// started together (or only the one the page is narrowed to), each with the
// recordings side by side and their mean, median and IQR.
type CohortBatchPage struct {
	BatchID int64
	// Algorithms lists every algorithm of the batch in the order started,
	// for the links that narrow the page to one of them.
	Algorithms []string
	// Only is the algorithm the page is narrowed to; empty shows them all.
	Only     string
	Sections []CohortSection
	// CSV downloads the cohort table of the sections shown; empty hides it.
	CSV string
	// Progress lists every analysis of the batch in the order started, with
	// its chunks; static/js/batch.js keeps the unfinished ones current.
	Progress []BatchAnalysis
	// Quorum is the grid's, for the hint of analyses that wait for a
	// second opinion.
	Quorum int
}

// BatchAnalysis is one analysis of a batch on the batch page, with the
// figures of the progress JSON (GET /api/v1/analyses/{id}) that batch.js
// then keeps current.
type BatchAnalysis struct {
	ID             int64
	Algorithm      string
	DatasetID      int64
	DatasetName    string
	Status         string
	ChunksVerified int
	ChunksTotal    int
	// ChunksQueued wait for any volunteer, ChunksRunning are leased now,
	// ChunksAwaiting wait for a second opinion.
	ChunksQueued, ChunksRunning, ChunksAwaiting int
	// WaitingFor is progress.waiting_for: "", "volunteers" or "second_opinion".
	WaitingFor string
	// ETASeconds is the time left, negative when unknown.
	ETASeconds float64
	// Stored: the figures are the database's (a replica that does not run
	// the grid), which counts verified chunks only.
	Stored bool
}

// Terminal reports whether the analysis will not change any more.
func (a BatchAnalysis) Terminal() bool { return pulsegrid.Finished(a.Status) }

// CohortSection is one algorithm's comparison in a CohortBatchPage.
type CohortSection struct {
	CohortPage
	Title string // the algorithm's title, e.g. "ECG beat detection"
	// Problem, when set, says why the section's figures cannot be shown
	// (the rest of the page still can).
	Problem string
}

// DonatePage is the volunteer page. donate.js does the work.
type DonatePage struct {
	MaxThreads int // options offered in the threads select; 0 gives 16
	// Quorum is how many equal results from different volunteers settle a
	// chunk; the page explains why a result may wait for a second opinion.
	Quorum int
	// Queued, Running and Awaiting count the chunks of every running
	// analysis when the page was made: waiting for a volunteer, leased
	// now, and computed but waiting for a second opinion.
	Queued, Running, Awaiting int
	// Stored: the page was made by a replica that does not run the grid,
	// which knows only how many chunks are not yet verified (Unverified).
	Stored     bool
	Unverified int
	// Teams are the names of the teams with credit, most first: the team
	// field offers them, so that joining one is picking its exact name.
	Teams []string
}

// LeaderboardPage is the public list of volunteers by credit.
type LeaderboardPage struct {
	Rows    []LeaderRow
	Teams   []TeamRow
	Updated time.Time
}

// LeaderRow is one volunteer on the leaderboard (also the JSON of GET
// /api/v1/leaderboard).
type LeaderRow struct {
	Rank       int     `json:"rank"`
	Nickname   string  `json:"nickname"` // "anonymous" when empty
	Team       string  `json:"team"`     // empty: none
	Chunks     int64   `json:"chunks"`
	Verified   int64   `json:"verified"`
	CPUSeconds float64 `json:"cpu_seconds"`
	Credit     float64 `json:"credit"`
}

// TeamRow is one team on the leaderboard: its members' figures summed.
type TeamRow struct {
	Rank       int     `json:"rank"`
	Name       string  `json:"name"`
	Members    int64   `json:"members"`
	Chunks     int64   `json:"chunks"`
	Verified   int64   `json:"verified"`
	CPUSeconds float64 `json:"cpu_seconds"`
	Credit     float64 `json:"credit"`
}

// UsersPage is the admin's account list.
type UsersPage struct {
	Users []UserRow
	// OneTimePassword is shown once after a create or reset, for OneTimeFor.
	OneTimePassword string
	OneTimeFor      string
	Problems        []Problem
	CSRFToken       string
}

// UserRow is one account.
type UserRow struct {
	ID         int64
	Email      string
	Role       string
	Disabled   bool
	MustChange bool
	Created    time.Time
	LastLogin  time.Time // zero if never
}

// TokensPage lists the user's API tokens.
type TokensPage struct {
	Tokens []TokenRow
	// NewToken is the secret of a token just created, shown once.
	NewToken     string
	NewTokenName string
	Problems     []Problem
	CSRFToken    string
}

// TokenRow is one API token (never the secret).
type TokenRow struct {
	ID       int64
	Name     string
	Prefix   string // first characters, to recognise it
	Created  time.Time
	LastUsed time.Time // zero if never
}

// TemplatesPage lists the ingest templates: the built-in ones (read-only)
// and the custom ones.
type TemplatesPage struct {
	Builtins  []BuiltinTemplate
	Templates []TemplateRow
}

// BuiltinTemplate is a shipped template and what it checks.
type BuiltinTemplate struct {
	Name, Title, Description string
	Channels                 []ChannelCheck
	// Duplicates and Extra are the template's policies for repeated times
	// in a CSV log ("drop", "reject") and unmatched channels ("keep", "drop", "reject").
	Duplicates, Extra string
}

// ChannelCheck is one channel rule of a template.
type ChannelCheck struct {
	Role       string
	Aliases    []string
	Unit       string
	Min, Max   *float64
	OutOfRange string // "missing", "reject" or "keep"
	MinRate    float64
	Required   bool
}

// TemplateRow is one ingest template.
type TemplateRow struct {
	ID          int64
	Name        string
	Description string
	Updated     time.Time
}

// TemplateEditPage edits (or creates, ID 0) a template as JSON.
type TemplateEditPage struct {
	ID        int64
	Name      string
	JSON      string
	Problems  []Problem
	CSRFToken string
}

// GridPage is the grid status for admins.
type GridPage struct {
	VolunteersOnline int
	// SlotsOnline is the chunks being computed now (leases held).
	SlotsOnline int
	// VerifiedPerMinute is the chunks verified over the last 60 s.
	VerifiedPerMinute float64
	Queue             []QueueRow
	FailedChunks      int
	Failures          []FailureRow
	Nodes             []NodeRow
	Updated           time.Time
}

// QueueRow is the work of one priority in the analyses not yet finished:
// how many analyses, their chunks verified and their chunks still to verify
// (waiting or being computed).
type QueueRow struct {
	Priority string
	Analyses int
	Pending  int
	Verified int
}

// FailureRow is one failed chunk.
type FailureRow struct {
	AnalysisID int64
	Chunk      int // < 0 when not known (the reason may name it)
	Reason     string
	When       time.Time
}

// NodeRow is the statistics of one volunteer node, as the original brief
// lists them.
type NodeRow struct {
	ID            string // short anonymous id
	Nickname      string
	Kind          string // "browser", "native", "local", or "volunteer" for another agent
	Online        bool
	Requests      int64 // requests for work received from the node (one per slot it asks to fill)
	Leased        int64 // chunks leased to the node (the requests served)
	Accepted      int64 // results accepted by quorum
	Completed     int64 // results returned
	Failed        int64 // errors, timeouts, mismatches
	AvgCompletion time.Duration
	Reputation    float64
	LastSeen      time.Time
}

// AuditPage is the audit log.
type AuditPage struct {
	Entries  []AuditRow
	Query    string // filter: text in any field
	Actor    string // filter: the actor's email or name contains it
	Action   string // filter: the action, or a prefix ending in "."
	From, To string // filter: dates YYYY-MM-DD, both included
	Actions  []string
	Problem  string // a filter that could not be read
	// ExportURL downloads the filtered entries as CSV.
	ExportURL string
	PrevPage  string // URLs; empty hides the link
	NextPage  string
}

// AuditRow is one audit entry.
type AuditRow struct {
	When    time.Time
	Actor   string
	Action  string // "view", "export", "delete", "login", …
	Object  string // e.g. "dataset 12"
	Detail  string
	Addr    string
	Outcome string // ok, failed, refused, throttled
}

// ErrorPage is a human error page.
type ErrorPage struct {
	Status    int // 403, 404, 500, …
	Message   string
	RequestID string
}

// Live shows n, one of the grid's live figures, or "–" when this replica
// does not know it (Stored).
func (p AnalysisPage) Live(n int) string {
	if p.Stored && !p.Terminal() {
		return "–"
	}
	return itoa(n)
}
