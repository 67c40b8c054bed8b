package server

import (
	"sync/atomic"
)

// diskPool is the disk every upload in progress shares: spooled request
// bodies and expanded archive members. Its capacity is serve
// --upload-disk (default 2 × --max-upload), so that the issue-11 bound "no input takes more than twice the upload
// limit of disk" holds for any number of parallel uploads, not per upload
// (which let N parallel uploads use N times as much). Bytes are taken as
// they are written and given back when the upload's files are removed; a
// write that finds the pool empty fails at once, naming the file, instead
// of waiting for disk another upload holds.
type diskPool struct {
	free atomic.Int64
	size int64
}

func newDiskPool(size int64) *diskPool {
	p := &diskPool{size: size}
	p.free.Store(size)
	return p
}

// take reserves n bytes, or reports false and reserves nothing.
func (p *diskPool) take(n int64) bool {
	for {
		f := p.free.Load()
		if n > f {
			return false
		}
		if p.free.CompareAndSwap(f, f-n) {
			return true
		}
	}
}

// diskLease is what one upload holds of the pool; done gives it all back.
type diskLease struct {
	pool    *diskPool
	held    atomic.Int64
	refused atomic.Pointer[Error] // the first refusal, for ingest to answer with
}

func (p *diskPool) lease() *diskLease { return &diskLease{pool: p} }

// take reserves n more bytes for the file named name, or returns an error
// that says whose disk it is and names the file.
func (l *diskLease) take(name string, n int64) error {
	if l == nil || l.pool == nil {
		return nil
	}
	if !l.pool.take(n) {
		e := Errorf(ETooLarge, "%s: the server's disk for uploads in progress (serve --upload-disk, default 2 × --max-upload: %d MiB, shared by every upload) is full; the uploads now arriving or being expanded hold %d MiB of it: try again when they have finished",
			name, l.pool.size>>20, (l.pool.size-l.pool.free.Load())>>20)
		l.refused.CompareAndSwap(nil, e)
		return e
	}
	l.held.Add(n)
	return nil
}

// refusal is the first take the pool refused, or nil.
func (l *diskLease) refusal() error {
	if l == nil {
		return nil
	}
	if e := l.refused.Load(); e != nil {
		return e
	}
	return nil
}

// done gives back everything the lease holds; the caller has removed the
// files by then. It may be called more than once.
func (l *diskLease) done() {
	if l == nil || l.pool == nil {
		return
	}
	l.pool.free.Add(l.held.Swap(0))
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
