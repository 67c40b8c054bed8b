// Package store keeps pulsegrid's durable state: accounts, API tokens,
// datasets (the de-identified signal apart from the identity), analyses,
// verified chunk outputs, results, volunteers and the audit log.
//
// Store is the interface the server and the grid use; SQLite implements it
// here (the embedded default), store/postgres on PostgreSQL. It is kept
// narrow (whole-object reads and writes, no query builder); store/storetest
// is the conformance suite both pass.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/pulsegrid/pulsegrid"
	"github.com/pulsegrid/pulsegrid/algorithms/signal"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a row would violate a uniqueness rule.
var ErrConflict = errors.New("already exists")

// Roles of users.
const (
	RoleAdmin     = "admin"
	RoleClinician = "clinician"
	RoleVolunteer = "volunteer" // an enrolled volunteer machine: may run trusted-only work, may not use the API
)

// Analysis statuses: the domain's (vocabulary.go at the module root).
const (
	StatusQueued    = pulsegrid.StatusQueued
	StatusRunning   = pulsegrid.StatusRunning
	StatusDone      = pulsegrid.StatusDone
	StatusFailed    = pulsegrid.StatusFailed
	StatusCancelled = pulsegrid.StatusCancelled
)

// Analysis priorities: the domain's.
const (
	PriorityStat    = pulsegrid.PriorityStat
	PriorityUrgent  = pulsegrid.PriorityUrgent
	PriorityRoutine = pulsegrid.PriorityRoutine
)

// Priorities of analyses, most urgent first.
var Priorities = pulsegrid.Priorities

// ValidPriority reports whether p is a known priority.
func ValidPriority(p string) bool { return pulsegrid.ValidPriority(p) }

// PriorityChoices lists the priorities for a message: "routine, urgent or stat".
func PriorityChoices() string { return pulsegrid.PriorityChoices() }

// User is a person or an enrolled volunteer machine.
type User struct {
	ID           int64     `json:"id"`
	Email        string    `json:"email"`
	Role         string    `json:"role"`
	Disabled     bool      `json:"disabled"`
	MustChange   bool      `json:"must_change_password"`
	CreatedAt    time.Time `json:"created_at"`
	PasswordHash string    `json:"-"`
	// SessionEpoch is copied into a session at login; UpdateCredentials
	// increments it, which ends every session opened before.
	SessionEpoch int64 `json:"-"`
	// PasswordExpires is when a one-time password stops working (zero for
	// a password the user chose).
	PasswordExpires time.Time `json:"-"`
}

// ChannelInfo describes one channel of a dataset without its samples.
type ChannelInfo struct {
	Name    string  `json:"name"`
	Unit    string  `json:"unit"`
	Rate    float64 `json:"rate"`
	Samples int     `json:"samples"`
	// Gain is ADC units per physical unit as the file gave it (0: none);
	// the store keeps samples as those integers where they are exact.
	Gain float64 `json:"gain,omitempty"`
}

// Channel is the channel as a signal.Channel, without its samples.
func (c ChannelInfo) Channel() signal.Channel {
	return signal.Channel{Name: c.Name, Unit: c.Unit, Rate: c.Rate, Gain: c.Gain}
}

// Dataset is an uploaded recording's metadata.
type Dataset struct {
	ID          int64         `json:"id"`
	OwnerID     int64         `json:"owner_id"`
	Name        string        `json:"name"`
	TrustedOnly bool          `json:"trusted_only"`
	Channels    []ChannelInfo `json:"channels"`
	Duration    float64       `json:"duration_seconds"`
	CreatedAt   time.Time     `json:"created_at"`
}

// Analysis is one run of an algorithm on a dataset.
type Analysis struct {
	ID             int64           `json:"id"`
	DatasetID      int64           `json:"dataset_id"`
	OwnerID        int64           `json:"owner_id"`
	Algorithm      string          `json:"algorithm"`
	Params         json.RawMessage `json:"params"`
	Priority       string          `json:"priority"`
	Status         string          `json:"status"`
	Error          string          `json:"error,omitempty"`
	ChunksTotal    int             `json:"chunks_total"`
	ChunksVerified int             `json:"chunks_verified"`
	Summary        string          `json:"summary,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	FinishedAt     time.Time       `json:"finished_at,omitzero"`
	// Revision counts how often the analysis was reopened because a
	// volunteer that contributed to it was caught returning a wrong output
	// (0: never); a done analysis with a revision was merged again.
	Revision int `json:"revision,omitempty"`
}

// Finished reports whether the analysis reached a final status.
func (a *Analysis) Finished() bool {
	return pulsegrid.Finished(a.Status)
}

// ChunkOutput is a verified chunk output. Outputs are kept after the
// analysis finished, so that it can be merged again when a voter is caught.
type ChunkOutput struct {
	AnalysisID int64
	Index      int
	Digest     string
	Output     []byte
	Replicas   int      // results that agreed (1 when accepted on trust)
	Voters     []string // volunteer ids whose results were accepted (none for trusted workers)
}

// Volunteer is a volunteer identity and its standing.
type Volunteer struct {
	ID string
	// PublicKey is the Ed25519 key the volunteer signs its hellos with
	// (protocol.IdentityID(PublicKey) == ID).
	PublicKey  string
	UserID     int64 // the enrolling account, 0 for anonymous volunteers
	Agent      string
	Reputation int64 // consecutive validated results
	Validated  int64
	Rejected   int64
	CreatedAt  time.Time
	LastSeen   time.Time
	// BannedUntil: caught returning a wrong output, it gets no work until then.
	BannedUntil time.Time

	// Nickname is the public name from the volunteer's last hello
	// (protocol.CleanNickname); empty for anonymous volunteers.
	Nickname string
	// Team is the team named in the volunteer's last hello
	// (protocol.CleanTeam); empty: no team.
	Team string
	// Requests counts leases asked for; Issued, leases handed out.
	Requests, Issued int64
	// Results counts results returned for leases held; Failed, errors
	// reported plus leases that expired.
	Results, Failed int64
	// CPUMicros is the CPU time (µs) reported with results, each capped by
	// its lease's wall time; CreditMicros the part of it for verified
	// results, which is the volunteer's credit.
	CPUMicros, CreditMicros int64
	// CompletionMicros sums lease issued → result (µs) over Results.
	CompletionMicros int64
}

// AvgCompletion is the mean time from lease to result.
func (v *Volunteer) AvgCompletion() time.Duration {
	if v.Results == 0 {
		return 0
	}
	return time.Duration(v.CompletionMicros/v.Results) * time.Microsecond
}

// Credit is the volunteer's credit: CPU seconds of verified results.
func (v *Volunteer) Credit() float64 { return float64(v.CreditMicros) / 1e6 }

// TeamStanding is one team of the leaderboard: the sums over the
// volunteers whose last hello named it.
type TeamStanding struct {
	Name                    string
	Members                 int64 // volunteers in the team
	Results, Validated      int64
	CPUMicros, CreditMicros int64
}

// Credit is the team's credit: CPU seconds of its members' verified results.
func (t *TeamStanding) Credit() float64 { return float64(t.CreditMicros) / 1e6 }

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	At     time.Time `json:"at"`
	UserID int64     `json:"user_id"`
	// Actor names who acted when there is no account to point at: "cli:NAME"
	// for the command line, the email tried for a login to an unknown
	// account. Empty for an account's own actions.
	Actor  string `json:"actor,omitempty"`
	Action string `json:"action"` // e.g. "dataset.delete", "analysis.export"
	Object string `json:"object"` // the target, e.g. "dataset/5"
	Detail string `json:"detail,omitempty"`
	// Address is the client's address (Audit takes it from the context
	// when empty, see WithAuditAddress); "local" for the command line.
	Address string `json:"address,omitempty"`
	// Outcome is OutcomeOK when empty.
	Outcome string `json:"outcome"`
}

// Outcomes of audited actions.
const (
	OutcomeOK        = "ok"
	OutcomeFailed    = "failed"    // wrong credentials
	OutcomeRefused   = "refused"   // not allowed: disabled account, someone else's data
	OutcomeThrottled = "throttled" // too many attempts
)

type auditAddrKey struct{}

// WithAuditAddress returns ctx carrying the client address that Audit
// records for entries without one, so that every entry written while
// serving a request names where it came from.
func WithAuditAddress(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, auditAddrKey{}, addr)
}

// AuditAddress is the address WithAuditAddress put in ctx, or "".
func AuditAddress(ctx context.Context) string {
	a, _ := ctx.Value(auditAddrKey{}).(string)
	return a
}

// GridWrite is one change the grid makes in a batch: a verified chunk
// output, a withdrawn one (its volunteer lost trust), a result that waits
// for more, or the pending results of a caught volunteer dropped.
type GridWrite struct {
	Verify   *ChunkOutput // store this verified output (and drop the chunk's pending results)
	Withdraw *ChunkRef    // forget this chunk's output and pending results: it must be verified again
	// Pend keeps a result that waits for more before its chunk can be
	// verified; it is dropped when the analysis is no longer unfinished,
	// and when the volunteer already has one for the chunk.
	Pend *PendingResult
	// Discard drops every pending result of this volunteer id (caught).
	Discard string
}

// PendingResult is one volunteer's result for a chunk that is not
// verified yet, kept so that a leader that takes over counts it instead
// of asking for it again. It stays what it was on the leader that
// received it: one identity's vote from one network, for one payload.
type PendingResult struct {
	AnalysisID int64
	Index      int
	Task       string // digest of the chunk's payload it answers
	Volunteer  string // volunteer id: one result per identity per chunk
	Network    string // the network prefix it came from
	Digest     string // output digest, or the grid's stand-in for an error
	Output     []byte
}

// ChunkRef names a chunk of an analysis.
type ChunkRef struct {
	AnalysisID int64
	Index      int
}

// Store is pulsegrid's durable state.
type Store interface {
	// PortalStore is the portal's part (store/portal.go).
	PortalStore
	// SessionStore keeps the portal's sessions (store/sessions.go).
	SessionStore

	// CreateUser adds a user; ErrConflict if the email is taken.
	CreateUser(ctx context.Context, u User) (User, error)
	// User returns a user by id.
	User(ctx context.Context, id int64) (User, error)
	// UserByEmail returns a user by email (case-insensitive).
	UserByEmail(ctx context.Context, email string) (User, error)
	// UpdateUser saves role, disabled, must-change and password hash.
	UpdateUser(ctx context.Context, u User) error
	// CountUsers counts accounts, to know whether this is the first start.
	CountUsers(ctx context.Context) (int, error)
	// CreateToken stores a token hash for a user.
	CreateToken(ctx context.Context, userID int64, hash, name string) error
	// UserByToken returns the enabled user owning a token hash.
	UserByToken(ctx context.Context, hash string) (User, error)
	// DeleteTokens revokes every token of a user.
	DeleteTokens(ctx context.Context, userID int64) error
	// UpdateCredentials saves u as UpdateUser does and, in the same
	// transaction, ends every session of the account and deletes every API
	// token it has: the one path for disable, enable, reset and a password
	// change, from the portal and the CLI alike. It returns u with its new
	// SessionEpoch.
	UpdateCredentials(ctx context.Context, u User) (User, error)

	// CreateDataset stores a dataset's metadata, signal and identity, all or
	// nothing; it returns the dataset with its id.
	CreateDataset(ctx context.Context, d Dataset, rec *signal.Recording) (Dataset, error)
	// BeginDataset starts storing a dataset whose samples are still being
	// read (store/segments.go); channels' samples are ignored.
	BeginDataset(ctx context.Context, d Dataset, channels []signal.Channel) (DatasetWriter, error)
	// PublishDatasets makes committed datasets visible, all in one
	// transaction.
	PublishDatasets(ctx context.Context, ids []int64) error
	// Dataset returns a dataset's metadata.
	Dataset(ctx context.Context, id int64) (Dataset, error)
	// DatasetSignal returns a dataset's de-identified samples.
	DatasetSignal(ctx context.Context, id int64) (*signal.Signal, error)
	// DatasetSamples returns samples [from, to) of one channel (clamped to
	// the channel), reading only the segments that hold them.
	DatasetSamples(ctx context.Context, id int64, channel int, from, to int64) ([]float64, error)
	// DatasetSummaries returns one channel's summary per SummaryBlock
	// samples, for previews and trends of a whole recording.
	DatasetSummaries(ctx context.Context, id int64, channel int) ([]BlockSummary, error)
	// DatasetIdentity returns what identifies the dataset's patient, the
	// reference annotations and their sample rate.
	DatasetIdentity(ctx context.Context, id int64) (signal.Identity, []signal.Annotation, float64, error)
	// Datasets lists a user's datasets, newest first (ownerID 0: everyone's).
	Datasets(ctx context.Context, ownerID int64) ([]Dataset, error)
	// DeleteDataset removes a dataset and everything derived from it.
	DeleteDataset(ctx context.Context, id int64) error

	// CreateAnalysis stores a new analysis and returns it with its id.
	CreateAnalysis(ctx context.Context, a Analysis) (Analysis, error)
	// Analysis returns an analysis.
	Analysis(ctx context.Context, id int64) (Analysis, error)
	// Analyses lists a user's analyses, newest first (ownerID 0: everyone's).
	Analyses(ctx context.Context, ownerID int64) ([]Analysis, error)
	// UnfinishedAnalyses lists queued and running analyses, oldest first.
	UnfinishedAnalyses(ctx context.Context) ([]Analysis, error)
	// SetAnalysisStatus sets status, error text and chunk total. A final
	// status drops the pending results, and the chunk outputs unless done.
	SetAnalysisStatus(ctx context.Context, id int64, status, errText string, chunksTotal int) error
	// CancelAnalysis marks a queued or running analysis cancelled with
	// reason, dropping its chunk outputs and pending results, in one
	// statement that never overwrites a final status: an analysis already
	// done, failed or cancelled gives ErrConflict (its status in the
	// message), a missing one ErrNotFound. A replica that does not run the
	// grid cancels through it while the leader may be merging.
	CancelAnalysis(ctx context.Context, id int64, reason string) error
	// ApplyGridWrites applies a batch of grid changes in one transaction and
	// keeps analyses.chunks_verified in step.
	ApplyGridWrites(ctx context.Context, ws []GridWrite) error
	// ChunkOutputs returns the verified chunk outputs of an analysis.
	ChunkOutputs(ctx context.Context, analysisID int64) ([]ChunkOutput, error)
	// PendingResults returns the pending results of an unfinished
	// analysis, by chunk, oldest first.
	PendingResults(ctx context.Context, analysisID int64) ([]PendingResult, error)
	// FinishAnalysis stores the merged result and marks the analysis done
	// (revised: merged again after a reopen), in one transaction. digests
	// are the chunk outputs merged, in chunk order: it is ErrConflict when
	// the stored ones differ (one was withdrawn or replaced meanwhile).
	FinishAnalysis(ctx context.Context, id int64, result []byte, summary string, revised bool, digests []string) error
	// AnalysisResult returns the merged result JSON.
	AnalysisResult(ctx context.Context, id int64) ([]byte, error)
	// DeleteAnalysis removes an analysis and everything derived from it.
	DeleteAnalysis(ctx context.Context, id int64) error

	// TrustStore is the grid's part for caught volunteers (store/trust.go).
	TrustStore
	// ThrottleStore keeps the guessing throttles every server on the
	// database shares (store/throttle.go).
	ThrottleStore
	// CorrectionStore keeps Holter report corrections (store/corrections.go).
	CorrectionStore
	// HistoryStore keeps the grid's last hour (store/history.go).
	HistoryStore

	// Volunteer returns a volunteer identity.
	Volunteer(ctx context.Context, id string) (Volunteer, error)
	// SaveVolunteers inserts or updates volunteer identities.
	SaveVolunteers(ctx context.Context, vs []Volunteer) error
	// Leaderboard returns the volunteers with credit, most credit first, at
	// most limit.
	Leaderboard(ctx context.Context, limit int) ([]Volunteer, error)
	// TeamLeaderboard returns the teams with credit (summed over their
	// members), most credit first, at most limit.
	TeamLeaderboard(ctx context.Context, limit int) ([]TeamStanding, error)

	// Audit appends to the audit log.
	Audit(ctx context.Context, e AuditEntry) error
	// AuditLog returns the newest entries first, at most limit.
	AuditLog(ctx context.Context, limit int) ([]AuditEntry, error)

	// Backup writes a consistent copy of the database to path.
	Backup(ctx context.Context, path string) error
	// Close releases the database.
	Close() error
}
