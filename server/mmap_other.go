//go:build !unix

package server

import "os"

// mapFile reads a spooled upload into memory where mmap is not available.
func mapFile(path string) (data []byte, unmap func(), err error) {
	b, err := os.ReadFile(path)
	return b, func() {}, err
}
