package server

import "syscall"

// releasePages drops a mapped upload's pages from the process (they stay
// in the page cache, and a later read faults them back in), so that the
// server's resident memory does not grow with the length of a file the
// readers stream through: without it, reading a 1 GB CSV twice keeps 1 GB
// of it resident.
func releasePages(b []byte) {
	if len(b) > 0 {
		syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}
