package grid

import (
	"log/slog"
	mrand "math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config tunes the grid. Zero values take the defaults noted; the trust
// parameters and what they guarantee are in docs/security.md.
type Config struct {
	// Quorum is how many results from distinct networks must agree (2).
	Quorum int
	// MaxReplicas caps the results gathered for one chunk before it fails
	// for want of agreement (Quorum+3).
	MaxReplicas int
	// EstablishAfter is the standing (agreements confirmed by a trusted or
	// established party, or on known-answer chunks) from which a volunteer
	// counts as established: every accepted output needs one established
	// volunteer or trusted worker among its voters (3).
	EstablishAfter int
	// TrustAfter is the standing from which a volunteer's result may settle
	// a chunk alone, with spot checks (20).
	TrustAfter int
	// SpotCheck is the least probability that trusted work is replicated
	// anyway (0.05); it starts higher and falls with standing (trust.go).
	// For SpotCheck, AuditRate and RingerRate a negative value means never.
	SpotCheck float64
	// AuditRate is the probability that the server recomputes a chunk
	// accepted without a trusted worker's vote (0.02).
	AuditRate float64
	// RingerRate is the probability that a lease is a known-answer chunk
	// for a volunteer that is not yet trusted (0.1); trusted ones get a
	// quarter of it.
	RingerRate float64
	// Auditors is how many in-process workers recompute chunks for the
	// server (1; negative: none); they settle chunks nobody established can
	// vouch for and check a random sample of accepted ones.
	Auditors int
	// BanFor is how long a volunteer caught returning a wrong output, and
	// its network, get no work (1h for the identity, doubling with each
	// catch; a quarter of it for the network).
	BanFor time.Duration
	// AckTimeout is how long a lease may wait for its ack (5s).
	AckTimeout time.Duration
	// Heartbeat is how often a volunteer reports progress while running (5s);
	// a lease without a heartbeat for 3 of them expires. Progress never
	// moves a lease's deadline.
	Heartbeat time.Duration
	// MinLease and MaxLease clamp a lease's deadline (30s, 10m).
	MinLease, MaxLease time.Duration
	// AllowSameNetwork lets agreeing results come from one network prefix
	// (a demo on one machine, or a hospital whose volunteers share one
	// NAT): only distinct identities are then required.
	AllowSameNetwork bool
	// IPv4Prefix and IPv6Prefix are the network sizes whose members count
	// as one for quorums, bans and connection caps (24, 64).
	IPv4Prefix, IPv6Prefix int
	// MaxConnections caps volunteer connections in all (0: no cap; serve
	// sets it below the file-descriptor limit). PerNetworkConnections and
	// PerIdentityConnections cap them per network prefix and per identity
	// (256, 64).
	MaxConnections, PerNetworkConnections, PerIdentityConnections int
	// MaxUnacked caps leases awaiting their ack per identity (16) and four
	// times that per network.
	MaxUnacked int
	// ChunkSeconds overrides the algorithms' chunk length (0: their default).
	ChunkSeconds float64
	// FlushInterval is the longest a verified chunk waits for its batched write (10ms).
	FlushInterval time.Duration
	// PendingDelay is how long a result that waits for a quorum stays in
	// memory only before it is written for a takeover (1s; pending.go):
	// most first replicas get their second within it and are never
	// written. A leader killed loses at most that much of them.
	PendingDelay time.Duration
	// ReplicaPatience is how long a chunk with a result waits for a second
	// opinion that no connected volunteer can give (they all computed it,
	// or share its network) before the auditors are asked for it
	// (starve.go): 30s; negative, never.
	ReplicaPatience time.Duration
	// SpillDir, if set, is where payloads of SpillBytes or more wait for
	// their leases, instead of the heap (payload.go).
	SpillDir string
	// SpillBytes is the smallest payload spilled (64 KiB).
	SpillBytes int
	// Logger receives the grid's log; nil discards it.
	Logger *slog.Logger
	// Metrics registers the grid's series; nil registers none.
	Metrics prometheus.Registerer
	// Now is the clock (time.Now); tests may replace it.
	Now func() time.Time
	// Rand draws spot checks, audits and known-answer leases, uniform in
	// [0, 1) (math/rand/v2); tests may replace it.
	Rand func() float64
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Quorum, 2)
	def(&c.MaxReplicas, c.Quorum+3)
	c.MaxReplicas = max(c.MaxReplicas, c.Quorum)
	def(&c.EstablishAfter, 3)
	def(&c.TrustAfter, 20)
	c.TrustAfter = max(c.TrustAfter, c.EstablishAfter)
	if c.SpotCheck == 0 {
		c.SpotCheck = 0.05
	}
	if c.AuditRate == 0 {
		c.AuditRate = 0.02
	}
	if c.RingerRate == 0 {
		c.RingerRate = 0.1
	}
	if c.Auditors == 0 {
		c.Auditors = 1
	}
	defDur(&c.BanFor, time.Hour)
	defDur(&c.AckTimeout, 5*time.Second)
	defDur(&c.Heartbeat, 5*time.Second)
	defDur(&c.MinLease, 30*time.Second)
	defDur(&c.MaxLease, 10*time.Minute)
	def(&c.IPv4Prefix, 24)
	def(&c.IPv6Prefix, 64)
	def(&c.PerNetworkConnections, 256)
	def(&c.PerIdentityConnections, 64)
	def(&c.MaxUnacked, 16)
	defDur(&c.FlushInterval, 10*time.Millisecond)
	defDur(&c.PendingDelay, time.Second)
	if c.ReplicaPatience == 0 {
		c.ReplicaPatience = 30 * time.Second
	}
	def(&c.SpillBytes, 64<<10)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = mrand.Float64
	}
}

// Effective returns c with the defaults New would apply.
func (c Config) Effective() Config {
	c.defaults()
	return c
}
