//go:build !amd64.v3

package dmath

// fmaBuild: the compiler does not fuse FMA on this build (or it is not amd64).
const fmaBuild = false
