package client

import (
	"maps"
	"sync"
	"time"
)

// Stats gathers what a group of volunteers did, as they saw it. Safe for
// concurrent use.
type Stats struct {
	mu sync.Mutex
	s  Summary
}

// Summary is a snapshot of Stats.
type Summary struct {
	Connections int // welcomes received
	Identities  int // distinct identities that got a welcome
	Renewed     int // identities thrown away (caught, banned or refused)
	Refused     int // connections closed with 1013 (try again later)
	DialErrors  int
	Fatals      int
	// FatalReasons are the first few distinct fatal reasons.
	FatalReasons []string

	Leases int // leases received
	// LeasedAgain counts leases of a chunk (payload digest) the identity
	// had been leased before: the server gave a hoarder its chunk back.
	LeasedAgain int
	Acks        int
	Progress    int // progress messages sent
	Hoarded     int // leases held without ever answering
	Cancels     int
	Results     int // results sent
	Errors      int // error messages sent
	Lies        int // results that were forged, and injected errors
	// LiedOn counts lies by ChunkKey of the task, so that a harness can
	// tell which chunk of which record each lie was about.
	LiedOn map[string]int
	// ClaimedCPUMS sums the cpu_ms of every result sent.
	ClaimedCPUMS float64

	Verified      int
	Rejected      int
	Ignored       int
	OtherVerdicts int

	// Credit is the largest credit the server reported to each identity
	// (welcome and verified verdicts), in CPU seconds.
	Credit map[string]float64
	// TotalVerified is the largest total_verified reported to each identity.
	TotalVerified map[string]int64
	// Wall is how long each identity was connected (all its connections).
	Wall map[string]time.Duration

	PartialFrames int   // partial frames sent and left open
	PartialBytes  int64 // their bytes
}

func (s *Stats) add(f func(*Summary)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.s.LiedOn == nil {
		s.s.LiedOn = map[string]int{}
		s.s.Credit = map[string]float64{}
		s.s.TotalVerified = map[string]int64{}
		s.s.Wall = map[string]time.Duration{}
	}
	f(&s.s)
}

// Snapshot returns a copy of the counts so far.
func (s *Stats) Snapshot() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.s
	out.FatalReasons = append([]string(nil), s.s.FatalReasons...)
	out.LiedOn = maps.Clone(s.s.LiedOn)
	out.Credit = maps.Clone(s.s.Credit)
	out.TotalVerified = maps.Clone(s.s.TotalVerified)
	out.Wall = maps.Clone(s.s.Wall)
	return out
}

func (s *Summary) seen(id string, credit float64, verified int64) {
	s.Credit[id] = max(s.Credit[id], credit)
	s.TotalVerified[id] = max(s.TotalVerified[id], verified)
	if _, ok := s.Wall[id]; !ok {
		s.Wall[id] = 0
	}
}

func (s *Summary) wall(id string, d time.Duration) { s.Wall[id] += d }

func appendReason(rs []string, r string) []string {
	if len(rs) >= 5 {
		return rs
	}
	for _, x := range rs {
		if x == r {
			return rs
		}
	}
	return append(rs, r)
}

// MaxCredit is the largest credit any identity got, and that identity's
// connected wall time.
func (s Summary) MaxCredit() (credit float64, wall time.Duration) {
	for id, c := range s.Credit {
		if c > credit {
			credit, wall = c, s.Wall[id]
		}
	}
	return credit, wall
}
