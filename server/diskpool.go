package server

import (
	"fmt"
	"sync"
	"time"
)

// diskPool is the disk every upload in progress shares: spooled request
// bodies and expanded archive members. Its capacity is serve
// --upload-disk (default 2 × --max-upload), so that the issue-11 bound "no
// input takes more than twice the upload limit of disk" holds for any
// number of parallel uploads, not per upload.
//
// Uploads are admitted, not merely metered: when parallel uploads each
// took their part of the pool as they arrived, all of them could run out
// together and all get 413. Now an upload that states its length
// (Content-Length; browsers and curl always do) reserves all of it before
// its body is read, or is refused at once with 503 and Retry-After, so
// those admitted always finish. An upload of unknown length grows as it
// is written; when the pool runs short, the oldest such upload may wait
// for the younger ones, which are refused (503) at their next write and
// give their disk back, so that at least the oldest finishes; any other
// is refused at once. Archive members expanded after the body is in take
// from what is free and get 413 naming the member when it is not.
type diskPool struct {
	mu      sync.Mutex
	changed *sync.Cond // free grew or a lease ended
	free    int64
	size    int64
	// growing are the leases of unknown length still receiving, oldest
	// first.
	growing []*diskLease
	// wait bounds how long the oldest growing lease waits for younger
	// ones to give back their disk.
	wait time.Duration
}

func newDiskPool(size int64) *diskPool {
	p := &diskPool{size: size, free: size, wait: 30 * time.Second}
	p.changed = sync.NewCond(&p.mu)
	return p
}

// uploadRetryAfter is what a refused upload is told to wait: uploads in
// progress free their disk when they finish, typically seconds.
const uploadRetryAfter = 10 * time.Second

// diskLease is what one upload holds of the pool; done gives it all back.
type diskLease struct {
	pool *diskPool
	held int64 // bytes taken from the pool, written or reserved
	// unused is the part of held reserved up front and not yet written.
	unused int64
	// growing: the lease has no stated length and is still receiving.
	growing bool
	// preempted: an older growing lease needs the disk this one holds;
	// its next take fails.
	preempted bool
	refused   *Error // the first refusal, for ingest to answer with
}

// admit opens a lease for an upload of length bytes (its Content-Length;
// 0 or less when unknown), reserving all of a known length at once.
func (p *diskPool) admit(length int64) (*diskLease, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := &diskLease{pool: p}
	if length <= 0 {
		l.growing = true
		p.growing = append(p.growing, l)
		return l, nil
	}
	if length > p.size {
		return nil, Errorf(ETooLarge, "the upload's %d MiB exceed the server's disk for uploads in progress (serve --upload-disk: %d MiB)", length>>20, p.size>>20)
	}
	if length > p.free {
		return nil, p.busy("the upload", length)
	}
	p.free -= length
	l.held, l.unused = length, length
	return l, nil
}

// busy is the refusal of an upload the pool cannot hold now (503).
func (p *diskPool) busy(name string, n int64) *Error {
	return &Error{Code: EUnavailable, RetryAfter: uploadRetryAfter, Message: p.sayFull(name, n) + ": try again in a moment"}
}

func (p *diskPool) sayFull(name string, n int64) string {
	return fmt.Sprintf("%s: the server's disk for uploads in progress (serve --upload-disk, default 2 × --max-upload: %s, shared by every upload) cannot take %s more now; the uploads now arriving or being expanded hold %s of it",
		name, sizeText(p.size), sizeText(n), sizeText(p.size-p.free))
}

// sizeText is n bytes for a person: "32 KiB", "1 MiB", "1.8 MiB".
func sizeText(n int64) string {
	switch {
	case n < 1<<20:
		return fmt.Sprintf("%d KiB", (n+1023)>>10)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// take reserves n more bytes for the file named name, or returns an error
// that says whose disk it is and names the file.
func (l *diskLease) take(name string, n int64) error {
	if l == nil || l.pool == nil {
		return nil
	}
	p := l.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.preempted {
		return l.refuse(p.busy(name, n))
	}
	if n <= l.unused {
		l.unused -= n
		return nil
	}
	need := n - l.unused
	if need <= p.free {
		p.free -= need
		l.held += need
		l.unused = 0
		return nil
	}
	if !l.growing {
		return l.refuse(&Error{Code: ETooLarge, Message: p.sayFull(name, need) + ": try again when they have finished"})
	}
	if len(p.growing) == 0 || p.growing[0] != l || !p.preemptYounger() {
		return l.refuse(p.busy(name, need))
	}
	// The oldest growing upload: the younger ones were told to stop and
	// give back what they hold; wait for it, within p.wait.
	timer := time.AfterFunc(p.wait, func() {
		p.mu.Lock()
		l.preempted = true // the deadline passed: give up
		p.changed.Broadcast()
		p.mu.Unlock()
	})
	defer timer.Stop()
	for need > p.free && !l.preempted {
		p.changed.Wait()
	}
	if need > p.free {
		return l.refuse(p.busy(name, need))
	}
	p.free -= need
	l.held += need
	l.unused = 0
	return nil
}

// preemptYounger marks every growing lease but the oldest that holds disk
// as preempted, and reports whether there was one.
func (p *diskPool) preemptYounger() bool {
	any := false
	for _, y := range p.growing[1:] {
		if y.held > 0 {
			y.preempted, any = true, true
		}
	}
	return any
}

func (l *diskLease) refuse(e *Error) *Error {
	if l.refused == nil {
		l.refused = e
	}
	return e
}

// received ends the upload's body: the unused part of its reservation
// goes back to the pool, and a lease of unknown length stops growing (its
// archive members, expanded next, take from what is free like any other).
func (l *diskLease) received() {
	if l == nil || l.pool == nil {
		return
	}
	p := l.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free += l.unused
	l.held -= l.unused
	l.unused = 0
	p.stopGrowing(l)
	p.changed.Broadcast()
}

func (p *diskPool) stopGrowing(l *diskLease) {
	if !l.growing {
		return
	}
	l.growing = false
	for i, g := range p.growing {
		if g == l {
			p.growing = append(p.growing[:i], p.growing[i+1:]...)
			return
		}
	}
}

// refusal is the first take the pool refused, or nil.
func (l *diskLease) refusal() error {
	if l == nil || l.pool == nil {
		return nil
	}
	l.pool.mu.Lock()
	defer l.pool.mu.Unlock()
	if l.refused != nil {
		return l.refused
	}
	return nil
}

// done gives back everything the lease holds; the caller has removed the
// files by then. It may be called more than once.
func (l *diskLease) done() {
	if l == nil || l.pool == nil {
		return
	}
	p := l.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free += l.held
	l.held, l.unused = 0, 0
	p.stopGrowing(l)
	p.changed.Broadcast()
}

// leaseWriter counts what it writes against a lease before the write
// reaches the disk.
type leaseWriter struct {
	w     interface{ Write([]byte) (int, error) }
	lease *diskLease
	name  string
}

func (lw leaseWriter) Write(p []byte) (int, error) {
	if err := lw.lease.take(lw.name, int64(len(p))); err != nil {
		return 0, err
	}
	return lw.w.Write(p)
}
